#pragma once
// Training diagnostics: quantities the recorder computes at a row of a run (DESIGN §1's
// sharpness, kernel conditioning, ...). A new one is a class here plus a line in the table of
// diagnostic.cpp (or, for one that only makes sense for one model family, the model's
// Model::diagnostic()).
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "landscope/point.hpp"

namespace landscope {

/// Named state arrays (scalars are length-1 vectors): enough to continue bit-identically.
using NamedArrays = std::vector<std::pair<std::string, Vector>>;

/// Settings of the built-in diagnostics (one place for their defaults).
struct RecorderSettings {
  double sharpness_tol = 1e-4;         // ‖H v − θ v‖ <= tol·max(|θ|, largest ‖H q‖ seen)
  Index sharpness_max_products = 500;  // a row's sharpness is NaN beyond this many products
  double kernel_tol = 1e-8;            // Lanczos tolerance for λ_min(K) when K is not formed
  Index dense_kernel_max = 2048;       // λ_min(K) from the dense K when n·k is at most this
  /// The only semantic check: throws std::invalid_argument naming the Python keyword.
  void check() const;
};

/// What a diagnostic sees at a row: the model at w_t on all samples, with its loss and gradient
/// computed (and its curvature prepared when any due diagnostic asked for it).
struct Row {
  Point& point;
  Step step;
  const Vector& w0;
  const RecorderSettings& settings;
  /// Asked between products of long solves; false means stop (the diagnostic returns NaN).
  const std::function<bool()>& keep_going;
};

class Diagnostic {
 public:
  virtual ~Diagnostic() = default;
  /// The record= name and the column's name.
  virtual std::string name() const = 0;
  /// Whether compute() uses Hessian products (the row then prepares the point's curvature once).
  virtual bool uses_curvature() const { return false; }
  /// Bytes the diagnostic allocates at a row or keeps between rows (for memory budgeting).
  virtual double memory_bytes(const Model& model, const RecorderSettings& settings) const {
    (void)model, (void)settings;
    return 0;
  }
  /// Called before the first row of a run (and of a continued run, after set_state).
  virtual void start(const Model& model, const Vector& w0) { (void)model, (void)w0; }
  /// The value at the row; NaN where it cannot be computed (a solve that did not converge).
  virtual double compute(Row& row) = 0;
  /// Warm starts and references kept between rows; saved with the trajectory.
  virtual NamedArrays state() const { return {}; }
  /// Whether compute() changes state() (then a row that must be retaken restores it).
  virtual bool updates_state() const { return true; }
  /// Restores state(); throws std::invalid_argument on a mismatch with the model.
  virtual void set_state(const NamedArrays& state, const Model& model) { (void)state, (void)model; }
  /// Operator products spent so far (the eigensolver-based diagnostics count them).
  Index products = 0;
};

/// The built-in diagnostics by name, in the order of their columns.
const std::vector<std::string>& builtin_diagnostics();
/// The diagnostic `name` for `model`: the model's own (Model::diagnostic) or a built-in one.
/// Throws std::invalid_argument ("record: unknown quantity ...") for an unknown name.
std::unique_ptr<Diagnostic> make_diagnostic(const std::string& name, const Model& model);

}  // namespace landscope
