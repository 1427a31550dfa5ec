#pragma once
// Optimizers: small state machines over w, fed the (clipped) gradient of the step's samples,
// and the minibatch sampler that picks those samples.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "landscope/types.hpp"

namespace landscope {

/// The loss and gradient on the current step's samples (a minibatch or all data), with the
/// step's gradient clipping applied. Optimizers that need more than the gradient at w_t (SAM,
/// perturbed GD) call it again.
class GradientOracle {
 public:
  virtual ~GradientOracle() = default;
  virtual double evaluate(const Vector& w, Vector& grad) = 0;
};

/// Named state arrays (scalars are length-1 vectors): enough to continue bit-identically.
using OptimizerState = std::vector<std::pair<std::string, Vector>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  /// Fresh state for P parameters.
  virtual void reset(Index P) { (void)P; }
  /// One update of w from the (clipped) gradient g at w_t on the step's samples, with the
  /// scheduled rate lr; t is the global step. g may be overwritten.
  virtual void step(Vector& w, Vector& g, double lr, Step t, GradientOracle& oracle) = 0;
  virtual OptimizerState state() const { return {}; }
  /// Whether the state fits P parameters (after reset(P) or set_state(…, P)).
  virtual bool ready(Index P) const { (void)P; return true; }
  /// Restores state() output; throws std::invalid_argument on a name or size mismatch.
  virtual void set_state(const OptimizerState& s, Index P);
  /// The only semantic check of the settings: throws std::invalid_argument naming the
  /// offending Python keyword (lr, batch_size, beta, ...). The training loop checks batch_size
  /// against the model's samples.
  virtual void check() const;

  double lr = 0.01;
  Index batch_size = 0;     // 0: full batch; otherwise minibatches without replacement per epoch
  std::uint64_t seed = 0;   // minibatch order (and the optimizer's own noise)

 protected:
  static const Vector& find(const OptimizerState& s, const std::string& name, Index size);
};

/// w ← w − lr g (SGD when batch_size > 0).
class GD : public Optimizer {
 public:
  std::string name() const override { return "gd"; }
  void step(Vector& w, Vector& g, double lr, Step t, GradientOracle& oracle) override;
};

/// Heavy ball: b ← β b + g; w ← w − lr b. Nesterov: w ← w − lr (g + β b).
class Momentum : public Optimizer {
 public:
  Momentum(double beta, bool nesterov) : beta(beta), nesterov(nesterov) {}
  std::string name() const override { return "momentum"; }
  void reset(Index P) override { m_buf = Vector::Zero(P); }
  void step(Vector& w, Vector& g, double lr, Step t, GradientOracle& oracle) override;
  OptimizerState state() const override { return {{"buffer", m_buf}}; }
  bool ready(Index P) const override { return m_buf.size() == P; }
  void set_state(const OptimizerState& s, Index P) override { m_buf = find(s, "buffer", P); }
  void check() const override;
  double beta;
  bool nesterov;

 private:
  Vector m_buf;
};

/// Adam with bias correction. weight_decay adds λw to the gradient (Adam) or, decoupled (AdamW),
/// scales w by (1 − lr λ) before the update.
class Adam : public Optimizer {
 public:
  Adam(double beta1, double beta2, double eps, double weight_decay, bool decoupled)
      : beta1(beta1), beta2(beta2), eps(eps), weight_decay(weight_decay), decoupled(decoupled) {}
  std::string name() const override { return decoupled ? "adamw" : "adam"; }
  void reset(Index P) override;
  void step(Vector& w, Vector& g, double lr, Step t, GradientOracle& oracle) override;
  OptimizerState state() const override;
  void set_state(const OptimizerState& s, Index P) override;
  bool ready(Index P) const override { return m_m.size() == P && m_v.size() == P; }
  void check() const override;
  double beta1, beta2, eps, weight_decay;
  bool decoupled;

 private:
  Vector m_m, m_v;
  double m_count = 0;  // updates taken (the bias-correction exponent)
};

/// Perturbed GD (Jin et al. 2017): when ‖g‖ ≤ threshold and at least `interval` steps have
/// passed since the last perturbation, w ← w + ξ with ξ uniform in the ball of radius `radius`
/// (seeded by (seed, t)), and the step uses the gradient at the perturbed point.
class PerturbedGD : public Optimizer {
 public:
  PerturbedGD(double radius, double threshold, Step interval)
      : radius(radius), threshold(threshold), interval(interval) {}
  std::string name() const override { return "perturbed_gd"; }
  void reset(Index P) override;
  void step(Vector& w, Vector& g, double lr, Step t, GradientOracle& oracle) override;
  OptimizerState state() const override;
  void set_state(const OptimizerState& s, Index P) override;
  void check() const override;
  double radius, threshold;
  Step interval;
  /// The noise added at step t (a pure function of seed, t and P; P >= 1).
  Vector noise(Step t, Index P) const;

 private:
  double m_last = -1;   // step of the last perturbation (−1: none yet)
};

/// Sharpness-aware minimization: e = ρ g/‖g‖, w ← w − lr ∇L(w + e) on the same samples.
class SAM : public Optimizer {
 public:
  explicit SAM(double rho) : rho(rho) {}
  std::string name() const override { return "sam"; }
  void reset(Index P) override { m_probe = Vector::Zero(P); }
  void step(Vector& w, Vector& g, double lr, Step t, GradientOracle& oracle) override;
  void check() const override;
  double rho;

 private:
  Vector m_probe;
};

/// Minibatches without replacement: epoch e = t / ceil(n/b) visits a permutation of 0..n−1
/// (seeded by (seed, e)) in consecutive batches of b; the last batch of an epoch may be smaller.
class MinibatchSampler {
 public:
  MinibatchSampler(Index n, Index batch_size, std::uint64_t seed);
  /// The sample indices of step t (the permutation is cached per epoch).
  void batch(Step t, IndexVector& out);

 private:
  Index m_n, m_b;
  std::uint64_t m_seed;
  Step m_epoch = -1;
  std::vector<std::int64_t> m_perm;
};

/// The sample indices of step t (see MinibatchSampler).
IndexVector minibatch(Index n, Index batch_size, std::uint64_t seed, Step t);

}  // namespace landscope
