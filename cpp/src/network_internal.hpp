#pragma once
// Intermediates shared by network.cpp and network_hessian.cpp.
#include <vector>

#include "landscope/network.hpp"

namespace landscope {

/// Scratch of the R-pass (forward tangents and their backward pass), kept apart from the
/// pass state so that a cached pass can serve several threads at once.
struct Network::RScratch {
  std::vector<Matrix> Rz, Rh, Rdh;
  Matrix Rdelta, RF;
};

/// One block of samples through the network. Layer j (0-based) maps h[j] -> z[j];
/// h[j+1] = σ(z[j]) (+ h[j]) for hidden layers. All matrices are (rows x width), column-major.
struct Network::Pass {
  Index rows = 0;
  std::vector<Matrix> h;      // h[0] = inputs, h[1..L] hidden outputs
  std::vector<Matrix> z;      // z[j], z.back() = F
  std::vector<Matrix> d1;     // σ'(z[j]) for hidden layers
  std::vector<Matrix> d2;     // σ''(z[j]) for hidden layers (HVP only)
  Matrix Y;                   // targets of the block (square loss)
  std::vector<std::int64_t> labels;  // labels of the block (cross-entropy)
  Matrix p;                   // softmax(F) (cross-entropy)
  Matrix g;                   // dℓ/dF, reduction included: the top of the backward pass
  std::vector<Matrix> delta;  // δ_j = ∂ℓ/∂z[j]
  std::vector<Matrix> dh;     // dh[j] = ∂ℓ/∂h[j], j >= 1
  RScratch r;                 // R-pass scratch for uncached use
};

namespace detail {
/// out = D · RF where D = ∂²ℓ/∂F² per sample (times `norm`); RF holds `tiles` stacked copies
/// of the block's rows (tile t = rows [t·n, (t+1)·n)).
void apply_loss_curvature(LossKind loss, const Matrix& p, const Matrix& RF, double norm,
                          Matrix& out);
/// R (tiles·n x m) ⊙= S (n x m), tile by tile.
void tile_mul(Matrix& R, const Matrix& S);
}  // namespace detail

}  // namespace landscope
