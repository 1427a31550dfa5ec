#pragma once
// Symmetric linear operators: all that the eigensolvers, stochastic Lanczos quadrature and the
// trace estimators need of a matrix.
#include <functional>
#include <memory>

#include "landscope/types.hpp"

namespace landscope {

/// A symmetric n x n operator that multiplies blocks of vectors. `apply` must be safe to call
/// from several threads at once when the operator is shared between concurrent solves.
class LinearOperator {
 public:
  virtual ~LinearOperator() = default;
  virtual Index size() const = 0;
  /// Y = A X for a block X (n x b); Y is resized to n x b.
  virtual void apply(const MatrixRef& X, Matrix& Y) const = 0;
};

/// A dense symmetric matrix. The non-owning form reads `data` (n*n doubles, either storage
/// order since the matrix is symmetric), which must outlive the operator.
class DenseOperator : public LinearOperator {
 public:
  explicit DenseOperator(Matrix A);
  DenseOperator(const double* data, Index n);
  Index size() const override { return m_A.rows(); }
  void apply(const MatrixRef& X, Matrix& Y) const override;

 private:
  Matrix m_owned;
  Eigen::Map<const Matrix> m_A;
};

/// One pass over a dense n x n matrix (either storage order): max |A − Aᵀ|, max |A| and
/// whether every entry is finite. Blocked, no temporaries.
struct SymmetryCheck {
  double asymmetry = 0;
  double max_abs = 0;
  bool finite = true;
};
SymmetryCheck check_symmetry(const double* data, Index n);

/// Any function computing Y = A X.
class FunctionOperator : public LinearOperator {
 public:
  using Apply = std::function<void(const MatrixRef& X, Matrix& Y)>;
  FunctionOperator(Index n, Apply f);
  Index size() const override { return m_n; }
  void apply(const MatrixRef& X, Matrix& Y) const override { m_f(X, Y); }

 private:
  Index m_n;
  Apply m_f;
};

}  // namespace landscope
