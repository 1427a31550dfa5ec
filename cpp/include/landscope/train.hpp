#pragma once
// Training: learning-rate schedules as pure functions of the step, optimizers as small state
// machines over w, and a loop that records the diagnostics of DESIGN §1 while it runs and can be
// stopped and continued bit-identically.
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "landscope/model.hpp"

namespace landscope {

using Step = std::int64_t;

// ---------------------------------------------------------------------------------------------
// Schedules: a multiplier s(t) of the optimizer's learning rate; the update from w_t to w_{t+1}
// uses lr · s(t). Steps count from 0.
// ---------------------------------------------------------------------------------------------
struct Schedule {
  enum class Kind { Constant, StepDecay, Cosine, WarmupCosine, WSD, OneCycle, InverseSqrt, Table };
  Kind kind = Kind::Constant;
  Step total = 0;               // the horizon T (Cosine, WarmupCosine, WSD, OneCycle)
  Step warmup = 0;              // warmup steps W (WarmupCosine, InverseSqrt)
  Step period = 1;              // StepDecay: steps between decays
  double gamma = 0.1;           // StepDecay: factor per decay
  double final_value = 0.0;     // Cosine, WarmupCosine, WSD: the multiplier from T on
  double warmup_fraction = 0.0; // WSD: W = ⌊warmup_fraction · T + ½⌋
  double decay_fraction = 0.0;  // WSD: D = ⌊decay_fraction · T + ½⌋ (W + D ≤ T)
  double pct_start = 0.3;       // OneCycle: U = max(1, floor(pct_start · T)) rising steps
  double div_factor = 25.0;     // OneCycle: starts at 1/div_factor
  double final_div_factor = 1e4;  // OneCycle: ends at 1/(div_factor · final_div_factor)
  std::vector<double> table;    // Table: s(table_start + i) = table[i]
  Step table_start = 0;

  /// s(t); throws std::out_of_range for a Table step outside the table.
  double operator()(Step t) const;
  /// Throws std::invalid_argument naming the offending parameter.
  void validate() const;

  static Schedule constant();
  /// gamma^floor(t / period).
  static Schedule step_decay(Step period, double gamma);
  /// final + (1 − final)·½(1 + cos(π t/T)) for t < T, final after.
  static Schedule cosine(Step total, double final_value = 0.0);
  /// (t + 1)/W for t < W, then the cosine over the remaining T − W steps.
  static Schedule warmup_cosine(Step warmup, Step total, double final_value = 0.0);
  /// Warmup (t + 1)/W, stable 1, then linear decay over the last D steps reaching `final` at
  /// t = T − 1; final after.
  static Schedule wsd(Step total, double warmup_fraction, double decay_fraction, double final_value = 0.0);
  /// Cosine from 1/div up to 1 over U steps, then cosine down to 1/(div·final_div) at T.
  static Schedule one_cycle(Step total, double pct_start = 0.3, double div_factor = 25.0,
                            double final_div_factor = 1e4);
  /// W = 0: 1/√(t + 1); otherwise (t + 1)/W for t < W, then √(W/(t + 1)).
  static Schedule inverse_sqrt(Step warmup = 0);
  static Schedule from_table(std::vector<double> values, Step start = 0);
};

// ---------------------------------------------------------------------------------------------
// Optimizers
// ---------------------------------------------------------------------------------------------

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
  double radius, threshold;
  Step interval;
  /// The noise added at step t (a pure function of seed, t and P).
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

// ---------------------------------------------------------------------------------------------
// The training loop
// ---------------------------------------------------------------------------------------------
enum class TrainStatus { Running, Converged, Diverged, Budget, Interrupted };
std::string to_string(TrainStatus s);

struct TrainProgress {
  Step step = 0;
  Step steps = 0;
  double loss = 0;
  double grad_norm = 0;
};

struct TrainOptions {
  Step steps = 0;              // the step budget of the whole run (counted from step 0)
  Step record_every = 1;       // a row every that many steps, plus a row where the run stops
                               // (converged, diverged or the budget; not when interrupted)
  Schedule schedule;
  double clip_norm = 0;        // > 0: scale g to norm ≤ clip_norm before the update
  double ema_decay = 0;        // > 0: ema ← d·ema + (1 − d)·w after each update, from w at
                               // the step EMA was first asked for (w_0 normally)
  Step swa_start = -1;         // >= 0: average the w_t with t >= swa_start, t − swa_start a
                               // multiple of swa_every
  Step swa_every = 1;
  double loss_star = 0;        // L* for the PL ratio and the convergence test
  double tol = -1;             // >= 0: converged when L − L* <= tol (full-batch loss)
  double blowup = 1e6;         // diverged when L > blowup · max(L_0, 1) or L, ∇L not finite
  // Diagnostics at rows whose step is a multiple of the interval (0: never). Intervals are
  // multiples of record_every. A diverged row gets only the cheap columns; a solve that does
  // not converge records NaN.
  Step sharpness_every = 0;    // λ_max(H) by warm-started Lanczos (top_eigenpair)
  Step kernel_every = 0;       // λ_min(K)
  Step kernel_drift_every = 0; // ‖K_t − K_0‖_F / ‖K_0‖_F
  Step balancedness_every = 0; // max_i x_i / min_j x_j (inf unless all x > 0)
  Step hessian_norm_every = 0; // ‖H‖_F from the dense Hessian
  Step params_every = 0;       // a copy of w_t
  double sharpness_tol = 1e-4; // ‖H v − θ v‖ ≤ tol·max(|θ|, largest ‖H q‖ seen)
  Index sharpness_max_products = 500;
  double kernel_tol = 1e-8;    // Lanczos tolerance for λ_min(K) when K is too big to form
  Index dense_kernel_max = 2048;  // λ_min(K) from the dense K when n·k is at most this
  /// Called about every callback_seconds; return false to stop (status Interrupted).
  std::function<bool(const TrainProgress&)> callback;
  double callback_seconds = 0.25;
};

/// With the optimizer's state(), everything needed to continue a run bit-identically from
/// `step`, before w_step is evaluated.
struct TrainState {
  Step step = 0;
  Vector w, w0;
  double loss0 = std::numeric_limits<double>::quiet_NaN();
  Vector ema, swa_sum;
  Step swa_count = 0;
  Vector sharpness_vector;  // the last top eigenvector (the next Lanczos start)
  Vector kernel_vector;     // the last bottom eigenvector of K (large kernels only)
  MatrixR kernel0;          // K(w_0), kept for the drift
  Index stop_products = 0;  // sharpness products spent on the row at `step` where the run
                            // stopped (a continued run recomputes that row)
};

/// One row per recorded step. The optional columns (sharpness … hessian_norm) are filled only
/// when their interval is set, with NaN at rows that do not compute them.
struct Trajectory {
  std::vector<Step> step;
  std::vector<double> loss, grad_norm, pl, lr, distance;
  std::vector<double> sharpness, kernel_min, kernel_drift, balancedness, hessian_norm;
  std::vector<double> params;  // rows x P, only rows where params were taken
  std::vector<Step> params_step;
  Index sharpness_products = 0;
  TrainStatus status = TrainStatus::Running;
  std::string message;
  std::size_t rows() const { return step.size(); }
};

/// Starts a run: state.w = state.w0 = w0, the optimizer reset.
TrainState start_state(const Model& model, Optimizer& optimizer, const VectorRef& w0);

/// Runs from state.step up to options.steps, appending rows to `trajectory` and advancing
/// `state` and the optimizer. Throws std::invalid_argument for bad options. Re-running with the
/// returned state (after dropping a trailing row at state.step) continues bit-identically.
TrainStatus train(const Model& model, Optimizer& optimizer, TrainState& state, Trajectory& trajectory,
                  const TrainOptions& options);

/// The largest eigenpair of a symmetric operator by Lanczos with full reorthogonalization,
/// started from v (random if empty), testing ‖A v − θ v‖ ≤ tol·max(|θ|, largest ‖A q‖ seen)
/// after every product; restarts from the Ritz vector every `restart` steps. Unlike lanczos(),
/// which tests at restarts only, a warm start near the answer stops after a few products.
/// v becomes the eigenvector. Returns θ, or NaN when max_products pass without convergence.
/// `keep_going` (optional) is asked after every product; false stops with NaN.
double top_eigenpair(const LinearOperator& A, Vector& v, double tol, Index max_products,
                     Index* products = nullptr, Index restart = 20, std::uint64_t seed = 0,
                     const std::function<bool()>& keep_going = {});

}  // namespace landscope
