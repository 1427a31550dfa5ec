#include "landscope/operator.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>
#include <string>

#include "parallel.hpp"

namespace landscope {

DenseOperator::DenseOperator(Matrix A) : m_owned(std::move(A)), m_A(m_owned.data(), m_owned.rows(), m_owned.cols()) {
  if (m_owned.rows() != m_owned.cols())
    throw std::invalid_argument("A: expected a square matrix, got " + std::to_string(m_owned.rows()) +
                                " x " + std::to_string(m_owned.cols()));
}

DenseOperator::DenseOperator(const double* data, Index n) : m_A(data, n, n) {}

void DenseOperator::apply(const MatrixRef& X, Matrix& Y) const {
  const Index n = m_A.rows(), b = X.cols();
  if (X.rows() != n) throw std::invalid_argument("X: expected " + std::to_string(n) + " rows");
  Y.resize(n, b);
  // Row blocks of Y in parallel; A is symmetric, so the row block of A is a column block of Aᵀ.
  const Index chunk = 256, chunks = (n + chunk - 1) / chunk;
  const int threads = detail::threads_for(2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(b));
  detail::parallel_for(chunks, threads, [&](Index c) {
    const Index r0 = c * chunk, rs = std::min(chunk, n - r0);
    Y.middleRows(r0, rs).noalias() = m_A.middleCols(r0, rs).transpose() * X;
  });
}

SymmetryCheck check_symmetry(const double* data, Index n) {
  const Eigen::Map<const Matrix> A(data, n, n);
  const Index tile = 64, nt = (n + tile - 1) / tile;
  std::vector<SymmetryCheck> rows(nt);
  // One thread: the pass is memory-bound, and spinning OpenMP workers would slow the LAPACK
  // call (on BLAS threads) that usually follows.
  detail::parallel_for(nt, 1, [&](Index I) {
    SymmetryCheck& c = rows[I];
    const Index r0 = I * tile, rs = std::min(tile, n - r0);
    for (Index J = I; J < nt; ++J) {
      const Index c0 = J * tile, cs = std::min(tile, n - c0);
      const auto upper = A.block(r0, c0, rs, cs);
      const auto lower = A.block(c0, r0, cs, rs);
      c.asymmetry = std::max(c.asymmetry, (upper - lower.transpose()).cwiseAbs().maxCoeff());
      c.max_abs = std::max({c.max_abs, upper.cwiseAbs().maxCoeff(), lower.cwiseAbs().maxCoeff()});
      c.finite = c.finite && upper.allFinite() && lower.allFinite();
    }
  });
  SymmetryCheck out;
  for (const SymmetryCheck& c : rows) {
    out.asymmetry = std::max(out.asymmetry, c.asymmetry);
    out.max_abs = std::max(out.max_abs, c.max_abs);
    out.finite = out.finite && c.finite;
  }
  return out;
}

FunctionOperator::FunctionOperator(Index n, Apply f) : m_n(n), m_f(std::move(f)) {
  if (n < 1) throw std::invalid_argument("n: expected an operator size >= 1, got " + std::to_string(n));
}

}  // namespace landscope
