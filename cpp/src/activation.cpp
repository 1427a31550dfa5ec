#include "landscope/activation.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace landscope {
namespace {

// Elementwise work runs over blocks of at most kBlock values (tanh, sigmoid, silu and softplus
// as packet kernels below, the others as Eigen expressions or scalar loops).
constexpr Index kBlock = 256;
using Seg = Eigen::Map<const Eigen::ArrayXd>;
using OutSeg = Eigen::Map<Eigen::ArrayXd>;

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

/// Calls f(offset, length) over consecutive blocks of [0, size).
template <typename F>
void blocks(Index size, F&& f) {
  for (Index o = 0; o < size; o += kBlock) f(o, std::min(kBlock, size - o));
}

namespace ei = Eigen::internal;
using Packet = ei::packet_traits<double>::type;
constexpr Index kLanes = ei::packet_traits<double>::size;

/// 2^k for integral k in [−1022, 0], exactly.
EIGEN_STRONG_INLINE Packet exp2_int(const Packet& k) {
#if defined(EIGEN_VECTORIZE_AVX2) && !defined(EIGEN_VECTORIZE_AVX512)
  // A NaN k (from a NaN input) converts to INT_MIN: some finite s, and sp = s·NaN stays NaN.
  const __m256i e = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(k)), _mm256_set1_epi64x(1023));
  return _mm256_castsi256_pd(_mm256_slli_epi64(e, 52));
#else
  // pldexp may cast k to int (undefined for NaN): a NaN k becomes 0 (sp = s·NaN is NaN anyway).
  return ei::pldexp(ei::pset1<Packet>(1.0), ei::pselect(ei::pcmp_eq(k, k), k, ei::pzero(k)));
#endif
}

/// For a in [−708, 0]: s = 2^k and sp = 2^k expm1(r), where a = k ln 2 + r with |r| ≤ ln2/2
/// (Cody–Waite) and expm1(r) is its Taylor polynomial to r¹³ (truncation < 1e-17 relative).
/// Then e^a = sp + s and e^a − 1 = sp + (s − 1), each accurate to about 1 ulp; no division.
EIGEN_STRONG_INLINE void exp_parts(const Packet& a, Packet& s, Packet& sp) {
  const Packet k = ei::pfloor(ei::pmadd(a, ei::pset1<Packet>(1.4426950408889634074), ei::pset1<Packet>(0.5)));
  Packet r = ei::pmadd(k, ei::pset1<Packet>(-6.93145751953125e-1), a);  // ln 2 in two parts: k·hi is exact
  r = ei::pmadd(k, ei::pset1<Packet>(-1.42860682030941723212e-6), r);
  static constexpr double c[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                 1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,       1.0 / 720.0,
                                 1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,          0.5};
  Packet q = ei::pset1<Packet>(c[0]);
  for (int i = 1; i < 12; ++i) q = ei::pmadd(q, r, ei::pset1<Packet>(c[i]));
  const Packet p = ei::pmadd(ei::pmul(q, r), r, r);  // expm1(r) = r + r²(½ + r/6 + …)
  s = exp2_int(k);
  sp = ei::pmul(s, p);
}

/// tanh and its derivatives on one packet: with a = −2|x| and u = e^a, tanh|x| = −expm1(a)/(1 + u),
/// σ' = sech²x = 4u/(1 + u)² and σ'' = −2 tanh(x) σ'. One division; measured within 3.1 ulps of
/// tanh, 4.3 of sech² and 6.8 of σ'' over |x| ≤ 350 (tests/test_activation.py). Beyond 354, |x| is
/// clamped: tanh is ±1 and sech² about 1.3e-307.
EIGEN_STRONG_INLINE void tanh_packet(const Packet& x, double* y, double* g1, double* g2) {
  const Packet one = ei::pset1<Packet>(1.0);
  const Packet a = ei::pmul(ei::pset1<Packet>(-2.0), ei::pmin<Eigen::PropagateNaN>(ei::pabs(x), ei::pset1<Packet>(354.0)));
  Packet s, sp;
  exp_parts(a, s, sp);
  const Packet u = ei::padd(sp, s);
  const Packet r = ei::pdiv(one, ei::padd(one, u));
  // tanh|x| = (1 − s − sp) r, which is +0 (not −0) at x = 0; then the sign of x.
  const Packet t = ei::por(ei::pmul(ei::psub(ei::psub(one, s), sp), r), ei::pand(x, ei::pset1<Packet>(-0.0)));
  if (y) ei::pstoreu(y, t);
  if (g1 || g2) {
    const Packet s1 = ei::pmul(ei::pmul(ei::pset1<Packet>(4.0), u), ei::pmul(r, r));
    if (g1) ei::pstoreu(g1, s1);
    if (g2) ei::pstoreu(g2, ei::pmul(ei::pmul(ei::pset1<Packet>(-2.0), t), s1));
  }
}

/// sigmoid(x) and sigmoid(−x) on one packet, each without cancellation: with u = e^{−|x|},
/// sigmoid(|x|) = 1/(1 + u) and sigmoid(−|x|) = u/(1 + u). One division; below e^{−708}
/// (|x| > 708) sigmoid(−|x|) is flushed to 0.
EIGEN_STRONG_INLINE void sigmoid_packet(const Packet& x, Packet& s, Packet& sn, Packet* e = nullptr) {
  const Packet one = ei::pset1<Packet>(1.0);
  const Packet ax = ei::pabs(x);
  Packet p2k, sp;
  exp_parts(ei::pnegate(ei::pmin<Eigen::PropagateNaN>(ax, ei::pset1<Packet>(708.0))), p2k, sp);
  const Packet u = ei::padd(sp, p2k);
  if (e) *e = u;
  const Packet big = ei::pdiv(one, ei::padd(one, u));
  const Packet small = ei::pselect(ei::pcmp_lt(ei::pset1<Packet>(708.0), ax), ei::pzero(x), ei::pmul(u, big));
  const Packet positive = ei::pcmp_le(ei::pzero(x), x);
  s = ei::pselect(positive, big, small);
  sn = ei::pselect(positive, small, big);
}

/// sigmoid (silu: x sigmoid(x)) and its derivatives on one packet.
EIGEN_STRONG_INLINE void sigmoid_like_packet(bool silu, const Packet& x, double* y, double* g1, double* g2) {
  Packet s, sn;
  sigmoid_packet(x, s, sn);
  const Packet ssn = ei::pmul(s, sn), d = ei::psub(sn, s);
  if (!silu) {  // σ' = s sn, σ'' = s sn (sn − s)
    if (y) ei::pstoreu(y, s);
    if (g1) ei::pstoreu(g1, ssn);
    if (g2) ei::pstoreu(g2, ei::pmul(ssn, d));
    return;
  }
  // silu: x s, σ' = s (1 + x sn), σ'' = s sn (2 + x (sn − s))
  if (y) ei::pstoreu(y, ei::pmul(x, s));
  if (g1) ei::pstoreu(g1, ei::pmul(s, ei::pmadd(x, sn, ei::pset1<Packet>(1.0))));
  if (g2) ei::pstoreu(g2, ei::pmul(ssn, ei::pmadd(x, d, ei::pset1<Packet>(2.0))));
}

/// softplus σ = max(x, 0) + log1p(e^{−|x|}), σ' = sigmoid(x), σ'' = sigmoid(x) sigmoid(−x) on one
/// packet. log1p(u) = log(v) u / (v − 1) with v = 1 + u (Kahan), or u where v rounds to 1; below
/// e^{−708} the log1p term is flushed to 0.
EIGEN_STRONG_INLINE void softplus_packet(const Packet& x, double* y, double* g1, double* g2) {
  Packet s, sn, u;
  sigmoid_packet(x, s, sn, &u);
  if (y) {
    const Packet one = ei::pset1<Packet>(1.0);
    const Packet v = ei::padd(one, u);
    const Packet kahan = ei::pdiv(ei::pmul(ei::plog(v), u), ei::psub(v, one));
    Packet lp = ei::pselect(ei::pcmp_eq(v, one), u, kahan);
    lp = ei::pselect(ei::pcmp_lt(ei::pset1<Packet>(708.0), ei::pabs(x)), ei::pzero(x), lp);
    ei::pstoreu(y, ei::padd(ei::pmax(x, ei::pzero(x)), lp));
  }
  if (g1) ei::pstoreu(g1, s);
  if (g2) ei::pstoreu(g2, ei::pmul(s, sn));
}

/// f(packet, y, g1, g2) over [0, len): whole packets in place, the tail through a padded copy.
template <typename F>
void packets(const double* x, Index len, double* y, double* g1, double* g2, F&& f) {
  Index i = 0;
  for (; i + kLanes <= len; i += kLanes)
    f(ei::ploadu<Packet>(x + i), y ? y + i : nullptr, g1 ? g1 + i : nullptr, g2 ? g2 + i : nullptr);
  if (i == len) return;
  alignas(64) double in[kLanes] = {}, o0[kLanes], o1[kLanes], o2[kLanes];
  const Index rest = len - i;
  std::copy(x + i, x + len, in);
  f(ei::ploadu<Packet>(in), o0, o1, o2);
  if (y) std::copy(o0, o0 + rest, y + i);
  if (g1) std::copy(o1, o1 + rest, g1 + i);
  if (g2) std::copy(o2, o2 + rest, g2 + i);
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
    case Activation::Tanh:
      packets(x.data(), len, y, g1, g2, tanh_packet);
      return;
    case Activation::Sigmoid:
    case Activation::Silu: {
      const bool silu = a == Activation::Silu;
      packets(x.data(), len, y, g1, g2, [silu](const Packet& v, double* o0, double* o1, double* o2) {
        sigmoid_like_packet(silu, v, o0, o1, o2);
      });
      return;
    }
    case Activation::Softplus:
      packets(x.data(), len, y, g1, g2, softplus_packet);
      return;
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

void activate_all(Activation a, const double* z, Index len, double* out, double* d1, double* d2) {
  blocks(len, [&](Index o, Index n) {
    kernel(a, Seg(z + o, n), out ? out + o : nullptr, d1 ? d1 + o : nullptr, d2 ? d2 + o : nullptr);
  });
}

void activate_all(Activation a, const Matrix& z, Matrix& out, Matrix& d1, Matrix* d2) {
  out.resize(z.rows(), z.cols());
  d1.resize(z.rows(), z.cols());
  if (d2) d2->resize(z.rows(), z.cols());
  activate_all(a, z.data(), z.size(), out.data(), d1.data(), d2 ? d2->data() : nullptr);
}

}  // namespace landscope
