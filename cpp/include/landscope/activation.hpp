#pragma once
// Elementwise activations with exact first and second derivatives.
#include <string>

#include "landscope/types.hpp"

namespace landscope {

enum class Activation { Identity, Tanh, Sigmoid, Softplus, Gelu, Silu, Relu };

/// Parses "identity", "tanh", "sigmoid", "softplus", "gelu", "silu", "relu";
/// throws std::invalid_argument naming the valid choices otherwise.
Activation activation_from_string(const std::string& name);

/// out = σ(z), elementwise. `out` is resized.
void activate(Activation a, const Matrix& z, Matrix& out);
/// out = σ(z), d1 = σ'(z) and, when d2 is not null, d2 = σ''(z), in one pass over z.
/// ReLU: σ'(0) = 0, σ'' = 0.
void activate_all(Activation a, const Matrix& z, Matrix& out, Matrix& d1, Matrix* d2);
/// The same on raw memory: out[i] = σ(z[i]), d1[i] = σ'(z[i]), d2[i] = σ''(z[i]) for i < len;
/// any output may be null.
void activate_all(Activation a, const double* z, Index len, double* out, double* d1, double* d2);

}  // namespace landscope
