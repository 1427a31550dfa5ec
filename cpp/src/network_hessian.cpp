// Dense Hessians of layered networks.
//
// hessian(): the exact Hessian column by column, as Hessian-vector products with the basis
// vectors, batched into groups of directions of one layer so that every step is a GEMM. A basis
// direction of layer j0 has zero tangents below j0, so the forward pass starts at j0, and only
// the rows of layers <= j0 are formed (the rest follow by symmetry): row p of H is computed for
// the columns up to the end of its own layer, which covers the lower triangle.
//
// gauss_newton_dense(): G = J̃ᵀ J̃ with J̃ = D^{1/2} J, by upper-triangular tiles (a SYRK).
// For a one-hidden-layer network whose output layer is frozen (ShallowNet) the residual part is
// block diagonal and hessian() is G plus those blocks.
#include <cmath>

#include "network_internal.hpp"
#include "memory.hpp"
#include "parallel.hpp"

namespace landscope {

using detail::parallel_for;

namespace {

/// Lower triangle -> upper triangle, by tiles.
void mirror_lower(MatrixR& H) {
  const Index P = H.rows(), tile = 64, nt = (P + tile - 1) / tile;
  parallel_for(nt, detail::threads_for(static_cast<double>(P) * static_cast<double>(P)), [&](Index I) {
    for (Index J = I; J < nt; ++J) {
      const Index r0 = I * tile, c0 = J * tile;
      const Index rs = std::min(tile, P - r0), cs = std::min(tile, P - c0);
      for (Index r = 0; r < rs; ++r)
        for (Index c = 0; c < cs; ++c)
          if (c0 + c > r0 + r) H(r0 + r, c0 + c) = H(c0 + c, r0 + r);
    }
  });
}

/// Per-thread buffers of the basis R-pass, reused from group to group (and call to call):
/// fresh multi-megabyte buffers per group would cost more in page faults than in arithmetic.
struct GroupWork {
  std::vector<Matrix> Rz, Rh;
  Matrix u, rcol, RF, Rdelta, Rdh, Rdh_above, T, extra;
};

GroupWork& group_work() {
  thread_local GroupWork work;
  return work;
}

struct Direction {
  Index param;  // index p in w
  Index unit;   // output unit a of the layer (column of z touched)
  Index input;  // input unit b, or −1 for a bias
};

}  // namespace

bool Network::shallow_fast_path() const {
  return m_layers.size() == 2 && m_offset[0] >= 0 && m_offset[1] < 0 && !m_layers[0].bias;
}

MatrixR Network::hessian_basis(const VectorRef& w) const {
  const Index n = num_samples(), P = m_num_params;
  const std::size_t NL = m_layers.size();
  const double norm = norm_factor(n);
  Pass pass;
  forward(w, nullptr, 0, n, pass, 2);
  loss_grad_out(pass, norm);
  backward(w, pass);

  // Groups of consecutive directions within one layer.
  Index maxw = m_X.cols();
  for (const Layer& L : m_layers) maxw = std::max(maxw, L.out);
  const Index gmax = std::max<Index>(1, std::min<Index>(64, (Index(1) << 21) / (n * maxw)));
  struct Group { std::size_t layer; std::vector<Direction> dirs; };
  std::vector<Group> groups;
  for (std::size_t j = 0; j < NL; ++j) {
    if (m_offset[j] < 0) continue;
    const Layer& L = m_layers[j];
    const Index count = L.out * L.in + (L.bias ? L.out : 0);
    for (Index q = 0; q < count; ++q) {
      if (q % gmax == 0) groups.push_back({j, {}});
      const bool is_bias = q >= L.out * L.in;
      groups.back().dirs.push_back({m_offset[j] + q, is_bias ? q - L.out * L.in : q / L.in,
                                    is_bias ? -1 : q % L.in});
    }
  }

  MatrixR H = detail::large_matrix<MatrixR>(P, P);
  // Each group is an R-pass over all n samples: work ~ groups x n x (flops per row).
  const double work = static_cast<double>(groups.size()) * static_cast<double>(P) * static_cast<double>(num_samples());
  parallel_for(static_cast<Index>(groups.size()), detail::threads_for(work), [&](Index gi) {
    const Group& grp = groups[gi];
    const std::size_t j0 = grp.layer;
    const Index g = static_cast<Index>(grp.dirs.size());
    const Layer& L0 = m_layers[j0];
    GroupWork& ws = group_work();
    // Tangent of z[j0]: one column per direction, u_t = s h[j0][:, b] (or 1 for a bias).
    Matrix& u = ws.u;
    u.resize(g * n, 1);
    for (Index t = 0; t < g; ++t) {
      const Direction& d = grp.dirs[t];
      if (d.input >= 0) u.middleRows(t * n, n) = L0.scale * pass.h[j0].col(d.input);
      else u.middleRows(t * n, n).setOnes();
    }
    std::vector<Matrix>& Rz = ws.Rz;
    std::vector<Matrix>& Rh = ws.Rh;
    Rz.resize(NL);
    Rh.resize(NL + 1);
    Matrix& RF = ws.RF;
    if (j0 + 1 == NL) {
      RF.setZero(g * n, L0.out);
      for (Index t = 0; t < g; ++t) RF.col(grp.dirs[t].unit).segment(t * n, n) = u.middleRows(t * n, n);
    } else {
      // Rh[j0+1]: a single nonzero column per direction; z[j0+1] gets an outer product.
      Matrix& rcol = ws.rcol;
      rcol.resize(g * n, 1);
      for (Index t = 0; t < g; ++t)
        rcol.middleRows(t * n, n) = u.middleRows(t * n, n).cwiseProduct(pass.d1[j0].col(grp.dirs[t].unit));
      for (std::size_t j = j0 + 1; j < NL; ++j) {
        const Layer& L = m_layers[j];
        const RowMap W = weight(w, j);
        Matrix& z = (j + 1 == NL) ? RF : Rz[j];
        z.resize(g * n, L.out);
        if (j == j0 + 1) {
          for (Index t = 0; t < g; ++t)
            z.middleRows(t * n, n).noalias() =
                L.scale * rcol.middleRows(t * n, n) * W.col(grp.dirs[t].unit).transpose();
        } else {
          z.noalias() = L.scale * (Rh[j] * W.transpose());
        }
        if (j + 1 == NL) break;
        Rh[j + 1] = z;
        if (L.activation != Activation::Identity) detail::tile_mul(Rh[j + 1], pass.d1[j]);
        if (L.residual) {
          if (j == j0 + 1) {
            for (Index t = 0; t < g; ++t)
              Rh[j + 1].col(grp.dirs[t].unit).segment(t * n, n) += rcol.middleRows(t * n, n);
          } else {
            Rh[j + 1] += Rh[j];
          }
        }
      }
    }
    // Backward R-pass.
    Matrix &Rdelta = ws.Rdelta, &T = ws.T;
    Matrix* Rdh = &ws.Rdh;
    Matrix* Rdh_above = &ws.Rdh_above;
    m_head->curvature(pass, RF, norm, Rdelta);
    for (std::size_t j = NL; j-- > 0;) {
      const Layer& L = m_layers[j];
      const RowMap W = weight(w, j);
      if (j <= j0 && m_offset[j] >= 0) {
        // R(dW_j) for all directions at once: Rdelta (g·n x out) is, in memory, an
        // n x (out·g) matrix whose column a·g + t is direction t's column a.
        const Eigen::Map<const Matrix> M(Rdelta.data(), n, L.out * g);
        T.noalias() = L.scale * (M.transpose() * pass.h[j]);
        for (Index t = 0; t < g; ++t) {
          double* row = H.row(grp.dirs[t].param).data() + m_offset[j];
          for (Index a = 0; a < L.out; ++a)
            Eigen::Map<Eigen::RowVectorXd>(row + a * L.in, L.in) = T.row(a * g + t);
        }
        if (L.bias) {
          const Eigen::RowVectorXd cs = M.colwise().sum();
          for (Index t = 0; t < g; ++t) {
            double* row = H.row(grp.dirs[t].param).data() + m_offset[j] + L.out * L.in;
            for (Index a = 0; a < L.out; ++a) row[a] = cs[a * g + t];
          }
        }
      }
      if (j == 0) break;
      Rdh->noalias() = L.scale * (Rdelta * W);
      if (j == j0)
        for (Index t = 0; t < g; ++t) {
          const Direction& d = grp.dirs[t];
          if (d.input >= 0) Rdh->col(d.input).segment(t * n, n) += L.scale * pass.delta[j].col(d.unit);
        }
      if (L.residual && j + 1 < NL) *Rdh += *Rdh_above;
      const Layer& below = m_layers[j - 1];
      Rdelta = *Rdh;
      if (below.activation != Activation::Identity) {
        detail::tile_mul(Rdelta, pass.d1[j - 1]);
        if (j - 1 > j0) {
          ws.extra = Rz[j - 1];
          detail::tile_mul(ws.extra, pass.curv[j - 1]);
          Rdelta += ws.extra;
        } else if (j - 1 == j0) {
          for (Index t = 0; t < g; ++t) {
            const Index a = grp.dirs[t].unit;
            Rdelta.col(a).segment(t * n, n).array() +=
                pass.curv[j - 1].col(a).array() * u.middleRows(t * n, n).array();
          }
        }
      }
      std::swap(Rdh, Rdh_above);
    }
  });
  mirror_lower(H);
  return H;
}

MatrixR Network::gauss_newton_dense(const NetworkPoint& point) const {
  MatrixR Jt = point.jacobian();
  m_head->weight_jacobian(point.outputs(), norm_factor(num_samples()), Jt);  // J̃ = D^{1/2} J
  const Index P = m_num_params;
  MatrixR G = detail::large_matrix<MatrixR>(P, P);
  detail::for_upper_tiles(P, 256, Jt.rows(), [&](Index r0, Index c0, Index rs, Index cs) {
    Matrix C;
    C.noalias() = Jt.middleCols(r0, rs).transpose() * Jt.middleCols(c0, cs);
    if (r0 == c0) C.triangularView<Eigen::StrictlyUpper>() = C.transpose();  // exact symmetry
    G.block(r0, c0, rs, cs) = C;
    if (r0 != c0) G.block(c0, r0, cs, rs) = C.transpose();
  });
  return G;
}

void Network::shallow_residual_part(const VectorRef& w, MatrixR& H) const {
  // R = Σ_i Σ_c g_ic ∇²F_ic is block diagonal over hidden units a:
  // R_aa = s_0² Σ_i dh[i,a] σ''(z[i,a]) x_i x_iᵀ with dh = s_1 g W_1.
  const Index n = num_samples();
  Pass pass;
  forward(w, nullptr, 0, n, pass, 2);
  loss_grad_out(pass, norm_factor(n));
  backward(w, pass);
  const Layer& L = m_layers[0];
  const Index d = L.in;
  const Matrix c = (L.scale * L.scale) * pass.curv[0];
  const Matrix& X = pass.h[0];
  parallel_for(L.out, detail::threads_for(static_cast<double>(L.out) * static_cast<double>(X.rows()) * static_cast<double>(d * d)),
               [&](Index a) {
    const Matrix CX = c.col(a).asDiagonal() * X;
    Matrix B = X.transpose() * CX;
    B.triangularView<Eigen::StrictlyUpper>() = B.transpose();  // exact symmetry
    H.block(m_offset[0] + a * d, m_offset[0] + a * d, d, d) += B;
  });
}

}  // namespace landscope
