#include "landscope/activation.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace landscope {
namespace {

// Elementwise work runs over blocks of at most kBlock values whose temporaries live on the
// stack: no heap traffic, and Eigen vectorizes every expression.
constexpr Index kBlock = 256;
using Array = Eigen::Array<double, Eigen::Dynamic, 1, Eigen::ColMajor, kBlock, 1>;
using Seg = Eigen::Map<const Eigen::ArrayXd>;
using OutSeg = Eigen::Map<Eigen::ArrayXd>;

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

/// Calls f(offset, length) over consecutive blocks of [0, size).
template <typename F>
void blocks(Index size, F&& f) {
  for (Index o = 0; o < size; o += kBlock) f(o, std::min(kBlock, size - o));
}

// u = exp(−2|x|), clamped so that it never underflows into a 0/0 later.
template <typename A>
Array tanh_u(const A& x) {
  return (-2.0 * x.abs().min(40.0)).exp();
}

// tanh(x) to double precision with vectorizable arithmetic: a rational approximation
// x + x³ P(x²)/Q(x²) for |x| < 0.625, and (1 − u)/(1 + u) with u = exp(−2|x|) beyond.
template <typename A>
Array tanh_of(const A& x, const Array& u) {
  const Array z = x * x;
  const Array p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
                  - 1.61468768441708447952e3;
  const Array q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z
                  + 4.84406305325125486048e3;
  const Array small = x + x * z * p / q;
  const Array large = x.sign() * (1.0 - u) / (1.0 + u);
  return (x.abs() < 0.625).select(small, large);
}

template <typename A>
Array sigmoid_of(const A& x) {
  return 1.0 / (1.0 + (-x).exp());
}

}  // namespace

Activation activation_from_string(const std::string& name) {
  if (name == "identity" || name == "linear") return Activation::Identity;
  if (name == "tanh") return Activation::Tanh;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "softplus") return Activation::Softplus;
  if (name == "gelu") return Activation::Gelu;
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "relu") return Activation::Relu;
  throw std::invalid_argument("activation: expected one of 'identity', 'tanh', 'sigmoid', "
                              "'softplus', 'gelu', 'silu', 'relu'; got '" + name + "'");
}

std::string to_string(Activation a) {
  switch (a) {
    case Activation::Identity: return "identity";
    case Activation::Tanh: return "tanh";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Softplus: return "softplus";
    case Activation::Gelu: return "gelu";
    case Activation::Silu: return "silu";
    case Activation::Relu: return "relu";
  }
  return "unknown";
}

void activate(Activation a, const Matrix& z, Matrix& out) {
  out.resize(z.rows(), z.cols());
  const double* in = z.data();
  double* res = out.data();
  blocks(z.size(), [&](Index o, Index len) {
    const Seg x(in + o, len);
    OutSeg y(res + o, len);
    switch (a) {
      case Activation::Identity: y = x; break;
      case Activation::Tanh: y = tanh_of(x, tanh_u(x)); break;
      case Activation::Sigmoid: y = sigmoid_of(x); break;
      case Activation::Softplus:
        for (Index i = 0; i < len; ++i) y[i] = std::max(x[i], 0.0) + std::log1p(std::exp(-std::abs(x[i])));
        break;
      case Activation::Gelu:
        for (Index i = 0; i < len; ++i) y[i] = x[i] * 0.5 * std::erfc(-x[i] * kInvSqrt2);
        break;
      case Activation::Silu: y = x * sigmoid_of(x); break;
      case Activation::Relu: y = x.max(0.0); break;
    }
  });
}

void activate_derivatives(Activation a, const Matrix& z, Matrix& d1, Matrix* d2) {
  d1.resize(z.rows(), z.cols());
  if (d2) d2->resize(z.rows(), z.cols());
  const double* in = z.data();
  blocks(z.size(), [&](Index o, Index len) {
    const Seg x(in + o, len);
    OutSeg g1(d1.data() + o, len);
    double* g2 = d2 ? d2->data() + o : nullptr;
    switch (a) {
      case Activation::Identity:
        g1.setOnes();
        if (g2) OutSeg(g2, len).setZero();
        break;
      case Activation::Tanh: {
        // σ' = sech²x = 4u/(1+u)², accurate for every x; σ'' = −2 tanh(x) σ'.
        const Array u = tanh_u(x);
        g1 = 4.0 * u / ((1.0 + u) * (1.0 + u));
        if (g2) OutSeg(g2, len) = -2.0 * tanh_of(x, u) * g1;
        break;
      }
      case Activation::Sigmoid:
      case Activation::Softplus: {
        // sigmoid: σ' = s(1−s), σ'' = σ'(1−2s); softplus: σ' = s, σ'' = s(1−s).
        // 1−s is evaluated as sigmoid(−x) so that no cancellation occurs for large x.
        const Array s = sigmoid_of(x);
        const Array sn = 1.0 / (1.0 + x.exp());
        if (a == Activation::Sigmoid) {
          g1 = s * sn;
          if (g2) OutSeg(g2, len) = s * sn * (sn - s);
        } else {
          g1 = s;
          if (g2) OutSeg(g2, len) = s * sn;
        }
        break;
      }
      case Activation::Gelu:
        for (Index i = 0; i < len; ++i) {
          const double v = x[i];
          const double phi = kInvSqrt2Pi * std::exp(-0.5 * v * v);
          g1[i] = 0.5 * std::erfc(-v * kInvSqrt2) + v * phi;
          if (g2) g2[i] = phi * (2.0 - v * v);
        }
        break;
      case Activation::Silu: {
        const Array s = sigmoid_of(x);
        const Array sn = 1.0 / (1.0 + x.exp());
        g1 = s * (1.0 + x * sn);
        if (g2) OutSeg(g2, len) = s * sn * (2.0 + x * (sn - s));
        break;
      }
      case Activation::Relu:
        g1 = (x > 0.0).cast<double>();
        if (g2) OutSeg(g2, len).setZero();
        break;
    }
  });
}

}  // namespace landscope
