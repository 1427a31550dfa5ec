// The training loop and its recorder.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "check.hpp"
#include "landscope/interrupt.hpp"
#include "landscope/point.hpp"
#include "landscope/train.hpp"
#include "memory.hpp"

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
  StepOracle(const Model& model, const Optimizer& opt, double clip) : m_model(model), m_clip(clip) {
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

bool due(Step t, Step every) { return every > 0 && t % every == 0; }

/// The requested diagnostics with their intervals and columns.
struct Recorded {
  std::unique_ptr<Diagnostic> diagnostic;
  Step every;
  std::vector<double>* column;
};

class Recorder {
 public:
  Recorder(const Model& model, TrainState& s, Trajectory& tr, const TrainOptions& o, Poll& poll)
      : m_model(model), m_s(s), m_tr(tr), m_o(o), m_poll(poll) {
    for (const auto& [name, every] : o.record) {
      if (name == "params") {
        m_params_every = every;
        continue;
      }
      auto d = make_diagnostic(name, model);
      d->set_state(s.diagnostics, model);
      m_recorded.push_back({std::move(d), every, &tr.columns[name]});
    }
  }

  /// Whether any diagnostic is due at step t.
  bool any_due(Step t) const {
    return std::any_of(m_recorded.begin(), m_recorded.end(), [t](const Recorded& r) { return due(t, r.every); });
  }

  /// Whether any diagnostic due at step t uses Hessian products.
  bool curvature_due(Step t) const {
    for (const auto& r : m_recorded)
      if (due(t, r.every) && r.diagnostic->uses_curvature()) return true;
    return false;
  }

  /// Calls start() on every diagnostic (K(w_0) for the kernel drift, say).
  void start() {
    for (auto& r : m_recorded) r.diagnostic->start(m_model, m_s.w0);
  }

  /// Appends the row of step t at `point`. `commit` = false leaves the warm starts untouched
  /// (rows where the run stops, so that a continued run recomputes them identically). On an
  /// interrupt inside a diagnostic the row is dropped, the warm starts restored, and false
  /// returned.
  bool row(Step t, Point* point, double loss, double grad_norm, double lr, bool diverged, bool commit) {
    const std::size_t rows = m_tr.rows(), param_rows = m_tr.params_step.size();
    // The warm starts this row may change, to restore if it has to be retaken.
    std::vector<NamedArrays> saved;
    std::vector<Index> products;
    for (const auto& r : m_recorded) {
      const bool changes = !diverged && due(t, r.every) && r.diagnostic->updates_state();
      saved.push_back(changes ? r.diagnostic->state() : NamedArrays());
      products.push_back(r.diagnostic->products);
    }
    const Vector& w = m_s.w;
    m_tr.step.push_back(t);
    m_tr.loss.push_back(loss);
    m_tr.grad_norm.push_back(grad_norm);
    const double gap = loss - m_o.loss_star;
    m_tr.pl.push_back(gap > 0 ? grad_norm * grad_norm / (2.0 * gap) : kNaN);
    m_tr.lr.push_back(lr);
    m_tr.distance.push_back((w - m_s.w0).norm());
    bool interrupted = false;
    try {
      const std::function<bool()> keep_going = [this] { return m_poll(progress()); };
      for (auto& r : m_recorded) {
        double value = kNaN;
        if (!diverged && due(t, r.every)) {
          Row ctx{*point, t, m_s.w0, m_o.recorder, keep_going};
          value = r.diagnostic->compute(ctx);
        }
        r.column->push_back(value);
      }
      if (!diverged && due(t, m_params_every)) {
        m_tr.params.insert(m_tr.params.end(), w.data(), w.data() + w.size());
        m_tr.params_step.push_back(t);
      }
    } catch (const Interrupted&) {
      interrupted = true;
    }
    interrupted = interrupted || m_poll.stopped();
    for (std::size_t i = 0; i < m_recorded.size(); ++i) {
      auto& d = *m_recorded[i].diagnostic;
      const std::string name = d.name();
      const Index spent = d.products - products[i];
      m_tr.products[name] += spent;
      if (!commit || interrupted) {
        // The continued run retakes this row from the same warm starts.
        if (!saved[i].empty()) d.set_state(saved[i], m_model);
        m_s.stop_products[name] = spent;
      }
    }
    if (interrupted) truncate(rows, param_rows);
    return !interrupted;
  }

  /// The diagnostics' state, into the run's state (arrays of diagnostics this run does not
  /// record are kept for a later run that does).
  void save_state() const {
    NamedArrays out;
    for (const auto& r : m_recorded)
      for (auto& array : r.diagnostic->state()) out.push_back(std::move(array));
    for (auto& old : m_s.diagnostics) {
      const bool replaced = std::any_of(out.begin(), out.end(), [&](const auto& a) { return a.first == old.first; });
      if (!replaced) out.push_back(std::move(old));
    }
    m_s.diagnostics = std::move(out);
  }

 private:
  /// Drops the rows from `rows` on.
  void truncate(std::size_t rows, std::size_t param_rows) {
    for (auto* c : {&m_tr.loss, &m_tr.grad_norm, &m_tr.pl, &m_tr.lr, &m_tr.distance}) c->resize(rows);
    for (auto& r : m_recorded) r.column->resize(std::min(r.column->size(), rows));
    m_tr.step.resize(rows);
    m_tr.params_step.resize(param_rows);
    m_tr.params.resize(param_rows * static_cast<std::size_t>(m_s.w.size()));
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
  std::vector<Recorded> m_recorded;
  Step m_params_every = 0;
};

void check_state(const Model& model, const Optimizer& opt, const TrainState& s, const TrainOptions& o) {
  const Index P = model.num_params(), n = model.num_samples();
  require(opt.batch_size <= n, "batch_size: expected at most the " + std::to_string(n) +
                                   " samples of the model, got " + std::to_string(opt.batch_size));
  require(s.step >= 0 && s.step <= o.steps, "steps: the budget " + std::to_string(o.steps) +
                                                " is below the run's current step " + std::to_string(s.step));
  require(s.w.size() == P && s.w0.size() == P, "w0: expected " + std::to_string(P) + " parameters, got " +
                                                   std::to_string(s.w.size()));
  require(s.w.allFinite() && s.w0.allFinite(), "w0: contains NaN or Inf");
  require(opt.ready(P), "optimizer: its state does not fit P = " + std::to_string(P) +
                            " parameters; call reset(P) or set_state(state, P) first");
  auto sized = [](Index got, Index want, const char* what) {
    require(got == 0 || got == want, std::string("state: ") + what + " has length " + std::to_string(got) +
                                         ", expected " + std::to_string(want));
  };
  sized(s.ema.size(), P, "ema");
  sized(s.swa_sum.size(), P, "swa");
}

}  // namespace

void TrainOptions::check() const {
  require(steps >= 0, "steps: expected >= 0, got " + std::to_string(steps));
  require(record_every >= 1, "record_every: expected >= 1, got " + std::to_string(record_every));
  for (const auto& [name, every] : record) {
    require(every >= 1, "record: the interval of '" + name + "' must be >= 1, got " + std::to_string(every));
    require(every % record_every == 0, "record: the interval of '" + name + "' (" + std::to_string(every) +
                                           ") must be a multiple of record_every = " + std::to_string(record_every));
  }
  require(std::isfinite(clip_norm) && clip_norm >= 0,
          "clip_norm: expected a finite norm > 0 (0: no clipping), got " + num(clip_norm));
  require(ema >= 0 && ema < 1, "ema: expected a decay in (0, 1) (0: off), got " + num(ema));
  require(swa_start >= -1, "swa: expected a start step >= 0, got " + std::to_string(swa_start));
  require(swa_every >= 1, "swa: expected an interval >= 1, got " + std::to_string(swa_every));
  require(std::isfinite(loss_star), "loss_star: expected a finite value, got " + num(loss_star));
  require(!std::isnan(tol) && (tol >= 0 || tol == -1), "tol: expected a tolerance >= 0 (or none), got " + num(tol));
  require(blowup > 1, "blowup: expected a factor > 1, got " + num(blowup));
  require(callback_seconds > 0, "callback_seconds: expected > 0, got " + num(callback_seconds));
  recorder.check();
  schedule.check();
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

Status train(const Model& model, Optimizer& opt, TrainState& s, Trajectory& tr, const TrainOptions& o) {
  o.check();
  opt.check();
  check_state(model, opt, s, o);
  const Index P = model.num_params();
  Poll poll(o);
  Recorder recorder(model, s, tr, o, poll);
  if (o.ema > 0 && s.ema.size() == 0) s.ema = s.w;
  if (o.swa_start >= 0 && s.swa_sum.size() == 0) s.swa_sum = Vector::Zero(P);
  tr.status = Status::Running;
  s.stop_products.clear();
  auto finish = [&](Status status, std::string message) {
    recorder.save_state();
    tr.status = status;
    tr.message = std::move(message);
    return status;
  };
  try {
    recorder.start();
  } catch (const Interrupted&) {
    return finish(Status::Interrupted, "interrupted before step " + std::to_string(s.step));
  }
  if (o.swa_start == 0 && s.step == 0 && s.swa_count == 0) {  // the average includes w_0
    s.swa_sum += s.w;
    s.swa_count = 1;
  }
  StepOracle oracle(model, opt, o.clip_norm);
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
      if (!poll(TrainProgress{t, o.steps, last_loss, last_norm}))
        return finish(Status::Interrupted, "interrupted before step " + std::to_string(t));
    }
    quiet.emplace();
    oracle.set_step(t);
    const bool at_row = t % o.record_every == 0 || t == o.steps;
    // Rows, L_0 and the convergence test use the full-batch loss. Where a diagnostic is due, the
    // row evaluates the model once, at a point that serves the loss, the gradient and the
    // diagnostics; elsewhere the plain loss and gradient suffice.
    std::shared_ptr<Point> point;
    double loss, norm, full_loss, full_norm;
    bool have_full = false;
    auto full_batch = [&] {
      if (recorder.any_due(t)) {
        point = model.at(s.w);
        if (recorder.curvature_due(t)) point->prepare_curvature();
        full_norm = point->grad_norm();  // the gradient first: it computes the loss too
        full_loss = point->loss();
      } else {
        full_loss = model.loss_and_gradient(s.w, full_g);
        full_norm = norm_of(full_g);
      }
      have_full = true;
    };
    if (!oracle.minibatch() && at_row && recorder.any_due(t)) {
      full_batch();
      loss = full_loss;
      norm = full_norm;
      g = point->gradient();
    } else {
      loss = oracle.raw(s.w, g);
      norm = norm_of(g);
      full_loss = loss;
      full_norm = norm;
      have_full = !oracle.minibatch();
      if (!have_full && (at_row || std::isnan(s.loss0))) full_batch();
    }
    if (std::isnan(s.loss0) && std::isfinite(full_loss)) s.loss0 = full_loss;
    const double limit = o.blowup * std::max(s.loss0, 1.0);
    bool diverged = true;
    std::string why;
    if (!std::isfinite(loss) || !std::isfinite(norm) || !std::isfinite(full_loss) || !std::isfinite(full_norm)) {
      why = "the loss or gradient is not finite at step " + std::to_string(t);
    } else if (loss > limit || full_loss > limit) {
      why = "the loss " + num(std::max(loss, full_loss)) + " exceeds blowup · max(L_0, 1) = " + num(limit) +
            " at step " + std::to_string(t);
    } else {
      diverged = false;
    }
    if (diverged && !have_full) full_batch();
    const bool converged = !diverged && o.tol >= 0 && have_full && full_loss - o.loss_star <= o.tol;
    const bool stop = diverged || converged || t == o.steps;
    const double rate = stop ? kNaN : opt.lr * o.schedule(t);
    if (diverged && ema_joined) s.ema = ema_before;  // the averages leave out the diverged iterate
    if (diverged && swa_joined) {
      s.swa_sum = swa_before;
      --s.swa_count;
    }
    if (at_row || stop) {
      quiet.reset();
      const bool recorded = recorder.row(t, point.get(), full_loss, full_norm, rate, diverged, !stop);
      quiet.emplace();
      if (!recorded) return finish(Status::Interrupted, "interrupted at step " + std::to_string(t));
    }
    point.reset();
    last_loss = full_loss;
    last_norm = full_norm;
    if (stop) {
      if (diverged) return finish(Status::Diverged, why);
      if (converged)
        return finish(Status::Converged,
                      "L − L* = " + num(full_loss - o.loss_star) + " <= tol at step " + std::to_string(t));
      return finish(Status::Budget, "reached the step budget " + std::to_string(o.steps));
    }
    oracle.clip(g, norm);
    opt.step(s.w, g, rate, t, oracle);
    const Step done = t + 1;  // w now holds w_{t+1}
    ema_joined = o.ema > 0;
    if (ema_joined) {
      ema_before = s.ema;
      s.ema = o.ema * s.ema + (1.0 - o.ema) * s.w;
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
