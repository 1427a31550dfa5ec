#pragma once
// Blocked Gram–Schmidt kernels shared by the Lanczos solver and the quadrature.
#include "landscope/types.hpp"
#include "rng.hpp"

namespace landscope::detail {

using ConstBlock = Eigen::Ref<const Matrix>;
using Block = Eigen::Ref<Matrix>;

/// W ← (I − B Bᵀ)² W: classical Gram–Schmidt twice, the second projection fused with the first
/// subtraction (three sweeps over B, row chunks in parallel, a fixed reduction order); with
/// twice = false one pass (two sweeps). Returns the coefficients of the passes summed
/// (cols(B) x cols(W)).
Matrix orthogonalize(const ConstBlock& B, Block W, bool twice = true);

/// Orthonormalizes the columns of W (already orthogonal to B) in place: W_in = W_out R with R
/// upper triangular. A column whose remainder is at most `drop` is replaced by a random
/// direction orthogonal to B and the other columns, with R(j, j) = 0. Returns false when no
/// such direction exists (B and W span the whole space).
bool orthonormalize(const ConstBlock& B, Block W, Matrix& R, double drop, Rng& rng);

/// V[:, :l] ← V[:, :c] Y (c x l, l <= c) in place, row chunk by row chunk.
void rotate(Block V, Index c, const Matrix& Y);

/// out = V Y (n x l), row chunks in parallel.
void combine(const ConstBlock& V, const Matrix& Y, Matrix& out);

/// Standard normal entries.
void fill_normal(Block W, Rng& rng);
/// Rademacher (±1) entries scaled by `scale`, column by column.
void fill_rademacher(Block W, Rng& rng, double scale = 1.0);

}  // namespace landscope::detail
