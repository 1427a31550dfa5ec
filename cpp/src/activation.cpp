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
// x + x³ P(x²)/Q(x²) for |x| < 0.625 (tanh_small), and sign(x)(1 − u)/(1 + u) with
// u = exp(−2|x|) beyond.
template <typename A>
Array tanh_small(const A& x) {
  const Array z = x * x;
  const Array p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
                  - 1.61468768441708447952e3;
  const Array q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z
                  + 4.84406305325125486048e3;
  return x + x * z * p / q;
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

namespace {

/// One block: y = σ(x), g1 = σ'(x), g2 = σ''(x); any output may be null.
void kernel(Activation a, const Seg& x, double* y, double* g1, double* g2) {
  const Index len = x.size();
  switch (a) {
    case Activation::Identity:
      if (y) OutSeg(y, len) = x;
      if (g1) OutSeg(g1, len).setOnes();
      if (g2) OutSeg(g2, len).setZero();
      return;
    case Activation::Tanh: {
      // σ' = sech²x = 4u/(1+u)², accurate for every x; σ'' = −2 tanh(x) σ'.
      const Array u = tanh_u(x);
      const Array r = 1.0 / (1.0 + u);
      Array t;
      if (y || g2) t = (x.abs() < 0.625).select(tanh_small(x), x.sign() * (1.0 - u) * r);
      if (y) OutSeg(y, len) = t;
      if (g1 || g2) {
        const Array s1 = 4.0 * u * r * r;
        if (g1) OutSeg(g1, len) = s1;
        if (g2) OutSeg(g2, len) = -2.0 * t * s1;
      }
      return;
    }
    case Activation::Sigmoid:
    case Activation::Silu: {
      // s = sigmoid(x) and sn = 1 − s = sigmoid(−x), each without cancellation.
      const Array s = sigmoid_of(x);
      const Array sn = 1.0 / (1.0 + x.exp());
      if (a == Activation::Sigmoid) {
        if (y) OutSeg(y, len) = s;
        if (g1) OutSeg(g1, len) = s * sn;
        if (g2) OutSeg(g2, len) = s * sn * (sn - s);
      } else {  // silu: x s, σ' = s(1 + x sn), σ'' = s sn (2 + x (sn − s))
        if (y) OutSeg(y, len) = x * s;
        if (g1) OutSeg(g1, len) = s * (1.0 + x * sn);
        if (g2) OutSeg(g2, len) = s * sn * (2.0 + x * (sn - s));
      }
      return;
    }
    case Activation::Softplus: {
      // σ = max(x, 0) + log1p(e^{−|x|}), σ' = sigmoid(x), σ'' = sigmoid(x) sigmoid(−x).
      if (y)
        for (Index i = 0; i < len; ++i) y[i] = std::max(x[i], 0.0) + std::log1p(std::exp(-std::abs(x[i])));
      if (g1 || g2) {
        const Array s = sigmoid_of(x);
        if (g1) OutSeg(g1, len) = s;
        if (g2) OutSeg(g2, len) = s / (1.0 + x.exp());
      }
      return;
    }
    case Activation::Gelu:
      // σ = x Φ(x), σ' = Φ(x) + x φ(x), σ'' = φ(x)(2 − x²).
      for (Index i = 0; i < len; ++i) {
        const double v = x[i];
        const double Phi = 0.5 * std::erfc(-v * kInvSqrt2);
        if (y) y[i] = v * Phi;
        if (g1 || g2) {
          const double phi = kInvSqrt2Pi * std::exp(-0.5 * v * v);
          if (g1) g1[i] = Phi + v * phi;
          if (g2) g2[i] = phi * (2.0 - v * v);
        }
      }
      return;
    case Activation::Relu:
      if (y) OutSeg(y, len) = x.max(0.0);
      if (g1) OutSeg(g1, len) = (x > 0.0).cast<double>();
      if (g2) OutSeg(g2, len).setZero();
      return;
  }
}

}  // namespace

void activate(Activation a, const Matrix& z, Matrix& out) {
  out.resize(z.rows(), z.cols());
  blocks(z.size(), [&](Index o, Index len) {
    kernel(a, Seg(z.data() + o, len), out.data() + o, nullptr, nullptr);
  });
}

void activate_all(Activation a, const Matrix& z, Matrix& out, Matrix& d1, Matrix* d2) {
  out.resize(z.rows(), z.cols());
  d1.resize(z.rows(), z.cols());
  if (d2) d2->resize(z.rows(), z.cols());
  blocks(z.size(), [&](Index o, Index len) {
    kernel(a, Seg(z.data() + o, len), out.data() + o, d1.data() + o, d2 ? d2->data() + o : nullptr);
  });
}

}  // namespace landscope
