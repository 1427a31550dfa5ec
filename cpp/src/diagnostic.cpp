// The built-in training diagnostics and their table.
#include "landscope/diagnostic.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "check.hpp"
#include "landscope/spectra.hpp"

namespace landscope {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using detail::num;
using detail::require;

/// The array `key` of a saved state (empty when absent), checked against `size`.
Vector find_array(const NamedArrays& s, const std::string& key, Index size, const char* what) {
  for (const auto& [k, v] : s)
    if (k == key) {
      require(v.size() == 0 || v.size() == size, "state: " + key + " has length " + std::to_string(v.size()) +
                                                     ", expected " + std::to_string(size) + " (" + what + ")");
      return v;
    }
  return Vector();
}

/// One eigenvalue at an end of `op` by Lanczos started from `vector` (a warm start, when it fits),
/// which becomes the new eigenvector; NaN (and `vector` untouched) when the solve stops first.
double warm_lanczos(const LinearOperator& op, LanczosOptions lo, Vector& vector, Row& row, Index& products) {
  lo.k = 1;
  if (vector.size() == op.size()) lo.v0 = vector;
  lo.callback = [&row](const LanczosProgress&) { return row.keep_going(); };
  const LanczosResult r = lanczos(op, lo);
  products += r.products;
  if (!r.converged()) return kNaN;
  vector = r.eigenvectors.col(0);
  return r.eigenvalues[0];
}

/// λ_max(H) by Lanczos in early-exit mode, warm-started from the previous row's eigenvector.
class Sharpness : public Diagnostic {
 public:
  std::string name() const override { return "sharpness"; }
  bool uses_curvature() const override { return true; }
  double memory_bytes(const Model& m, const RecorderSettings&) const override {
    return 8.0 * m.num_params() * 24;  // the Lanczos basis
  }
  double compute(Row& row) override {
    const Index P = row.point.model().num_params();
    if (P < 2) return row.point.hessian()(0, 0);
    LanczosOptions lo;
    lo.which = Which::Largest;
    lo.tol = row.settings.sharpness_tol;
    lo.early_exit = true;
    lo.max_products = row.settings.sharpness_max_products;
    lo.ncv = std::min<Index>(20, P - 1);  // restarts every 20 products
    return warm_lanczos(*row.point.hessian_operator(), lo, m_vector, row, products);
  }
  NamedArrays state() const override { return {{"sharpness_vector", m_vector}}; }
  void set_state(const NamedArrays& s, const Model& m) override {
    m_vector = find_array(s, "sharpness_vector", m.num_params(), "P");
  }

 private:
  Vector m_vector;
};

/// λ_min(K): from the dense K when n·k <= dense_kernel_max, else Lanczos warm-started.
class KernelMin : public Diagnostic {
 public:
  std::string name() const override { return "kernel_min"; }
  double memory_bytes(const Model& m, const RecorderSettings& s) const override {
    const double N = static_cast<double>(m.num_outputs());
    return m.num_outputs() <= s.dense_kernel_max ? 24.0 * N * N : 8.0 * N * 40;
  }
  double compute(Row& row) override {
    const Index N = row.point.model().num_outputs();
    if (N <= row.settings.dense_kernel_max) {
      const MatrixR& K = row.point.kernel();
      // Its row-major storage read as column-major is K itself (symmetric).
      Eigen::SelfAdjointEigenSolver<Matrix> es(Eigen::Map<const Matrix>(K.data(), N, N), Eigen::EigenvaluesOnly);
      return es.eigenvalues()[0];
    }
    LanczosOptions lo;
    lo.which = Which::Smallest;
    lo.tol = row.settings.kernel_tol;
    return warm_lanczos(*row.point.kernel_operator(), lo, m_vector, row, products);
  }
  NamedArrays state() const override { return {{"kernel_vector", m_vector}}; }
  void set_state(const NamedArrays& s, const Model& m) override {
    m_vector = find_array(s, "kernel_vector", m.num_outputs(), "n·k");
  }

 private:
  Vector m_vector;
};

/// ‖K_t − K_0‖_F / ‖K_0‖_F, with K_0 = K(w_0) formed at the start of the run and kept.
class KernelDrift : public Diagnostic {
 public:
  std::string name() const override { return "kernel_drift"; }
  double memory_bytes(const Model& m, const RecorderSettings&) const override {
    const double N = static_cast<double>(m.num_outputs());
    return 24.0 * N * N;
  }
  void start(const Model& model, const Vector& w0) override {
    if (m_K0.size()) return;
    const MatrixR K0 = model.tangent_kernel(w0);
    require(K0.norm() > 0, "kernel_drift: the tangent kernel at w0 is zero");
    m_K0 = Eigen::Map<const Vector>(K0.data(), K0.size());
  }
  double compute(Row& row) override {
    const MatrixR& K = row.point.kernel();
    const Eigen::Map<const Vector> k(K.data(), K.size());
    return (k - m_K0).norm() / m_K0.norm();
  }
  NamedArrays state() const override { return {{"kernel0", m_K0}}; }
  bool updates_state() const override { return false; }  // K_0 is fixed at the start
  void set_state(const NamedArrays& s, const Model& m) override {
    m_K0 = find_array(s, "kernel0", m.num_outputs() * m.num_outputs(), "(n·k)²");
  }

 private:
  Vector m_K0;  // K(w_0), row-major
};

/// ‖H‖_F from the dense Hessian.
class HessianNorm : public Diagnostic {
 public:
  std::string name() const override { return "hessian_norm"; }
  double memory_bytes(const Model& m, const RecorderSettings&) const override {
    return 8.0 * m.num_params() * m.num_params();
  }
  double compute(Row& row) override { return row.point.hessian().norm(); }
  bool updates_state() const override { return false; }
};

/// cos(∇L(w_t), ∇L(w_s)) between the full-batch gradients of this row and the previous row
/// that computed it (NaN at the first): near −1 when GD oscillates across a valley, the
/// edge-of-stability signature; near 1 on a smooth descent.
class GradCosine : public Diagnostic {
 public:
  std::string name() const override { return "grad_cosine"; }
  double compute(Row& row) override {
    const Vector& g = row.point.gradient();
    double c = kNaN;
    if (m_previous.size() == g.size()) {
      const double denom = g.norm() * m_previous.norm();
      c = denom > 0 ? g.dot(m_previous) / denom : kNaN;
    }
    m_previous = g;
    return c;
  }
  NamedArrays state() const override { return {{"grad_cosine_previous", m_previous}}; }
  void set_state(const NamedArrays& s, const Model& m) override {
    m_previous = find_array(s, "grad_cosine_previous", m.num_params(), "P");
  }

 private:
  Vector m_previous;
};

using Factory = std::unique_ptr<Diagnostic> (*)();
template <class D>
std::unique_ptr<Diagnostic> make() { return std::make_unique<D>(); }

/// The table of built-ins: a new diagnostic is a class above and a line here.
const std::vector<std::pair<std::string, Factory>>& table() {
  static const std::vector<std::pair<std::string, Factory>> t = {
      {"sharpness", &make<Sharpness>},       {"kernel_min", &make<KernelMin>},
      {"kernel_drift", &make<KernelDrift>},  {"hessian_norm", &make<HessianNorm>},
      {"grad_cosine", &make<GradCosine>},
  };
  return t;
}

}  // namespace

void RecorderSettings::check() const {
  require(sharpness_tol > 0 && sharpness_tol < 1, "sharpness_tol: expected 0 < tol < 1, got " + num(sharpness_tol));
  require(sharpness_max_products >= 1,
          "sharpness_max_products: expected >= 1, got " + std::to_string(sharpness_max_products));
  require(kernel_tol > 0 && kernel_tol < 1, "kernel_tol: expected 0 < tol < 1, got " + num(kernel_tol));
  require(dense_kernel_max >= 0, "dense_kernel_max: expected >= 0, got " + std::to_string(dense_kernel_max));
}

const std::vector<std::string>& builtin_diagnostics() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, make] : table()) out.push_back(name);
    return out;
  }();
  return names;
}

std::unique_ptr<Diagnostic> make_diagnostic(const std::string& name, const Model& model) {
  if (auto own = model.diagnostic(name)) return own;
  for (const auto& [known, make] : table())
    if (known == name) return make();
  for (const auto& own : model.diagnostics())
    if (own == name) throw std::logic_error("make_diagnostic: the model lists '" + name + "' but does not make it");
  std::string names;
  for (const auto& n : builtin_diagnostics()) names += (names.empty() ? "'" : ", '") + n + "'";
  for (const auto& n : model.diagnostics()) names += ", '" + n + "'";
  names += ", 'params'";
  throw std::invalid_argument("record: unknown quantity '" + name + "' for this model, expected some of " + names);
}

}  // namespace landscope
