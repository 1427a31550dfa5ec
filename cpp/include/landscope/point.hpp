#pragma once
// A model at one parameter vector: everything DESIGN §2 defines at w, from one validation and
// (for layered models) one forward/backward pass shared by every quantity asked for.
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "landscope/model.hpp"

namespace landscope {

/// Model::at(w) (or at(w, samples)): w (and the sample subset) are checked once, here. Loss and
/// gradient are computed once and cached; products reuse the cached passes where the model has
/// them. A point refers to its model, which must outlive it. All methods are safe to call from
/// several threads at once (the caches are filled under a lock).
class Point : public std::enable_shared_from_this<Point> {
 public:
  Point(const Model& model, const VectorRef& w, const IndexVector* samples = nullptr);
  virtual ~Point() = default;
  Point(const Point&) = delete;
  Point& operator=(const Point&) = delete;

  const Model& model() const { return m_model; }
  const Vector& w() const { return m_w; }
  /// The sample subset, or null for all samples.
  const IndexVector* samples() const { return m_samples ? &*m_samples : nullptr; }

  double loss();
  const Vector& gradient();
  double grad_norm();
  /// Makes the point ready for Hessian products: a layered model runs its second-order forward
  /// and backward pass once, after which loss, gradient and H v come from it.
  void prepare_curvature();

  /// H V for V of shape P x b (samples of the point).
  virtual Matrix hvp(const MatrixRef& V) const;
  /// G V, J V, Jᵀ U on all samples (the full-batch quantities of DESIGN §2).
  virtual Matrix gauss_newton_vp(const MatrixRef& V) const;
  virtual Matrix jvp(const MatrixRef& V) const;
  virtual Matrix vjp(const MatrixRef& U) const;
  virtual MatrixR outputs() const { return m_model.outputs(m_w); }
  virtual MatrixR residuals() const { return m_model.residuals(m_w); }
  virtual MatrixR jacobian() const { return m_model.jacobian(m_w); }
  virtual MatrixR tangent_kernel() const { return m_model.tangent_kernel(m_w); }
  virtual MatrixR hessian() const { return m_model.hessian(m_w); }
  virtual std::pair<MatrixR, MatrixR> hessian_parts() const { return m_model.hessian_parts(m_w); }

  /// tangent_kernel(), computed once per point.
  const MatrixR& kernel();

  /// H, G (P x P) and K = J Jᵀ (n·k x n·k) as operators that keep this point alive.
  virtual std::unique_ptr<LinearOperator> hessian_operator();
  std::unique_ptr<LinearOperator> gauss_newton_operator();
  std::unique_ptr<LinearOperator> kernel_operator();

 protected:
  virtual void do_prepare_curvature() {}
  void check_directions(const MatrixRef& V) const { m_model.check_directions(V); }
  /// Computes the loss and the gradient (the default asks the model).
  virtual double compute_loss();
  virtual double compute_loss_and_gradient(Vector& grad);
  void set_first_order(double loss, Vector grad);

  const Model& m_model;
  Vector m_w;
  std::optional<IndexVector> m_samples;

 private:
  std::mutex m_lock;
  double m_loss = std::numeric_limits<double>::quiet_NaN();
  bool m_have_loss = false;
  Vector m_grad;
  bool m_have_grad = false;
  MatrixR m_kernel;
  bool m_have_kernel = false;
};

}  // namespace landscope
