#pragma once
// The training loop: an optimizer stepping w under a schedule, and a recorder that writes the
// cheap columns every row and the requested diagnostics (landscope/diagnostic.hpp) at their
// intervals. A run can be stopped and continued bit-identically.
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "landscope/diagnostic.hpp"
#include "landscope/model.hpp"
#include "landscope/optimizer.hpp"
#include "landscope/schedule.hpp"
#include "landscope/status.hpp"

namespace landscope {

struct TrainProgress {
  Step step = 0;
  Step steps = 0;
  double loss = 0;
  double grad_norm = 0;
};

/// The settings of a run. Field names are the keywords of landscope.train; every default is
/// written here once.
struct TrainOptions {
  Step steps = 0;              // the step budget of the whole run (counted from step 0)
  Step record_every = 1;       // a row every that many steps, plus a row where the run stops
                               // (converged, diverged or the budget; not when interrupted)
  Schedule schedule;
  double clip_norm = 0;        // > 0: scale g to norm <= clip_norm before the update
  double ema = 0;              // decay d > 0: ema ← d·ema + (1 − d)·w after each update, from w
                               // at the step EMA was first asked for (w_0 normally)
  Step swa_start = -1;         // >= 0: average the w_t with t >= swa_start, t − swa_start a
  Step swa_every = 1;          //   multiple of swa_every
  double loss_star = 0;        // L* for the PL ratio and the convergence test
  double tol = -1;             // >= 0: converged when L − L* <= tol (full-batch loss)
  double blowup = 1e6;         // diverged when L > blowup · max(L_0, 1) or L, ∇L not finite
  /// record=: diagnostic name -> interval (a multiple of record_every), computed at rows whose
  /// step is a multiple of it. "params" keeps a copy of w_t. A diverged row gets only the cheap
  /// columns; a solve that does not converge records NaN.
  std::map<std::string, Step> record;
  RecorderSettings recorder;
  /// Called about every callback_seconds; return false to stop (status Interrupted).
  std::function<bool(const TrainProgress&)> callback;
  double callback_seconds = 0.25;

  /// The only semantic check of the options (model-independent): throws std::invalid_argument
  /// naming the Python keyword.
  void check() const;
};

/// With the optimizer's state(), everything needed to continue a run bit-identically from
/// `step`, before w_step is evaluated.
struct TrainState {
  Step step = 0;
  Vector w, w0;
  double loss0 = std::numeric_limits<double>::quiet_NaN();
  Vector ema, swa_sum;
  Step swa_count = 0;
  /// The diagnostics' warm starts and references (Diagnostic::state), by array name.
  NamedArrays diagnostics;
  /// Products the diagnostics spent on the row at `step` where the run stopped (a continued run
  /// recomputes that row), by diagnostic.
  std::map<std::string, Index> stop_products;
};

/// One row per recorded step. The diagnostic columns exist only when recorded, with NaN at rows
/// that do not compute them.
struct Trajectory {
  std::vector<Step> step;
  std::vector<double> loss, grad_norm, pl, lr, distance;
  std::map<std::string, std::vector<double>> columns;  // the diagnostics, by name
  std::vector<double> params;  // rows x P, only rows where params were taken
  std::vector<Step> params_step;
  std::map<std::string, Index> products;  // operator products spent, by diagnostic
  Status status = Status::Running;
  std::string message;
  std::size_t rows() const { return step.size(); }
};

/// Starts a run: state.w = state.w0 = w0, the optimizer reset.
TrainState start_state(const Model& model, Optimizer& optimizer, const VectorRef& w0);

/// Runs from state.step up to options.steps, appending rows to `trajectory` and advancing
/// `state` and the optimizer. Throws std::invalid_argument for bad options. Re-running with the
/// returned state (after dropping a trailing row at state.step) continues bit-identically.
Status train(const Model& model, Optimizer& optimizer, TrainState& state, Trajectory& trajectory,
             const TrainOptions& options);

}  // namespace landscope
