// The defaults of the Model interface, and the generic Point (a model's own point may cache
// more: network_point.cpp).
#include "landscope/model.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "landscope/diagnostic.hpp"
#include "landscope/point.hpp"
#include "check.hpp"
#include "parallel.hpp"

namespace landscope {

// ---------------------------------------------------------------------------------------------
// Model defaults

std::shared_ptr<Point> Model::at(const VectorRef& w, const IndexVector* samples) const {
  return std::make_shared<Point>(*this, w, samples);
}

Vector Model::losses(const MatrixRef& W, Vector* grad_norms) const {
  if (W.rows() != num_params())
    throw std::invalid_argument("W: expected " + std::to_string(num_params()) + " rows (one point a column), got " +
                                std::to_string(W.rows()));
  const Index b = W.cols();
  Vector out(b);
  if (grad_norms) grad_norms->resize(b);
  for (Index j = 0; j < b; ++j) {
    check_interrupt();
    auto p = at(W.col(j));
    out[j] = p->loss();
    if (grad_norms) (*grad_norms)[j] = p->grad_norm();
  }
  return out;
}

namespace detail {
void check_span(Index P, const VectorRef& w, const MatrixRef& D, const MatrixRef& C) {
  if (w.size() != P)
    throw std::invalid_argument("w: expected " + std::to_string(P) + " entries, got " + std::to_string(w.size()));
  if (D.rows() != P)
    throw std::invalid_argument("D: expected " + std::to_string(P) + " rows (one direction a column), got " +
                                std::to_string(D.rows()));
  if (C.rows() != D.cols())
    throw std::invalid_argument("C: expected " + std::to_string(D.cols()) + " rows (one coordinate a direction), got " +
                                std::to_string(C.rows()));
  if (!w.allFinite()) throw std::invalid_argument("w: contains NaN or Inf");
  if (!D.allFinite()) throw std::invalid_argument("D: contains NaN or Inf");
  if (!C.allFinite()) throw std::invalid_argument("C: contains NaN or Inf");
}
}  // namespace detail

Vector Model::losses_in_span(const VectorRef& w, const MatrixRef& D, const MatrixRef& C) const {
  detail::check_span(num_params(), w, D, C);
  const Index b = C.cols(), group = 64;
  Vector out(b);
  Matrix W;
  for (Index j = 0; j < b; j += group) {
    const Index m = std::min(group, b - j);
    W.noalias() = D * C.middleCols(j, m);
    W.colwise() += w;
    out.segment(j, m) = losses(W);
  }
  return out;
}

std::unique_ptr<Diagnostic> Model::diagnostic(const std::string&) const { return nullptr; }

double Model::loss(const VectorRef& w, const IndexVector* samples) const {
  Vector g;
  return loss_and_gradient(w, g, samples);
}

Vector Model::gradient(const VectorRef& w, const IndexVector* samples) const {
  Vector g;
  loss_and_gradient(w, g, samples);
  return g;
}

Matrix Model::jvp(const VectorRef& w, const MatrixRef& V) const {
  check_directions(V);
  return jacobian(w) * V;
}

Matrix Model::vjp(const VectorRef& w, const MatrixRef& U) const {
  if (U.rows() != num_outputs())
    throw std::invalid_argument("u: expected " + std::to_string(num_outputs()) + " rows, got " +
                                std::to_string(U.rows()));
  if (!U.allFinite()) throw std::invalid_argument("u: contains NaN or Inf");
  return jacobian(w).transpose() * U;
}

MatrixR Model::tangent_kernel(const VectorRef& w) const {
  const MatrixR J = jacobian(w);
  return J * J.transpose();
}

MatrixR Model::hessian(const VectorRef& w) const {
  const Index P = num_params();
  const Matrix H = hvp(w, Matrix::Identity(P, P));
  return 0.5 * (H + H.transpose());
}

std::pair<MatrixR, MatrixR> Model::hessian_parts(const VectorRef& w) const {
  const Index P = num_params();
  const Matrix Gc = gauss_newton_vp(w, Matrix::Identity(P, P));
  MatrixR G = 0.5 * (Gc + Gc.transpose());
  MatrixR R = hessian(w) - G;
  return {std::move(G), std::move(R)};
}

std::unique_ptr<LinearOperator> Model::hessian_operator(const VectorRef& w) const { return at(w)->hessian_operator(); }
std::unique_ptr<LinearOperator> Model::gauss_newton_operator(const VectorRef& w) const {
  return at(w)->gauss_newton_operator();
}
std::unique_ptr<LinearOperator> Model::kernel_operator(const VectorRef& w) const { return at(w)->kernel_operator(); }

void Model::check_params(const VectorRef& w) const {
  if (w.size() != num_params())
    throw std::invalid_argument("w: expected " + std::to_string(num_params()) +
                                " parameters, got " + std::to_string(w.size()));
  if (!w.allFinite()) throw std::invalid_argument("w: contains NaN or Inf");
}

void Model::check_directions(const MatrixRef& V) const {
  if (V.rows() != num_params())
    throw std::invalid_argument("v: expected " + std::to_string(num_params()) +
                                " rows, got " + std::to_string(V.rows()));
  if (!V.allFinite()) throw std::invalid_argument("v: contains NaN or Inf");
}

void Model::check_samples(const IndexVector* samples) const {
  if (!samples) return;
  if (samples->size() == 0) throw std::invalid_argument("samples: empty index array");
  const Index n = num_samples();
  for (Index i = 0; i < samples->size(); ++i) {
    const auto s = (*samples)[i];
    if (s < 0 || s >= n)
      throw std::invalid_argument("samples: index " + std::to_string(s) + " out of range [0, " +
                                  std::to_string(n) + ")");
  }
}

// ---------------------------------------------------------------------------------------------
// Point

Point::Point(const Model& model, const VectorRef& w, const IndexVector* samples) : m_model(model) {
  model.check_params(w);
  model.check_samples(samples);
  m_w = w;
  if (samples) m_samples = *samples;
}

void Point::prepare_curvature() {
  std::lock_guard<std::mutex> lock(m_lock);
  do_prepare_curvature();
}

double Point::loss() {
  std::lock_guard<std::mutex> lock(m_lock);
  if (!m_have_loss) {
    m_loss = compute_loss();
    m_have_loss = true;
  }
  return m_loss;
}

const Vector& Point::gradient() {
  std::lock_guard<std::mutex> lock(m_lock);
  if (!m_have_grad) {
    Vector g;
    const double f = compute_loss_and_gradient(g);
    set_first_order(f, std::move(g));
  }
  return m_grad;
}

double Point::grad_norm() {
  const Vector& g = gradient();
  const double n = g.norm();
  return std::isfinite(n) || !g.allFinite() ? n : g.blueNorm();  // overflow-safe when needed
}

const MatrixR& Point::kernel() {
  std::lock_guard<std::mutex> lock(m_lock);
  if (!m_have_kernel) {
    m_kernel = tangent_kernel();
    m_have_kernel = true;
  }
  return m_kernel;
}

void Point::set_first_order(double loss, Vector grad) {
  m_loss = loss;
  m_have_loss = true;
  m_grad = std::move(grad);
  m_have_grad = true;
}

double Point::compute_loss() { return m_model.loss(m_w, samples()); }
double Point::compute_loss_and_gradient(Vector& grad) { return m_model.loss_and_gradient(m_w, grad, samples()); }

Matrix Point::hvp(const MatrixRef& V) const { return m_model.hvp(m_w, V, samples()); }
Matrix Point::gauss_newton_vp(const MatrixRef& V) const { return m_model.gauss_newton_vp(m_w, V); }
Matrix Point::jvp(const MatrixRef& V) const { return m_model.jvp(m_w, V); }
Matrix Point::vjp(const MatrixRef& U) const { return m_model.vjp(m_w, U); }

std::unique_ptr<LinearOperator> Point::hessian_operator() {
  std::shared_ptr<const Point> self = shared_from_this();
  return std::make_unique<FunctionOperator>(m_model.num_params(),
                                            [self](const MatrixRef& X, Matrix& Y) { Y = self->hvp(X); });
}

std::unique_ptr<LinearOperator> Point::gauss_newton_operator() {
  std::shared_ptr<const Point> self = shared_from_this();
  return std::make_unique<FunctionOperator>(m_model.num_params(),
                                            [self](const MatrixRef& X, Matrix& Y) { Y = self->gauss_newton_vp(X); });
}

std::unique_ptr<LinearOperator> Point::kernel_operator() {
  std::shared_ptr<const Point> self = shared_from_this();
  return std::make_unique<FunctionOperator>(m_model.num_outputs(),
                                            [self](const MatrixRef& U, Matrix& Y) { Y = self->jvp(self->vjp(U)); });
}

}  // namespace landscope
