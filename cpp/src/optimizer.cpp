// Optimizers and the minibatch sampler.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "check.hpp"
#include "landscope/optimizer.hpp"
#include "rng.hpp"

namespace landscope {

namespace {

using detail::num;
using detail::require;

/// A seed for (seed, counter) streams.
std::uint64_t mix(std::uint64_t seed, std::uint64_t counter) {
  detail::Rng r(seed ^ (counter * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL));
  return r.next();
}

}  // namespace

// -------------------------------------------------------------------------------- optimizers
void Optimizer::set_state(const OptimizerState& s, Index) {
  require(s.empty(), "state: " + name() + " keeps no state, got " + std::to_string(s.size()) + " arrays");
}

const Vector& Optimizer::find(const OptimizerState& s, const std::string& key, Index size) {
  for (const auto& [k, v] : s)
    if (k == key) {
      require(v.size() == size, "state: '" + key + "' has length " + std::to_string(v.size()) + ", expected " +
                                    std::to_string(size));
      return v;
    }
  throw std::invalid_argument("state: missing '" + key + "'");
}

void Optimizer::check() const {
  require(std::isfinite(lr) && lr >= 0, "lr: expected a finite rate >= 0, got " + num(lr));
  require(batch_size >= 0, "batch_size: expected >= 1 (0: full batch), got " + std::to_string(batch_size));
}

namespace {
void require_fraction(double v, const char* name) {
  require(std::isfinite(v) && v >= 0 && v < 1, std::string(name) + ": expected a value in [0, 1), got " + num(v));
}
}  // namespace

void Momentum::check() const {
  Optimizer::check();
  require_fraction(beta, "beta");
}

void Adam::check() const {
  Optimizer::check();
  require_fraction(beta1, "beta1");
  require_fraction(beta2, "beta2");
  require(std::isfinite(eps) && eps > 0, "eps: expected a finite value > 0, got " + num(eps));
  require(std::isfinite(weight_decay) && weight_decay >= 0,
          "weight_decay: expected a finite value >= 0, got " + num(weight_decay));
}

void PerturbedGD::check() const {
  Optimizer::check();
  require(batch_size == 0, "batch_size: PerturbedGD is full-batch");
  require(std::isfinite(radius) && radius > 0, "radius: expected a finite value > 0, got " + num(radius));
  require(std::isfinite(threshold) && threshold >= 0, "threshold: expected a finite value >= 0, got " + num(threshold));
  require(interval >= 1, "interval: expected >= 1 steps, got " + std::to_string(interval));
}

void SAM::check() const {
  Optimizer::check();
  require(std::isfinite(rho) && rho >= 0, "rho: expected a finite value >= 0, got " + num(rho));
}

void GD::step(Vector& w, Vector& g, double rate, Step, GradientOracle&) { w.noalias() -= rate * g; }

void Momentum::step(Vector& w, Vector& g, double rate, Step, GradientOracle&) {
  m_buf = beta * m_buf + g;
  if (nesterov)
    w.noalias() -= rate * (g + beta * m_buf);
  else
    w.noalias() -= rate * m_buf;
}

void Adam::reset(Index P) {
  m_m = Vector::Zero(P);
  m_v = Vector::Zero(P);
  m_count = 0;
}

void Adam::step(Vector& w, Vector& g, double rate, Step, GradientOracle&) {
  if (weight_decay != 0.0) {
    if (decoupled)
      w *= 1.0 - rate * weight_decay;
    else
      g.noalias() += weight_decay * w;
  }
  m_count += 1;
  m_m = beta1 * m_m + (1.0 - beta1) * g;
  m_v = beta2 * m_v + (1.0 - beta2) * g.cwiseAbs2();
  const double c1 = 1.0 - std::pow(beta1, m_count), c2 = 1.0 - std::pow(beta2, m_count);
  w.array() -= rate * (m_m.array() / c1) / ((m_v.array() / c2).sqrt() + eps);
}

OptimizerState Adam::state() const { return {{"m", m_m}, {"v", m_v}, {"count", Vector::Constant(1, m_count)}}; }

void Adam::set_state(const OptimizerState& s, Index P) {
  m_m = find(s, "m", P);
  m_v = find(s, "v", P);
  m_count = find(s, "count", 1)[0];
}

void PerturbedGD::reset(Index) { m_last = -1; }

Vector PerturbedGD::noise(Step t, Index P) const {
  if (P < 1) throw std::invalid_argument("P: expected a parameter count >= 1, got " + std::to_string(P));
  detail::Rng rng(mix(seed, static_cast<std::uint64_t>(t)));
  Vector xi(P);
  for (Index i = 0; i < P; ++i) xi[i] = rng.normal();
  const double norm = xi.norm();
  const double r = radius * std::pow(rng.uniform(), 1.0 / static_cast<double>(P));
  return xi * (r / norm);
}

void PerturbedGD::step(Vector& w, Vector& g, double rate, Step t, GradientOracle& oracle) {
  const bool quiet = m_last < 0 || static_cast<double>(t) - m_last >= static_cast<double>(interval);
  if (g.norm() <= threshold && quiet) {
    w += noise(t, w.size());
    oracle.evaluate(w, g);
    m_last = static_cast<double>(t);
  }
  w.noalias() -= rate * g;
}

OptimizerState PerturbedGD::state() const { return {{"last", Vector::Constant(1, m_last)}}; }

void PerturbedGD::set_state(const OptimizerState& s, Index) { m_last = find(s, "last", 1)[0]; }

void SAM::step(Vector& w, Vector& g, double rate, Step, GradientOracle& oracle) {
  const double norm = g.norm();
  m_probe = w;
  if (norm > 0) m_probe.noalias() += (rho / norm) * g;
  oracle.evaluate(m_probe, g);
  w.noalias() -= rate * g;
}

MinibatchSampler::MinibatchSampler(Index n, Index b, std::uint64_t seed) : m_n(n), m_b(b), m_seed(seed) {
  require(n >= 1, "n: expected >= 1 samples, got " + std::to_string(n));
  require(b >= 1 && b <= n, "batch_size: expected 1 <= batch_size <= n = " + std::to_string(n) + ", got " +
                                std::to_string(b));
}

void MinibatchSampler::batch(Step t, IndexVector& out) {
  require(t >= 0, "step: expected >= 0, got " + std::to_string(t));
  const Step per_epoch = (m_n + m_b - 1) / m_b;
  const Step epoch = t / per_epoch, j = t % per_epoch;
  if (epoch != m_epoch) {
    detail::Rng rng(mix(m_seed, static_cast<std::uint64_t>(epoch) ^ 0x5851F42D4C957F2DULL));
    m_perm.resize(static_cast<std::size_t>(m_n));
    std::iota(m_perm.begin(), m_perm.end(), std::int64_t(0));
    for (Index i = m_n - 1; i > 0; --i) {  // Fisher–Yates
      const auto r = static_cast<Index>(rng.next() % static_cast<std::uint64_t>(i + 1));
      std::swap(m_perm[static_cast<std::size_t>(i)], m_perm[static_cast<std::size_t>(r)]);
    }
    m_epoch = epoch;
  }
  const Index lo = j * m_b, hi = std::min(m_n, lo + m_b);
  out.resize(hi - lo);
  for (Index i = lo; i < hi; ++i) out[i - lo] = m_perm[static_cast<std::size_t>(i)];
}

IndexVector minibatch(Index n, Index b, std::uint64_t seed, Step t) {
  MinibatchSampler sampler(n, b, seed);
  IndexVector out;
  sampler.batch(t, out);
  return out;
}

}  // namespace landscope
