#pragma once
// The abstract model interface: a differentiable map w -> F(w) with a loss on top.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "landscope/operator.hpp"
#include "landscope/types.hpp"

namespace landscope {

class Point;
class Diagnostic;

/// A named block of the flat parameter vector: w[offset : offset + rows*cols] in row-major order.
struct ParamBlock {
  std::string name;
  Index offset;
  Index rows;
  Index cols;
};

/// Every model answers these exactly (no finite differences). A new model family implements the
/// pure virtual methods (loss_and_gradient, outputs, residuals, jacobian, hvp, gauss_newton_vp and
/// the sizes); the rest have defaults built on them, and at() a point that asks the model.
/// Conventions: P = num_params(), n = num_samples(), k = output_dim(); outputs are n x k,
/// Jacobian rows are indexed i*k + c. Vectors of directions V are P x b (one direction a column).
/// Sample subsets (`samples`, may be null for all samples) select rows of the data,
/// duplicates allowed; "mean" reduction then divides by the subset size.
class Model {
 public:
  virtual ~Model() = default;

  virtual Index num_params() const = 0;
  virtual Index num_samples() const = 0;
  virtual Index output_dim() const = 0;
  Index num_outputs() const { return num_samples() * output_dim(); }
  virtual std::vector<ParamBlock> param_blocks() const = 0;
  virtual Vector init(std::uint64_t seed) const = 0;

  /// The model at w (on `samples`, or all samples): checks w once and serves every quantity
  /// below from one cache (landscope/point.hpp). Layered models share their passes there.
  virtual std::shared_ptr<Point> at(const VectorRef& w, const IndexVector* samples = nullptr) const;
  /// The full-batch losses at the b columns of W (P x b), and the gradient norms when
  /// `grad_norms` is given; parallel over points and samples, summed in a fixed order (the
  /// same for any thread count).
  virtual Vector losses(const MatrixRef& W, Vector* grad_norms = nullptr) const;
  /// The full-batch losses at w + D c_j for the b columns c_j of C (k x b), D is P x k: points of
  /// a line, a plane or any span around w (a loss surface). The same values as losses() of the
  /// formed points, up to rounding; layered networks evaluate their first layer once for the
  /// whole span instead of once a point. Throws std::invalid_argument on shapes or NaN/Inf.
  virtual Vector losses_in_span(const VectorRef& w, const MatrixRef& D, const MatrixRef& C) const;
  /// A training diagnostic only this model family defines (null: none by that name).
  virtual std::unique_ptr<Diagnostic> diagnostic(const std::string& name) const;
  /// The names diagnostic() knows.
  virtual std::vector<std::string> diagnostics() const { return {}; }

  /// The default goes through loss_and_gradient().
  virtual double loss(const VectorRef& w, const IndexVector* samples = nullptr) const;
  /// Returns the loss and writes the gradient into `grad` (resized to P).
  virtual double loss_and_gradient(const VectorRef& w, Vector& grad,
                                   const IndexVector* samples = nullptr) const = 0;
  Vector gradient(const VectorRef& w, const IndexVector* samples = nullptr) const;

  virtual MatrixR outputs(const VectorRef& w) const = 0;
  /// dℓ/dF per sample before the reduction: F − Y (square), softmax(F) − onehot (cross-entropy).
  virtual MatrixR residuals(const VectorRef& w) const = 0;
  virtual MatrixR jacobian(const VectorRef& w) const = 0;
  /// The default forms J Jᵀ.
  virtual MatrixR tangent_kernel(const VectorRef& w) const;

  /// Exact H V (forward-over-reverse); V is P x b.
  virtual Matrix hvp(const VectorRef& w, const MatrixRef& V,
                     const IndexVector* samples = nullptr) const = 0;
  /// G V with G = Jᵀ (∂²ℓ/∂F²) J, never forming J.
  virtual Matrix gauss_newton_vp(const VectorRef& w, const MatrixRef& V) const = 0;
  /// J V (n·k x b, rows i*k + c) and Jᵀ U (P x b, U is n·k x b), never forming J.
  /// The defaults go through jacobian(); layered models override them.
  virtual Matrix jvp(const VectorRef& w, const MatrixRef& V) const;
  virtual Matrix vjp(const VectorRef& w, const MatrixRef& U) const;

  /// H(w), G(w) (P x P) and K(w) = J Jᵀ (n·k x n·k) as operators: at(w)'s, which keep the point
  /// (and its cached passes) alive and refer to the model, which must outlive them.
  std::unique_ptr<LinearOperator> hessian_operator(const VectorRef& w) const;
  std::unique_ptr<LinearOperator> gauss_newton_operator(const VectorRef& w) const;
  std::unique_ptr<LinearOperator> kernel_operator(const VectorRef& w) const;

  /// Dense symmetric Hessian, P x P. The default applies hvp() to the identity.
  virtual MatrixR hessian(const VectorRef& w) const;
  /// (G, R): Gauss–Newton and residual parts, H = G + R. The default applies
  /// gauss_newton_vp() to the identity and takes R = hessian() − G.
  virtual std::pair<MatrixR, MatrixR> hessian_parts(const VectorRef& w) const;

 protected:
  friend class Point;
  void check_params(const VectorRef& w) const;
  void check_directions(const MatrixRef& V) const;
  void check_samples(const IndexVector* samples) const;
};

}  // namespace landscope
