// Thick-restart block Lanczos (Wu & Simon's restart, in the Krylov–Schur form) with full
// reorthogonalization. The projected matrix T = Vᵀ A V is kept dense: every coefficient of the
// Gram–Schmidt step is stored, so after a restart the arrowhead coupling of the kept Ritz
// vectors is recomputed, never assumed.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "krylov.hpp"
#include "landscope/interrupt.hpp"
#include "landscope/spectra.hpp"
#include "memory.hpp"

namespace landscope {

namespace {

std::string str(Index v) { return std::to_string(v); }

/// Indices of the Ritz values (ascending θ) from most to least wanted.
std::vector<Index> wanted_order(const Vector& theta, Which which) {
  const Index c = theta.size();
  std::vector<Index> order(c);
  switch (which) {
    case Which::Largest:
      for (Index i = 0; i < c; ++i) order[i] = c - 1 - i;
      break;
    case Which::Smallest:
      std::iota(order.begin(), order.end(), Index(0));
      break;
    case Which::LargestMagnitude:
      std::iota(order.begin(), order.end(), Index(0));
      std::stable_sort(order.begin(), order.end(),
                       [&](Index a, Index b) { return std::abs(theta[a]) > std::abs(theta[b]); });
      break;
    case Which::BothEnds: {
      Index lo = 0, hi = c - 1;
      for (Index i = 0; i < c; ++i) order[i] = (i % 2 == 0) ? hi-- : lo++;
      break;
    }
  }
  return order;
}

void check_product(const Matrix& W, Index n, Index b) {
  if (W.rows() != n || W.cols() != b)
    throw std::invalid_argument("op: the product has shape (" + str(W.rows()) + ", " + str(W.cols()) +
                                "), expected (" + str(n) + ", " + str(b) + ")");
  if (!W.allFinite()) throw std::invalid_argument("op: the product contains NaN or Inf");
}

/// k wanted pairs of the dense matrix A (n x n), from its full eigendecomposition.
LanczosResult dense_solve(const LinearOperator& A, const LanczosOptions& o) {
  const Index n = A.size();
  Matrix M(n, n), W;
  const Index step = 256;
  for (Index c0 = 0; c0 < n; c0 += step) {
    const Index cs = std::min(step, n - c0);
    check_interrupt();
    A.apply(Matrix::Identity(n, n).middleCols(c0, cs), W);
    check_product(W, n, cs);
    M.middleCols(c0, cs) = W;
  }
  M = 0.5 * (M + M.transpose()).eval();
  Eigen::SelfAdjointEigenSolver<Matrix> es(M);
  const Vector& theta = es.eigenvalues();
  std::vector<Index> idx = wanted_order(theta, o.which);
  idx.resize(o.k);
  std::sort(idx.begin(), idx.end(), [&](Index a, Index b) { return theta[a] < theta[b]; });
  LanczosResult r;
  r.eigenvalues.resize(o.k);
  r.eigenvectors.resize(n, o.k);
  for (Index i = 0; i < o.k; ++i) {
    r.eigenvalues[i] = theta[idx[i]];
    r.eigenvectors.col(i) = es.eigenvectors().col(idx[i]);
  }
  r.residuals = (M * r.eigenvectors - r.eigenvectors * r.eigenvalues.asDiagonal()).colwise().norm().transpose();
  r.products = n;
  r.anorm = theta.cwiseAbs().maxCoeff();
  r.num_converged = o.k;
  r.status = Status::Converged;
  return r;
}

}  // namespace

Which which_from_string(const std::string& s) {
  if (s == "LA") return Which::Largest;
  if (s == "SA") return Which::Smallest;
  if (s == "BE") return Which::BothEnds;
  if (s == "LM") return Which::LargestMagnitude;
  throw std::invalid_argument("which: expected one of ('LA', 'SA', 'BE', 'LM'), got '" + s + "'");
}

Index LanczosOptions::default_ncv(Index n) const {
  return ncv ? ncv : std::min(n, std::max<Index>(30, 2 * k + 2 * block_size));
}

void LanczosOptions::check(Index n) const {
  if (n < 1) throw std::invalid_argument("op: the operator has size " + str(n));
  if (k < 1) throw std::invalid_argument("k: expected an integer >= 1, got " + str(k));
  if (k >= n)
    throw std::invalid_argument("k: expected k < n = " + str(n) + ", got " + str(k) +
                                " (use landscope.eigh for all eigenvalues)");
  if (block_size < 1) throw std::invalid_argument("block_size: expected an integer >= 1, got " + str(block_size));
  if (block_size > n)
    throw std::invalid_argument("block_size: expected <= n = " + str(n) + ", got " + str(block_size));
  if (!(tol > 0) || !std::isfinite(tol) || tol >= 1)
    throw std::invalid_argument("tol: expected 0 < tol < 1, got " + std::to_string(tol));
  if (maxiter < 1) throw std::invalid_argument("maxiter: expected an integer >= 1, got " + str(maxiter));
  if (ncv != 0 && (ncv < k + block_size || ncv > n))
    throw std::invalid_argument("ncv: expected k + block_size = " + str(k + block_size) + " <= ncv <= n = " + str(n) +
                                ", got " + str(ncv));
  if (max_products < 0) throw std::invalid_argument("max_products: expected >= 0, got " + str(max_products));
  if (v0.size() && (v0.rows() != n || v0.cols() > block_size))
    throw std::invalid_argument("v0: expected shape (" + str(n) + ",) or (" + str(n) + ", c) with c <= block_size = " +
                                str(block_size) + ", got (" + str(v0.rows()) + ", " + str(v0.cols()) + ")");
  if (v0.size() && !v0.allFinite()) throw std::invalid_argument("v0: contains NaN or Inf");
  if (v0.size() && !(v0.colwise().norm().minCoeff() > 0))
    throw std::invalid_argument("v0: every start vector must be nonzero");
}

LanczosResult lanczos(const LinearOperator& A, const LanczosOptions& o) {
  const Index n = A.size(), k = o.k, b = o.block_size;
  o.check(n);
  const Index m = o.default_ncv(n);
  if (n <= m + b) return dense_solve(A, o);
  const double drop_rel = std::min(1e-12, 1e-2 * o.tol);

  detail::Rng rng(o.seed);
  Matrix V = detail::large_matrix<Matrix>(n, m + b);
  Matrix T = Matrix::Zero(m + b, m + b), W, R;
  {
    auto S = V.leftCols(b);
    detail::fill_normal(S, rng);
    if (o.v0.size()) S.leftCols(o.v0.cols()) = o.v0;
    detail::orthonormalize(V.leftCols(0), S, R, 0.0, rng);
  }
  LanczosResult out;
  Index cur = 0, fresh = 0;  // fresh: the first block multiplied since the last (re)start
  double anorm = 0.0;
  Vector theta, res;
  Matrix Y;
  std::vector<Index> order;
  Index nconv = 0;
  // Rayleigh–Ritz on the current basis: true when every wanted pair meets the tolerance.
  auto ritz = [&]() {
    Eigen::SelfAdjointEigenSolver<Matrix> es(T.topLeftCorner(cur, cur));
    theta = es.eigenvalues();
    Y = es.eigenvectors();
    anorm = std::max(anorm, theta.cwiseAbs().maxCoeff());
    // ‖A V y − θ V y‖ = ‖C y‖ with C the coupling of the residual block to the basis.
    res = (T.block(cur, 0, b, cur) * Y).colwise().norm().transpose();
    order = wanted_order(theta, o.which);
    const double bound = o.tol * anorm;
    const Index wanted = std::min(k, cur);
    nconv = 0;
    for (Index i = 0; i < wanted; ++i)
      if (res[order[i]] <= bound) ++nconv;
    return nconv == k;
  };
  auto keep_going = [&]() {
    if (!o.callback) return true;
    double worst = 0.0;
    for (Index i = 0; i < std::min(k, cur); ++i) worst = std::max(worst, anorm > 0 ? res[order[i]] / anorm : 0.0);
    return o.callback(LanczosProgress{out.restarts, out.products, nconv, k, worst});
  };
  auto out_of_products = [&]() { return o.max_products > 0 && out.products >= o.max_products; };
  for (;;) {
    bool done = false;
    while (cur + b <= m) {
      check_interrupt();
      A.apply(V.middleCols(cur, b), W);
      check_product(W, n, b);
      out.products += b;
      anorm = std::max(anorm, W.colwise().norm().maxCoeff());
      Matrix h;
      if (cur >= fresh + b) {
        // Inside a Lanczos run the product couples only to the previous and the current block
        // (block tridiagonal): remove those first, then one global pass catches the rounding.
        const Matrix local = detail::orthogonalize(V.middleCols(cur - b, 2 * b), W);
        h = detail::orthogonalize(V.leftCols(cur + b), W, false);
        h.middleRows(cur - b, 2 * b) += local;
      } else {
        h = detail::orthogonalize(V.leftCols(cur + b), W);  // first block after a (re)start
      }
      T.block(0, cur, cur + b, b) = h;
      T.block(cur, 0, b, cur + b) = h.transpose();
      T.block(cur, cur, b, b) = 0.5 * (h.bottomRows(b) + h.bottomRows(b).transpose());
      auto next = V.middleCols(cur + b, b);
      next = W;
      if (!detail::orthonormalize(V.leftCols(cur + b), next, R, drop_rel * anorm, rng))
        throw std::logic_error("lanczos: the Krylov basis spans the whole space");
      T.block(cur + b, cur, b, b) = R;
      T.block(cur, cur + b, b, b) = R.transpose();
      cur += b;
      if (o.early_exit && cur + b <= m && cur >= k) {
        if (ritz()) {
          out.status = Status::Converged;
        } else if (out_of_products()) {
          out.status = Status::NotConverged;
        } else if (!keep_going()) {
          out.status = Status::Interrupted;
        }
        if (out.status != Status::Running) {
          done = true;
          break;
        }
      }
    }
    if (!done) {
      if (ritz()) out.status = Status::Converged;
      else if (out.restarts >= o.maxiter || out_of_products()) out.status = Status::NotConverged;
      else if (!keep_going()) out.status = Status::Interrupted;
    }
    out.num_converged = nconv;
    if (out.status != Status::Running) break;

    // Thick restart: keep the l most wanted Ritz vectors and the residual block.
    const Index l = std::min(m - b, std::max(k + nconv / 2, (m + k) / 2 - b / 2));
    Matrix Ys(cur, l);
    Vector ts(l);
    for (Index i = 0; i < l; ++i) {
      Ys.col(i) = Y.col(order[i]);
      ts[i] = theta[order[i]];
    }
    const Matrix C = T.block(cur, 0, b, cur) * Ys;
    detail::rotate(V.leftCols(cur), cur, Ys);
    V.middleCols(l, b) = V.middleCols(cur, b);
    T.setZero();
    T.diagonal().head(l) = ts;
    T.block(l, 0, b, l) = C;
    T.block(0, l, l, b) = C.transpose();
    cur = fresh = l;
    ++out.restarts;
  }
  std::vector<Index> idx(order.begin(), order.begin() + k);
  std::sort(idx.begin(), idx.end(), [&](Index a, Index c) { return theta[a] < theta[c]; });
  Matrix Yk(cur, k);
  out.eigenvalues.resize(k);
  out.residuals.resize(k);
  for (Index i = 0; i < k; ++i) {
    Yk.col(i) = Y.col(idx[i]);
    out.eigenvalues[i] = theta[idx[i]];
    out.residuals[i] = res[idx[i]];
  }
  detail::combine(V.leftCols(cur), Yk, out.eigenvectors);
  out.anorm = anorm;
  return out;
}

}  // namespace landscope
