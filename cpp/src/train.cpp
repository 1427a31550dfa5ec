// The training loop and its diagnostics.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "check.hpp"
#include "memory.hpp"
#include "landscope/interrupt.hpp"
#include "landscope/product_toy.hpp"
#include "landscope/spectra.hpp"
#include "landscope/train.hpp"
#include "rng.hpp"

namespace landscope {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using detail::num;
using detail::require;

/// Calls the options' callback about every callback_seconds; false once it asked to stop.
class Poll {
 public:
  explicit Poll(const TrainOptions& o) : m_o(o), m_last(Clock::now()) {}
  bool operator()(const TrainProgress& p) {
    if (!m_o.callback || m_stopped) return !m_stopped;
    const auto now = Clock::now();
    if (std::chrono::duration<double>(now - m_last).count() < m_o.callback_seconds) return true;
    m_last = now;
    m_stopped = !m_o.callback(p);
    return !m_stopped;
  }
  bool stopped() const { return m_stopped; }

 private:
  using Clock = std::chrono::steady_clock;
  const TrainOptions& m_o;
  Clock::time_point m_last;
  bool m_stopped = false;
};

/// ‖g‖, vectorized; the overflow-safe (scalar, much slower) blueNorm only when that overflows.
double norm_of(const Vector& g) {
  const double n = g.norm();
  return std::isfinite(n) || !g.allFinite() ? n : g.blueNorm();
}

/// The loss and gradient on the step's samples, clipped.
class StepOracle : public GradientOracle {
 public:
  StepOracle(const Model& model, const Optimizer& opt, double clip)
      : m_model(model), m_clip(clip) {
    if (opt.batch_size > 0) m_sampler.emplace(model.num_samples(), opt.batch_size, opt.seed);
  }
  bool minibatch() const { return m_sampler.has_value(); }
  void set_step(Step t) {
    if (m_sampler) m_sampler->batch(t, m_batch);
  }
  /// The raw loss and gradient (no clipping).
  double raw(const Vector& w, Vector& g) const { return m_model.loss_and_gradient(w, g, m_sampler ? &m_batch : nullptr); }
  void clip(Vector& g, double norm) const {
    if (m_clip > 0 && norm > m_clip) g *= m_clip / norm;
  }
  double evaluate(const Vector& w, Vector& g) override {
    const double loss = raw(w, g);
    clip(g, norm_of(g));
    return loss;
  }

 private:
  const Model& m_model;
  double m_clip;
  std::optional<MinibatchSampler> m_sampler;
  IndexVector m_batch;
};

void check_interval(Step every, Step record_every, const char* name) {
  require(every >= 0, std::string(name) + ": expected an interval >= 0 steps, got " + std::to_string(every));
  require(every == 0 || every % record_every == 0,
          std::string(name) + ": the interval " + std::to_string(every) + " must be a multiple of record_every = " +
              std::to_string(record_every));
}

void validate(const Model& model, const Optimizer& opt, const TrainState& s, const TrainOptions& o) {
  const Index P = model.num_params();
  require(o.steps >= 0, "steps: expected >= 0, got " + std::to_string(o.steps));
  require(s.step >= 0 && s.step <= o.steps, "steps: the budget " + std::to_string(o.steps) +
                                                " is below the run's current step " + std::to_string(s.step));
  require(o.record_every >= 1, "record_every: expected >= 1, got " + std::to_string(o.record_every));
  check_interval(o.sharpness_every, o.record_every, "sharpness");
  check_interval(o.kernel_every, o.record_every, "kernel_min");
  check_interval(o.kernel_drift_every, o.record_every, "kernel_drift");
  check_interval(o.balancedness_every, o.record_every, "balancedness");
  check_interval(o.hessian_norm_every, o.record_every, "hessian_norm");
  check_interval(o.params_every, o.record_every, "params");
  require(o.balancedness_every == 0 || dynamic_cast<const ProductToy*>(&model) != nullptr,
          "balancedness: only defined for ProductToy");
  require(std::isfinite(opt.lr) && opt.lr >= 0, "lr: expected a finite rate >= 0, got " + num(opt.lr));
  require(opt.batch_size >= 0 && opt.batch_size <= model.num_samples(),
          "batch_size: expected 1 <= batch_size <= n = " + std::to_string(model.num_samples()) + ", got " +
              std::to_string(opt.batch_size));
  require(std::isfinite(o.clip_norm) && o.clip_norm >= 0,
          "clip_norm: expected a finite norm > 0 (0: no clipping), got " + num(o.clip_norm));
  require(o.ema_decay >= 0 && o.ema_decay < 1, "ema: expected a decay in [0, 1), got " + num(o.ema_decay));
  require(o.swa_every >= 1, "swa: expected an interval >= 1, got " + std::to_string(o.swa_every));
  require(std::isfinite(o.loss_star), "loss_star: expected a finite value, got " + num(o.loss_star));
  require(!std::isnan(o.tol), "tol: expected a tolerance >= 0 (or none), got nan");
  require(o.blowup > 1, "blowup: expected a factor > 1, got " + num(o.blowup));
  require(o.sharpness_tol > 0 && o.sharpness_tol < 1, "sharpness_tol: expected 0 < tol < 1, got " + num(o.sharpness_tol));
  require(o.sharpness_max_products >= 1, "sharpness_max_products: expected >= 1");
  require(o.callback_seconds > 0, "callback_seconds: expected > 0");
  o.schedule.validate();
  require(s.w.size() == P && s.w0.size() == P, "w0: expected " + std::to_string(P) + " parameters, got " +
                                                   std::to_string(s.w.size()));
  require(s.w.allFinite() && s.w0.allFinite(), "w0: contains NaN or Inf");
  require(opt.ready(P), "optimizer: its state does not fit P = " + std::to_string(P) +
                            " parameters; call reset(P) or set_state(state, P) first");
  const Index N = model.num_outputs();
  auto sized = [](Index got, Index want, const char* what) {
    require(got == 0 || got == want, std::string("state: ") + what + " has length " + std::to_string(got) +
                                         ", expected " + std::to_string(want));
  };
  sized(s.ema.size(), P, "ema");
  sized(s.swa_sum.size(), P, "swa");
  sized(s.sharpness_vector.size(), P, "sharpness_vector");
  sized(s.kernel_vector.size(), N, "kernel_vector (n·k)");
  require(s.kernel0.size() == 0 || (s.kernel0.rows() == N && s.kernel0.cols() == N),
          "state: kernel0 has shape (" + std::to_string(s.kernel0.rows()) + ", " + std::to_string(s.kernel0.cols()) +
              "), expected the model's (n·k, n·k) = (" + std::to_string(N) + ", " + std::to_string(N) + ")");
}

bool due(Step t, Step every) { return every > 0 && t % every == 0; }

/// λ_min of a symmetric K; its row-major storage read as column-major is K itself (no copy
/// beyond the solver's own).
double smallest_eigenvalue(const MatrixR& K) {
  Eigen::SelfAdjointEigenSolver<Matrix> es(Eigen::Map<const Matrix>(K.data(), K.rows(), K.cols()),
                                           Eigen::EigenvaluesOnly);
  return es.eigenvalues()[0];
}

class Recorder {
 public:
  Recorder(const Model& model, TrainState& s, Trajectory& tr, const TrainOptions& o, Poll& poll)
      : m_model(model), m_s(s), m_tr(tr), m_o(o), m_poll(poll) {}

  /// Drops the rows from `rows` on (a row whose solve was interrupted).
  void truncate(std::size_t rows, std::size_t param_rows) {
    for (auto* c : {&m_tr.loss, &m_tr.grad_norm, &m_tr.pl, &m_tr.lr, &m_tr.distance, &m_tr.sharpness,
                    &m_tr.kernel_min, &m_tr.kernel_drift, &m_tr.balancedness, &m_tr.hessian_norm})
      c->resize(std::min(c->size(), rows));
    m_tr.step.resize(rows);
    m_tr.params_step.resize(param_rows);
    m_tr.params.resize(param_rows * static_cast<std::size_t>(m_s.w.size()));
  }

  /// Appends the row of step t. `commit` = false leaves the warm starts untouched (rows where the
  /// run stops, so that a continued run recomputes them identically).
  void row(Step t, double loss, double grad_norm, double lr, bool diverged, bool commit) {
    const Vector& w = m_s.w;
    m_tr.step.push_back(t);
    m_tr.loss.push_back(loss);
    m_tr.grad_norm.push_back(grad_norm);
    const double gap = loss - m_o.loss_star;
    m_tr.pl.push_back(gap > 0 ? grad_norm * grad_norm / (2.0 * gap) : kNaN);
    m_tr.lr.push_back(lr);
    m_tr.distance.push_back((w - m_s.w0).norm());
    // Optional columns exist only when requested; NaN where a row does not compute them.
    const auto& o = m_o;
    double sharp = kNaN, kmin = kNaN, drift = kNaN, bal = kNaN, hnorm = kNaN;
    if (!diverged) {
      if (due(t, o.sharpness_every)) sharp = sharpness(commit);
      MatrixR K;
      const bool dense_kernel = m_model.num_outputs() <= o.dense_kernel_max;
      if ((due(t, o.kernel_every) && dense_kernel) || due(t, o.kernel_drift_every)) K = m_model.tangent_kernel(w);
      if (due(t, o.kernel_every)) kmin = dense_kernel ? smallest_eigenvalue(K) : kernel_min(commit);
      if (due(t, o.kernel_drift_every)) drift = (K - m_s.kernel0).norm() / m_s.kernel0.norm();
      if (due(t, o.balancedness_every)) {
        const double lo = w.minCoeff();
        bal = lo > 0 ? w.maxCoeff() / lo : std::numeric_limits<double>::infinity();
      }
      if (due(t, o.hessian_norm_every)) hnorm = m_model.hessian(w).norm();
      if (due(t, o.params_every)) {
        m_tr.params.insert(m_tr.params.end(), w.data(), w.data() + w.size());
        m_tr.params_step.push_back(t);
      }
    }
    if (o.sharpness_every) m_tr.sharpness.push_back(sharp);
    if (o.kernel_every) m_tr.kernel_min.push_back(kmin);
    if (o.kernel_drift_every) m_tr.kernel_drift.push_back(drift);
    if (o.balancedness_every) m_tr.balancedness.push_back(bal);
    if (o.hessian_norm_every) m_tr.hessian_norm.push_back(hnorm);
  }

 private:
  double sharpness(bool commit) {
    auto op = m_model.hessian_operator(m_s.w);
    Vector v = m_s.sharpness_vector;
    Index products = 0;
    const double theta = top_eigenpair(*op, v, m_o.sharpness_tol, m_o.sharpness_max_products, &products, 20, 0,
                                       [this] { return m_poll(progress()); });
    m_tr.sharpness_products += products;
    if (!commit) m_s.stop_products += products;
    if (commit && !std::isnan(theta)) m_s.sharpness_vector = std::move(v);
    return theta;
  }

  double kernel_min(bool commit) {
    auto op = m_model.kernel_operator(m_s.w);
    LanczosOptions lo;
    lo.k = 1;
    lo.which = Which::Smallest;
    lo.tol = m_o.kernel_tol;
    lo.callback = [this](const LanczosProgress&) { return m_poll(progress()); };
    if (m_s.kernel_vector.size() == op->size()) lo.v0 = m_s.kernel_vector;
    LanczosResult r = lanczos(*op, lo);
    if (!r.converged) return kNaN;
    if (commit) m_s.kernel_vector = r.eigenvectors.col(0);
    return r.eigenvalues[0];
  }

  TrainProgress progress() const {
    return {m_s.step, m_o.steps, m_tr.loss.empty() ? kNaN : m_tr.loss.back(),
            m_tr.grad_norm.empty() ? kNaN : m_tr.grad_norm.back()};
  }

  const Model& m_model;
  TrainState& m_s;
  Trajectory& m_tr;
  const TrainOptions& m_o;
  Poll& m_poll;
};

}  // namespace

std::string to_string(TrainStatus s) {
  switch (s) {
    case TrainStatus::Running: return "running";
    case TrainStatus::Converged: return "converged";
    case TrainStatus::Diverged: return "diverged";
    case TrainStatus::Budget: return "budget";
    case TrainStatus::Interrupted: return "interrupted";
  }
  return "unknown";
}

double top_eigenpair(const LinearOperator& A, Vector& v, double tol, Index max_products, Index* products,
                     Index restart, std::uint64_t seed, const std::function<bool()>& keep_going) {
  const Index n = A.size();
  require(n >= 1, "op: the operator has size 0");
  require(tol > 0 && tol < 1, "tol: expected 0 < tol < 1, got " + num(tol));
  restart = std::max<Index>(1, std::min(restart, n));
  if (v.size() != n || !v.allFinite() || !(v.norm() > 0)) {
    v.resize(n);
    detail::Rng rng(seed);
    for (Index i = 0; i < n; ++i) v[i] = rng.normal();
  }
  v.normalize();
  Matrix Q(n, restart + 1), W;
  Vector alpha(restart), beta(restart), w;
  Index used = 0;
  double anorm = 0.0, theta = 0.0;
  for (;;) {
    Q.col(0) = v;
    for (Index j = 0; j < restart; ++j) {
      check_interrupt();
      A.apply(Q.col(j), W);
      if (W.rows() != n || W.cols() != 1 || !W.allFinite())
        throw std::invalid_argument("op: the product is not a finite vector of length " + std::to_string(n));
      ++used;
      w = W.col(0);
      anorm = std::max(anorm, w.norm());
      alpha[j] = 0.0;
      for (int pass = 0; pass < 2; ++pass) {  // full reorthogonalization, twice
        const Vector h = Q.leftCols(j + 1).transpose() * w;
        w.noalias() -= Q.leftCols(j + 1) * h;
        alpha[j] += h[j];
      }
      beta[j] = w.norm();
      Eigen::SelfAdjointEigenSolver<Matrix> es;
      es.computeFromTridiagonal(alpha.head(j + 1), beta.head(j), Eigen::ComputeEigenvectors);
      theta = es.eigenvalues()[j];
      const auto y = es.eigenvectors().col(j);
      anorm = std::max(anorm, std::abs(theta));
      const bool exhausted = beta[j] <= 1e-14 * anorm || j + 1 == n;
      const bool done = exhausted || beta[j] * std::abs(y[j]) <= tol * anorm;
      const bool give_up = !done && (used >= max_products || (keep_going && !keep_going()));
      if (done || give_up || j + 1 == restart) {
        v = Q.leftCols(j + 1) * y;
        v.normalize();
        if (done || give_up) {
          if (products) *products += used;
          return done ? theta : std::numeric_limits<double>::quiet_NaN();
        }
        break;  // restart from the Ritz vector
      }
      Q.col(j + 1) = w / beta[j];
    }
  }
}

TrainState start_state(const Model& model, Optimizer& optimizer, const VectorRef& w0) {
  require(w0.size() == model.num_params(), "w0: expected " + std::to_string(model.num_params()) +
                                               " parameters, got " + std::to_string(w0.size()));
  TrainState s;
  s.w = w0;
  s.w0 = w0;
  optimizer.reset(model.num_params());
  return s;
}

TrainStatus train(const Model& model, Optimizer& opt, TrainState& s, Trajectory& tr, const TrainOptions& o) {
  validate(model, opt, s, o);
  const Index P = model.num_params();
  if (o.ema_decay > 0 && s.ema.size() == 0) s.ema = s.w;
  if (o.swa_start >= 0 && s.swa_sum.size() == 0) s.swa_sum = Vector::Zero(P);
  tr.status = TrainStatus::Running;
  s.stop_products = 0;
  if (o.kernel_drift_every > 0 && s.kernel0.size() == 0) {
    try {
      s.kernel0 = model.tangent_kernel(s.w0);
    } catch (const Interrupted&) {
      tr.status = TrainStatus::Interrupted;
      tr.message = "interrupted before step " + std::to_string(s.step);
      return tr.status;
    }
    require(s.kernel0.norm() > 0, "kernel_drift: the tangent kernel at w0 is zero");
  }
  if (o.swa_start == 0 && s.step == 0 && s.swa_count == 0) {  // the average includes w_0
    s.swa_sum += s.w;
    s.swa_count = 1;
  }
  StepOracle oracle(model, opt, o.clip_norm);
  Poll poll(o);
  Recorder recorder(model, s, tr, o, poll);
  // Rows are reserved up front, on huge pages where possible: page faults on fresh memory, not
  // the arithmetic, are what recording every step of a small model costs.
  const auto rows = tr.rows() + static_cast<std::size_t>(std::min<Step>((o.steps - s.step) / o.record_every + 2,
                                                                        Step(1) << 20));
  for (auto* col : {&tr.loss, &tr.grad_norm, &tr.pl, &tr.lr, &tr.distance}) {
    col->reserve(rows);
    detail::advise_huge_pages(col->data(), rows * sizeof(double));
  }
  tr.step.reserve(rows);
  detail::advise_huge_pages(tr.step.data(), rows * sizeof(Step));
  Vector g(P), full_g(P), ema_before, swa_before;  // the averages before the last iterate joined
  bool ema_joined = false, swa_joined = false;

  using Clock = std::chrono::steady_clock;
  auto last_check = Clock::now();
  Step stride = 1, since = 0;
  double last_loss = kNaN, last_norm = kNaN;

  // Steps run without interrupt checks (an optimizer updates its state in place); Ctrl-C is
  // taken between steps (the callback) and inside the rows, which are retaken on resume.
  std::optional<NoInterrupt> quiet;
  for (Step t = s.step;; ++t) {
    quiet.reset();
    s.step = t;
    if (o.callback && ++since >= stride) {  // look at the clock about every millisecond
      since = 0;
      const auto now = Clock::now();
      const double dt = std::chrono::duration<double>(now - last_check).count();
      last_check = now;
      if (dt < 1e-3 && stride < (Step(1) << 20)) stride *= 2;
      else if (dt > 1e-2 && stride > 1) stride /= 2;
      if (!poll(TrainProgress{t, o.steps, last_loss, last_norm})) {
        tr.status = TrainStatus::Interrupted;
        tr.message = "interrupted before step " + std::to_string(t);
        return tr.status;
      }
    }
    quiet.emplace();
    oracle.set_step(t);
    const double loss = oracle.raw(s.w, g);
    const double norm = norm_of(g);
    const bool at_row = t % o.record_every == 0 || t == o.steps;
    // Rows, L_0 and the convergence test use the full-batch loss; a minibatch run computes it
    // there (and where the run diverges).
    double full_loss = loss, full_norm = norm;
    bool have_full = !oracle.minibatch();
    auto compute_full = [&] {
      full_loss = model.loss_and_gradient(s.w, full_g);
      full_norm = norm_of(full_g);
      have_full = true;
    };
    if (!have_full && (at_row || std::isnan(s.loss0))) compute_full();
    if (std::isnan(s.loss0) && std::isfinite(full_loss)) s.loss0 = full_loss;
    const double limit = o.blowup * std::max(s.loss0, 1.0);
    bool diverged = true;
    if (!std::isfinite(loss) || !std::isfinite(norm) || !std::isfinite(full_loss) || !std::isfinite(full_norm)) {
      tr.message = "the loss or gradient is not finite at step " + std::to_string(t);
    } else if (loss > limit || full_loss > limit) {
      tr.message = "the loss " + num(std::max(loss, full_loss)) + " exceeds blowup · max(L_0, 1) = " + num(limit) +
                   " at step " + std::to_string(t);
    } else {
      diverged = false;
    }
    if (diverged && !have_full) compute_full();
    const bool converged = !diverged && o.tol >= 0 && have_full && full_loss - o.loss_star <= o.tol;
    const bool stop = diverged || converged || t == o.steps;
    const double rate = stop ? kNaN : opt.lr * o.schedule(t);
    if (diverged && ema_joined) s.ema = ema_before;  // the averages leave out the diverged iterate
    if (diverged && swa_joined) {
      s.swa_sum = swa_before;
      --s.swa_count;
    }
    if (at_row || stop) {
      const std::size_t rows_before = tr.rows(), params_before = tr.params_step.size();
      const Index products_before = tr.sharpness_products;
      const Vector sharpness_start = s.sharpness_vector, kernel_start = s.kernel_vector;
      bool interrupted = false;
      quiet.reset();
      try {
        recorder.row(t, full_loss, full_norm, rate, diverged, !stop);
      } catch (const Interrupted&) {
        interrupted = true;
      }
      quiet.emplace();
      if (interrupted || poll.stopped()) {
        // Ctrl-C inside a diagnostic's eigensolver: the continued run retakes this row from the
        // same warm starts.
        recorder.truncate(rows_before, params_before);
        s.sharpness_vector = sharpness_start;
        s.kernel_vector = kernel_start;
        s.stop_products = tr.sharpness_products - products_before;
        tr.status = TrainStatus::Interrupted;
        tr.message = "interrupted at step " + std::to_string(t);
        return tr.status;
      }
    }
    last_loss = full_loss;
    last_norm = full_norm;
    if (stop) {
      if (diverged) tr.status = TrainStatus::Diverged;
      else if (converged) {
        tr.status = TrainStatus::Converged;
        tr.message = "L − L* = " + num(full_loss - o.loss_star) + " <= tol at step " + std::to_string(t);
      } else {
        tr.status = TrainStatus::Budget;
        tr.message = "reached the step budget " + std::to_string(o.steps);
      }
      return tr.status;
    }
    oracle.clip(g, norm);
    opt.step(s.w, g, rate, t, oracle);
    const Step done = t + 1;  // w now holds w_{t+1}
    ema_joined = o.ema_decay > 0;
    if (ema_joined) {
      ema_before = s.ema;
      s.ema = o.ema_decay * s.ema + (1.0 - o.ema_decay) * s.w;
    }
    swa_joined = o.swa_start >= 0 && done >= o.swa_start && (done - o.swa_start) % o.swa_every == 0;
    if (swa_joined) {
      swa_before = s.swa_sum;
      s.swa_sum += s.w;
      ++s.swa_count;
    }
  }
}

}  // namespace landscope
