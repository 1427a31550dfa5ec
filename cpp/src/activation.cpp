#include "landscope/activation.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace landscope {
namespace {

// Elementwise work runs over blocks of at most kBlock values (tanh, sigmoid, silu, softplus and
// gelu as packet kernels below, identity and relu as Eigen expressions).
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

/// erfcx(z) = e^{z²} erfc(z) for z in [0, 27.5]: degree-17 Chebyshev interpolants in
/// u = (z − k)/(z + k) of erfcx on [0, 4] (k = 4) and of z erfcx on [4, 27.5] (k = 2), as
/// monomials in s = a u + b in [−1, 1], by Horner's rule with each lane's coefficients.
/// tests/erfcx_coefficients.py computes them (mpmath, 40 digits); interpolation error below
/// 1e-17.
EIGEN_STRONG_INLINE Packet erfcx_packet(const Packet& z) {
  static constexpr int kTerms = 18;
  static constexpr double lo[kTerms] = {  // erfcx on [0, 4], highest degree first
      -7.544507199517224e-13, 3.744507348432373e-12, 3.294529663745563e-11, -1.8105035001842094e-10,
      -1.1866256487632843e-09, 9.879211200408232e-09, 2.745975846660252e-08, -5.678730244171195e-07,
      1.4566599800812295e-06, 2.0713280577627643e-05, -0.0002648129191369046, 0.0017402399209411712,
      -0.008071598027092633, 0.02880585436774841, -0.08179648450710922, 0.18679878538547726,
      -0.3413688586994343, 0.3511346940289053};
  static constexpr double hi[kTerms] = {  // z erfcx on [4, 27.5]
      9.30670041858186e-16, 7.391043356491463e-15, -2.886504011945551e-14, -2.754631726855757e-13,
      9.795891320390024e-13, 9.495483786622186e-12, -4.484688576124834e-11, -3.29048572177139e-10,
      2.632364666424176e-09, 8.754384770342578e-09, -1.7501545938018868e-07, 3.679539000891228e-07,
      9.662038371935576e-06, -0.00012683231327895346, 0.0008768660149990133, -0.0038174892260166063,
      0.007023380661949685, 0.5598515119394081};
  // s = a u + b maps u in [−1, 0] (k = 4) and u in [1/3, 25.5/29.5] (k = 2) to [−1, 1].
  constexpr double u_lo2 = 1.0 / 3.0, u_hi2 = 25.5 / 29.5;
  const Packet one = ei::pset1<Packet>(1.0);
  const Packet upper = ei::pcmp_le(ei::pset1<Packet>(4.0), z);
  const Packet k = ei::pselect(upper, ei::pset1<Packet>(2.0), ei::pset1<Packet>(4.0));
  const Packet u = ei::pdiv(ei::psub(z, k), ei::padd(z, k));
  const Packet a = ei::pselect(upper, ei::pset1<Packet>(2.0 / (u_hi2 - u_lo2)), ei::pset1<Packet>(2.0));
  const Packet b = ei::pselect(upper, ei::pset1<Packet>(-(u_lo2 + u_hi2) / (u_hi2 - u_lo2)), one);
  const Packet s = ei::pmadd(a, u, b);
  Packet r;
  if (!ei::predux_any(upper)) {  // the usual case, |x| < 5.66 in every lane: one polynomial
    r = ei::pset1<Packet>(lo[0]);
    for (int i = 1; i < kTerms; ++i) r = ei::pmadd(r, s, ei::pset1<Packet>(lo[i]));
    return r;
  }
  r = ei::pselect(upper, ei::pset1<Packet>(hi[0]), ei::pset1<Packet>(lo[0]));
  for (int i = 1; i < kTerms; ++i)
    r = ei::pmadd(r, s, ei::pselect(upper, ei::pset1<Packet>(hi[i]), ei::pset1<Packet>(lo[i])));
  return ei::pdiv(r, ei::pselect(upper, z, one));
}

/// gelu σ = x Φ(x), σ' = Φ(x) + x φ(x), σ'' = φ(x)(2 − x²) on one packet. With z = |x|/√2,
/// erfc(z) = e^{−x²/2} erfcx(z), where x²/2 = h + l exactly (an FMA, or Dekker's product) and
/// e^{−x²/2} = e^{−h}(1 − l): no loss in the tail. Φ = erfc/2 for x < 0 and 1 − erfc/2 otherwise.
/// Below x = −37.6 (e^{−x²/2} < e^{−708}) Φ and φ are flushed to 0.
EIGEN_STRONG_INLINE void gelu_packet(const Packet& x, double* y, double* g1, double* g2) {
  const Packet half = ei::pset1<Packet>(0.5);
  const Packet p = ei::pmul(x, x);
#ifdef EIGEN_VECTORIZE_FMA
  const Packet e = ei::pmadd(x, x, ei::pnegate(p));  // x² − p, exactly
#else
  const Packet split = ei::pmul(ei::pset1<Packet>(134217729.0), x);  // 2^27 + 1
  const Packet xh = ei::psub(split, ei::psub(split, x)), xl = ei::psub(x, xh);
  const Packet e = ei::padd(ei::padd(ei::psub(ei::pmul(xh, xh), p), ei::pmul(ei::padd(xh, xh), xl)), ei::pmul(xl, xl));
#endif
  const Packet h = ei::pmul(half, p), l = ei::pmul(half, e);
  const Packet big = ei::pset1<Packet>(708.0);
  Packet s, sp;
  exp_parts(ei::pnegate(ei::pmin<Eigen::PropagateNaN>(h, big)), s, sp);
  Packet g = ei::pmul(ei::padd(sp, s), ei::psub(ei::pset1<Packet>(1.0), l));  // e^{−x²/2}
  g = ei::pselect(ei::pcmp_lt(big, h), ei::pzero(x), g);
  const Packet z = ei::pmin<Eigen::PropagateNaN>(ei::pmul(ei::pabs(x), ei::pset1<Packet>(kInvSqrt2)), ei::pset1<Packet>(27.5));
  const Packet tail = ei::pmul(ei::pmul(half, g), erfcx_packet(z));  // erfc(|x|/√2)/2
  const Packet Phi = ei::pselect(ei::pcmp_le(ei::pzero(x), x), ei::psub(ei::pset1<Packet>(1.0), tail), tail);
  if (y) ei::pstoreu(y, ei::pmul(x, Phi));
  if (g1 || g2) {
    const Packet phi = ei::pmul(ei::pset1<Packet>(kInvSqrt2Pi), g);
    if (g1) ei::pstoreu(g1, ei::pmadd(x, phi, Phi));
    if (g2) ei::pstoreu(g2, ei::pmul(phi, ei::psub(ei::pset1<Packet>(2.0), p)));
  }
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
      packets(x.data(), len, y, g1, g2, gelu_packet);
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
