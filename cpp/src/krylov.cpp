#include "krylov.hpp"

#include <algorithm>

#include "parallel.hpp"

namespace landscope::detail {

namespace {

/// Rows per chunk: a chunk of B and W stays in the L2 cache. Depends only on the shapes, so
/// the reduction order (and the result) does not depend on the thread count.
Index row_chunk(Index cols) { return std::max<Index>(64, (Index(1) << 15) / std::max<Index>(1, cols)); }

}  // namespace

Matrix orthogonalize(const ConstBlock& B, Block W, bool twice) {
  const Index n = B.rows(), c = B.cols(), b = W.cols();
  Matrix H = Matrix::Zero(c, b);
  if (c == 0 || b == 0) return H;
  const Index chunk = row_chunk(c + b), chunks = (n + chunk - 1) / chunk;
  const int threads = threads_for(n * c * b);
  Matrix parts(c, b * chunks);
  auto reduce = [&]() {
    Matrix S = parts.leftCols(b);
    for (Index i = 1; i < chunks; ++i) S += parts.middleCols(i * b, b);
    return S;
  };
  parallel_for(chunks, threads, [&](Index i) {
    const Index r0 = i * chunk, rs = std::min(chunk, n - r0);
    parts.middleCols(i * b, b).noalias() = B.middleRows(r0, rs).transpose() * W.middleRows(r0, rs);
  });
  const Matrix H1 = reduce();
  parallel_for(chunks, threads, [&](Index i) {
    const Index r0 = i * chunk, rs = std::min(chunk, n - r0);
    W.middleRows(r0, rs).noalias() -= B.middleRows(r0, rs) * H1;
    if (twice)
      parts.middleCols(i * b, b).noalias() = B.middleRows(r0, rs).transpose() * W.middleRows(r0, rs);
  });
  if (!twice) return H1;
  const Matrix H2 = reduce();
  parallel_for(chunks, threads, [&](Index i) {
    const Index r0 = i * chunk, rs = std::min(chunk, n - r0);
    W.middleRows(r0, rs).noalias() -= B.middleRows(r0, rs) * H2;
  });
  return H1 + H2;
}

bool orthonormalize(const ConstBlock& B, Block W, Matrix& R, double drop, Rng& rng) {
  const Index b = W.cols();
  R.setZero(b, b);
  auto against_previous = [&](Index j, bool record) {
    for (int pass = 0; pass < 2; ++pass)
      for (Index i = 0; i < j; ++i) {
        const double r = W.col(i).dot(W.col(j));
        W.col(j) -= r * W.col(i);
        if (record) R(i, j) += r;
      }
  };
  for (Index j = 0; j < b; ++j) {
    const double before = W.col(j).norm();
    against_previous(j, true);
    const double nrm = W.col(j).norm();
    // A remainder at rounding level of the column is no new direction: it would carry the
    // previous columns' rounding errors into the basis.
    if (nrm > drop && nrm > 1e-10 * before) {
      R(j, j) = nrm;
      W.col(j) /= nrm;
      continue;
    }
    // Deflation: the remainder is negligible; continue with a fresh direction.
    bool found = false;
    for (int attempt = 0; attempt < 4 && !found; ++attempt) {
      fill_normal(W.col(j), rng);
      const double fresh = W.col(j).norm();
      orthogonalize(B, W.col(j));
      against_previous(j, false);
      const double after = W.col(j).norm();
      if (after > 1e-8 * fresh) {
        W.col(j) /= after;
        found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

void rotate(Block V, Index c, const Matrix& Y) {
  const Index n = V.rows(), l = Y.cols();
  const Index chunk = row_chunk(c + l), chunks = (n + chunk - 1) / chunk;
  parallel_for(chunks, threads_for(n * c * l), [&](Index i) {
    const Index r0 = i * chunk, rs = std::min(chunk, n - r0);
    thread_local Matrix tmp;
    tmp.noalias() = V.block(r0, 0, rs, c) * Y;
    V.block(r0, 0, rs, l) = tmp;
  });
}

void combine(const ConstBlock& V, const Matrix& Y, Matrix& out) {
  const Index n = V.rows(), c = V.cols(), l = Y.cols();
  out.resize(n, l);
  const Index chunk = row_chunk(c + l), chunks = (n + chunk - 1) / chunk;
  parallel_for(chunks, threads_for(n * c * l), [&](Index i) {
    const Index r0 = i * chunk, rs = std::min(chunk, n - r0);
    out.middleRows(r0, rs).noalias() = V.middleRows(r0, rs) * Y;
  });
}

void fill_normal(Block W, Rng& rng) {
  for (Index j = 0; j < W.cols(); ++j)
    for (Index i = 0; i < W.rows(); ++i) W(i, j) = rng.normal();
}

void fill_rademacher(Block W, Rng& rng, double scale) {
  for (Index j = 0; j < W.cols(); ++j)
    for (Index i = 0; i < W.rows(); i += 64) {
      const std::uint64_t bits = rng.next();
      const Index top = std::min<Index>(64, W.rows() - i);
      for (Index t = 0; t < top; ++t) W(i + t, j) = ((bits >> t) & 1U) ? scale : -scale;
    }
}

}  // namespace landscope::detail
