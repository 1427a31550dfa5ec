// NetworkPoint: every derivative of a layered network at one w, as loops over sample blocks.
// Without cached passes each loop runs its own forward pass per block on a per-thread
// workspace; after prepare_curvature() the second-order forward and backward passes of every
// block are kept, and loss, gradient, H v and J v read them.
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>

#include "check.hpp"
#include "memory.hpp"
#include "network_internal.hpp"

namespace landscope {

using detail::for_blocks;
using detail::ordered_block_sum;
using detail::parallel_for;

namespace {

/// The calling thread's workspace: intermediates keep their capacity from call to call,
/// so repeated gradients and HVPs do not go back to the allocator.
Network::Pass& local_pass() {
  thread_local Network::Pass pass;
  return pass;
}

/// out[j] = Σ_c parts[j·chunks + c], in chunk order: the losses of b points from their sample
/// chunks, the same for any thread count.
Vector sum_chunks(const std::vector<double>& parts, Index b, Index chunks) {
  Vector out(b);
  for (Index j = 0; j < b; ++j) {
    double total = 0.0;
    for (Index c = 0; c < chunks; ++c) total += parts[static_cast<std::size_t>(j * chunks + c)];
    out[j] = total;
  }
  return out;
}

}  // namespace

NetworkPoint::NetworkPoint(const Network& net, const VectorRef& w, const IndexVector* samples)
    : Point(net, w, samples), m_net(net), m_n(samples ? samples->size() : net.num_samples()),
      m_norm(net.norm_factor(m_n)) {}

// ---------------------------------------------------------------------------------------------
// Loss and gradient

double NetworkPoint::compute_loss() {
  if (m_cached.load(std::memory_order_acquire)) {
    double total = 0.0;
    for (const auto& pass : m_cache) total += pass.loss;
    return total;
  }
  const Index blocks = m_net.blocks(m_n);
  std::vector<double> parts(blocks, 0.0);
  for_blocks(m_n, blocks, [&](Index b, Index lo, Index hi) {
    Network::Pass& pass = local_pass();
    m_net.forward(m_w, samples(), lo, hi, pass, 0);
    parts[b] = m_net.loss_grad_out(pass, m_norm);
  });
  double total = 0.0;
  for (double v : parts) total += v;
  return total;
}

double NetworkPoint::compute_loss_and_gradient(Vector& grad) {
  const bool cached = m_cached.load(std::memory_order_acquire);
  // The cached passes keep the blocks they were made with (the thread count may have changed).
  const Index blocks = cached ? static_cast<Index>(m_cache.size()) : m_net.blocks(m_n), P = m_net.num_params();
  std::vector<double> parts(blocks, 0.0);
  grad = ordered_block_sum<Vector>(m_n, blocks, P, 1, [&](Index b, Index lo, Index hi, Vector& part) {
    if (cached) {
      parts[b] = m_cache[b].loss;
      m_net.write_gradient(m_cache[b], part.data());
      return;
    }
    Network::Pass& pass = local_pass();
    m_net.forward(m_w, samples(), lo, hi, pass, 1);
    parts[b] = m_net.loss_grad_out(pass, m_norm);
    m_net.backward(m_w, pass);
    m_net.write_gradient(pass, part.data());
  });
  double total = 0.0;
  for (double v : parts) total += v;
  return total;
}

void NetworkPoint::do_prepare_curvature() {
  if (m_cached.load(std::memory_order_acquire)) return;
  std::vector<Network::Pass> cache(m_net.blocks(m_n));
  for_blocks(m_n, static_cast<Index>(cache.size()), [&](Index b, Index lo, Index hi) {
    Network::Pass& pass = cache[b];
    m_net.forward(m_w, samples(), lo, hi, pass, 2);
    pass.loss = m_net.loss_grad_out(pass, m_norm);
    m_net.backward(m_w, pass);
    for (Matrix& m : pass.d2) m = Matrix();  // the products read curv = dh ⊙ σ″, not these
    for (Matrix& m : pass.dh) m = Matrix();
  });
  m_cache = std::move(cache);
  m_cached.store(true, std::memory_order_release);
}

// ---------------------------------------------------------------------------------------------
// Outputs, Jacobian and tangent kernel (all samples)

MatrixR NetworkPoint::outputs_or_residuals(bool residuals) const {
  const Index n = m_net.num_samples();
  MatrixR F(n, m_net.output_dim());
  for_blocks(n, m_net.blocks(n), [&](Index, Index lo, Index hi) {
    Network::Pass& pass = local_pass();
    m_net.forward(m_w, nullptr, lo, hi, pass, 0);
    if (residuals) m_net.loss_grad_out(pass, 1.0);
    F.middleRows(lo, hi - lo) = residuals ? pass.g : pass.z.back();
  });
  return F;
}

MatrixR NetworkPoint::jacobian() const {
  const Index n = m_net.num_samples(), k = m_net.output_dim();
  const auto& layers = m_net.m_layers;
  MatrixR J = detail::large_matrix<MatrixR>(n * k, m_net.num_params());  // every entry is written below
  for_blocks(n, m_net.blocks(n), [&](Index, Index lo, Index hi) {
    Network::Pass pass;
    m_net.forward(m_w, nullptr, lo, hi, pass, 1);
    for (Index c = 0; c < k; ++c) {
      detail::checkpoint();
      pass.g = Matrix::Zero(pass.rows, k);
      pass.g.col(c).setOnes();
      m_net.backward(m_w, pass);
      for (std::size_t j = 0; j < layers.size(); ++j) {
        if (m_net.m_offset[j] < 0) continue;
        const Layer& L = layers[j];
        for (Index i = 0; i < pass.rows; ++i) {
          if (i % 64 == 0) detail::checkpoint();
          double* row = J.row((lo + i) * k + c).data() + m_net.m_offset[j];
          Eigen::Map<MatrixR>(row, L.out, L.in).noalias() = L.scale * pass.delta[j].row(i).transpose() * pass.h[j].row(i);
          if (L.bias) Eigen::Map<Eigen::RowVectorXd>(row + L.out * L.in, L.out) = pass.delta[j].row(i);
        }
      }
    }
  });
  return J;
}

MatrixR NetworkPoint::tangent_kernel() const {
  // K = Σ_j s_j² (Δ_j Δ_jᵀ) ⊙ (h_j h_jᵀ) [+ Δ_j Δ_jᵀ for a bias], with Δ_j the per-output
  // backpropagated errors: never forms J.
  const Index n = m_net.num_samples(), k = m_net.output_dim();
  const auto& layers = m_net.m_layers;
  const auto& offset = m_net.m_offset;
  const std::size_t NL = layers.size();
  std::vector<Matrix> Delta(NL), Hin(NL);
  for (std::size_t j = 0; j < NL; ++j) {
    if (offset[j] < 0) continue;
    Delta[j].resize(n * k, layers[j].out);  // row i*k + c
    Hin[j].resize(n, layers[j].in);
  }
  for_blocks(n, m_net.blocks(n), [&](Index, Index lo, Index hi) {
    Network::Pass pass;
    m_net.forward(m_w, nullptr, lo, hi, pass, 1);
    for (std::size_t j = 0; j < NL; ++j)
      if (offset[j] >= 0) Hin[j].middleRows(lo, hi - lo) = pass.h[j];
    for (Index c = 0; c < k; ++c) {
      detail::checkpoint();
      pass.g = Matrix::Zero(pass.rows, k);
      pass.g.col(c).setOnes();
      m_net.backward(m_w, pass);
      for (std::size_t j = 0; j < NL; ++j) {
        if (offset[j] < 0) continue;
        for (Index i = 0; i < pass.rows; ++i) Delta[j].row((lo + i) * k + c) = pass.delta[j].row(i);
      }
    }
  });
  const Index N = n * k;
  MatrixR K = detail::large_matrix<MatrixR>(N, N);
  detail::for_upper_tiles(N, 128, m_net.num_params(), [&](Index r0, Index c0, Index rs, Index cs) {
    Matrix acc = Matrix::Zero(rs, cs), A, B;
    for (std::size_t j = 0; j < NL; ++j) {
      if (offset[j] < 0) continue;
      const Layer& L = layers[j];
      A.noalias() = Delta[j].middleRows(r0, rs) * Delta[j].middleRows(c0, cs).transpose();
      // Gram of the layer inputs, expanded to output rows (sample i = row / k).
      const Index i0 = r0 / k, i1 = (r0 + rs - 1) / k, j0 = c0 / k, j1 = (c0 + cs - 1) / k;
      B.noalias() = Hin[j].middleRows(i0, i1 - i0 + 1) * Hin[j].middleRows(j0, j1 - j0 + 1).transpose();
      const double s2 = L.scale * L.scale;
      for (Index c = 0; c < cs; ++c)
        for (Index r = 0; r < rs; ++r) {
          const double gram = s2 * B((r0 + r) / k - i0, (c0 + c) / k - j0);
          acc(r, c) += A(r, c) * (L.bias ? gram + 1.0 : gram);
        }
    }
    K.block(r0, c0, rs, cs) = acc;
    if (r0 != c0) K.block(c0, r0, cs, rs) = acc.transpose();
  });
  return K;
}

// ---------------------------------------------------------------------------------------------
// Products

Matrix NetworkPoint::hvp(const MatrixRef& V) const {
  check_directions(V);
  if (m_cached.load(std::memory_order_acquire)) {
    Matrix Y;
    apply_hessian(V, Y);
    return Y;
  }
  const Index P = m_net.num_params(), b = V.cols();
  return ordered_block_sum<Matrix>(m_n, m_net.blocks(m_n), P, b, [&](Index, Index lo, Index hi, Matrix& part) {
    Network::Pass& pass = local_pass();
    m_net.forward(m_w, samples(), lo, hi, pass, 2);
    m_net.loss_grad_out(pass, m_norm);
    m_net.backward(m_w, pass, false);
    for (Index c = 0; c < b; ++c) {
      detail::checkpoint();
      m_net.r_pass(m_w, V.col(c).data(), pass, pass.r, m_norm, part.col(c).data());  // columns are contiguous
    }
  });
}

void NetworkPoint::apply_hessian(const MatrixRef& X, Matrix& Y) const {
  const Index P = m_net.num_params(), b = X.cols();
  Y = ordered_block_sum<Matrix>(m_n, static_cast<Index>(m_cache.size()), P, b,
                                [&](Index blk, Index, Index, Matrix& part) {
    thread_local Network::RScratch scratch;
    for (Index c = 0; c < b; ++c) {
      detail::checkpoint();
      m_net.r_pass(m_w, X.col(c).data(), m_cache[blk], scratch, m_norm, part.col(c).data());
    }
  });
}

Matrix NetworkPoint::gauss_newton_vp(const MatrixRef& V) const {
  check_directions(V);
  const Index n = m_net.num_samples(), P = m_net.num_params(), b = V.cols();
  const double norm = m_net.norm_factor(n);
  return ordered_block_sum<Matrix>(n, m_net.blocks(n), P, b, [&](Index, Index lo, Index hi, Matrix& part) {
    Network::Pass& pass = local_pass();
    m_net.forward(m_w, nullptr, lo, hi, pass, 1);
    m_net.loss_grad_out(pass, norm);
    for (Index c = 0; c < b; ++c) {
      detail::checkpoint();
      m_net.tangent(m_w, V.col(c).data(), pass, pass.r, pass.r.RF);   // J v
      m_net.m_head->curvature(pass, pass.r.RF, norm, pass.g);          // D J v
      m_net.backward(m_w, pass);                                       // Jᵀ D J v
      m_net.write_gradient(pass, part.col(c).data());
    }
  });
}

Matrix NetworkPoint::jvp(const MatrixRef& V) const {
  check_directions(V);
  const Index n = m_net.num_samples(), k = m_net.output_dim(), b = V.cols();
  Matrix out(n * k, b);
  for_blocks(n, m_net.blocks(n), [&](Index, Index lo, Index hi) {
    Network::Pass& pass = local_pass();
    m_net.forward(m_w, nullptr, lo, hi, pass, 1);
    for (Index c = 0; c < b; ++c) {
      detail::checkpoint();
      m_net.tangent(m_w, V.col(c).data(), pass, pass.r, pass.r.RF);
      Eigen::Map<MatrixR>(out.col(c).data() + lo * k, hi - lo, k) = pass.r.RF;
    }
  });
  return out;
}

Matrix NetworkPoint::vjp(const MatrixRef& U) const {
  const Index n = m_net.num_samples(), k = m_net.output_dim(), P = m_net.num_params(), b = U.cols();
  if (U.rows() != n * k)
    throw std::invalid_argument("u: expected " + std::to_string(n * k) + " rows, got " + std::to_string(U.rows()));
  if (!U.allFinite()) throw std::invalid_argument("u: contains NaN or Inf");
  return ordered_block_sum<Matrix>(n, m_net.blocks(n), P, b, [&](Index, Index lo, Index hi, Matrix& part) {
    Network::Pass& pass = local_pass();
    m_net.forward(m_w, nullptr, lo, hi, pass, 1);
    for (Index c = 0; c < b; ++c) {
      detail::checkpoint();
      pass.g = Eigen::Map<const MatrixR>(U.col(c).data() + lo * k, hi - lo, k);
      m_net.backward(m_w, pass);
      m_net.write_gradient(pass, part.col(c).data());
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Dense Hessians (network_hessian.cpp) and the cached operator

MatrixR NetworkPoint::hessian() const {
  if (m_net.shallow_fast_path()) {
    MatrixR H = m_net.gauss_newton_dense(*this);
    m_net.shallow_residual_part(m_w, H);
    return H;
  }
  return m_net.hessian_basis(m_w);
}

std::pair<MatrixR, MatrixR> NetworkPoint::hessian_parts() const {
  MatrixR G = m_net.gauss_newton_dense(*this);
  MatrixR R;
  if (m_net.shallow_fast_path()) {
    R = detail::large_matrix<MatrixR>(G.rows(), G.cols());
    R.setZero();
    m_net.shallow_residual_part(m_w, R);
  } else {
    R = m_net.hessian_basis(m_w);
    R -= G;
  }
  return {std::move(G), std::move(R)};
}

std::unique_ptr<LinearOperator> NetworkPoint::hessian_operator() {
  prepare_curvature();
  auto self = std::static_pointer_cast<const NetworkPoint>(shared_from_this());
  return std::make_unique<FunctionOperator>(m_net.num_params(), [self](const MatrixRef& X, Matrix& Y) {
    self->check_directions(X);
    self->apply_hessian(X, Y);
  });
}

// ---------------------------------------------------------------------------------------------
// Many points at once

Vector Network::losses(const MatrixRef& W, Vector* grad_norms) const {
  const Index P = m_num_params, b = W.cols(), n = num_samples();
  if (W.rows() != P)
    throw std::invalid_argument("W: expected " + std::to_string(P) + " rows (one point a column), got " +
                                std::to_string(W.rows()));
  if (!W.allFinite()) throw std::invalid_argument("W: contains NaN or Inf");
  // Fixed chunks of samples (not one per thread), summed in chunk order: the same result for
  // any thread count.
  const Index rows = 256, chunks = (n + rows - 1) / rows;
  const double norm = norm_factor(n);
  if (!grad_norms) {
    std::vector<double> parts(static_cast<std::size_t>(b * chunks));
    const double work = 2.0 * static_cast<double>(b) * static_cast<double>(n) * static_cast<double>(P);
    parallel_for(b * chunks, detail::threads_for(work), [&](Index item) {
      const Index j = item / chunks, c = item % chunks;
      Pass& pass = local_pass();
      forward(W.col(j), nullptr, c * rows, std::min(n, (c + 1) * rows), pass, 0);
      parts[static_cast<std::size_t>(item)] = loss_grad_out(pass, norm);
    });
    return sum_chunks(parts, b, chunks);
  }
  Vector out(b);
  grad_norms->resize(b);
  parallel_for(b, detail::threads_for(6.0 * static_cast<double>(b) * static_cast<double>(n) * static_cast<double>(P)), [&](Index j) {
    Pass& pass = local_pass();
    Vector g = Vector::Zero(P), part(P);
    double total = 0.0;
    for (Index c = 0; c < chunks; ++c) {
      detail::checkpoint();
      forward(W.col(j), nullptr, c * rows, std::min(n, (c + 1) * rows), pass, 1);
      total += loss_grad_out(pass, norm);
      backward(W.col(j), pass);
      write_gradient(pass, part.data());
      g += part;
    }
    out[j] = total;
    const double gn = g.norm();
    (*grad_norms)[j] = std::isfinite(gn) || !g.allFinite() ? gn : g.blueNorm();
  });
  return out;
}

Vector Network::losses_in_span(const VectorRef& w, const MatrixRef& D, const MatrixRef& C) const {
  detail::check_span(m_num_params, w, D, C);
  const Index P = m_num_params, b = C.cols(), n = num_samples();
  const Layer& L0 = m_layers[0];
  // The first layer at w + D c is s X (W + Σ_i c_i D_i)ᵀ + (β + Σ_i c_i δ_i) = B_0 + Σ_i c_i B_i:
  // its k + 1 products are formed once a block of samples, not once a point. The blocks are
  // fixed and summed in order, as in losses(): the same result for any thread count.
  const Index k = m_offset[0] < 0 ? 0 : D.cols();
  // Each point's parameters are formed once per sample block: P (k + 2) doubles of traffic
  // against 2 rows P flops. When they do not stay in cache (P (k + 2) beyond 4 MB), a block
  // takes several 256-row blocks as long as its products and one pass stay within 32 MB (M2:
  // all 512 rows at once, half the traffic). Sizes only: the same blocks for any thread count.
  Index rows = 256;
  if (8 * P * (k + 2) > (Index{4} << 20)) {
    Index width = 0;
    for (const Layer& L : m_layers) width += 2 * L.out;
    const Index row_bytes = 8 * ((k + 1) * L0.out + width);
    rows *= std::max<Index>(1, std::min((n + 255) / 256, (Index{32} << 20) / (256 * row_bytes)));
  }
  const Index chunks = (n + rows - 1) / rows;
  const double norm = norm_factor(n);
  std::vector<Matrix> B(static_cast<std::size_t>(k + 1));
  std::vector<double> parts(static_cast<std::size_t>(b * chunks));
  // Each running item forms its point in a buffer of this call's (at most one per thread; freed
  // on return, unlike a thread_local, which would keep P doubles per thread alive).
  std::mutex pool_lock;
  std::vector<Vector> pool;
  for (Index c = 0; c < chunks; ++c) {
    const Index begin = c * rows, end = std::min(n, begin + rows), r = end - begin;
    const double first = 2.0 * static_cast<double>(r * L0.in * L0.out);
    parallel_for(k + 1, detail::threads_for(first * static_cast<double>(k + 1)), [&](Index i) {
      const VectorRef v = i == 0 ? VectorRef(w) : VectorRef(D.col(i - 1));
      Matrix& Bi = B[static_cast<std::size_t>(i)];
      Bi.noalias() = L0.scale * (m_X.middleRows(begin, r) * weight(v, 0).transpose());
      if (const double* beta = bias(v, 0)) Bi.rowwise() += Eigen::Map<const Eigen::RowVectorXd>(beta, L0.out);
    });
    const double work = 2.0 * static_cast<double>(b) * static_cast<double>(r) * static_cast<double>(P);
    parallel_for(b, detail::threads_for(work), [&](Index j) {
      Vector wj;
      {
        std::lock_guard<std::mutex> g(pool_lock);
        if (!pool.empty()) {
          wj = std::move(pool.back());
          pool.pop_back();
        }
      }
      wj.noalias() = D * C.col(j);
      wj += w;
      Pass& pass = local_pass();
      pass.z.resize(m_layers.size());
      Matrix& z0 = pass.z[0];
      if (k == 2) {  // a surface: one pass over the block
        z0 = B[0] + C(0, j) * B[1] + C(1, j) * B[2];
      } else {
        z0 = B[0];
        for (Index i = 0; i < k; ++i) z0 += C(i, j) * B[static_cast<std::size_t>(i + 1)];
      }
      forward(wj, nullptr, begin, end, pass, 0, true);
      parts[static_cast<std::size_t>(j * chunks + c)] = loss_grad_out(pass, norm);
      std::lock_guard<std::mutex> g(pool_lock);
      pool.push_back(std::move(wj));
    });
  }
  return sum_chunks(parts, b, chunks);
}

}  // namespace landscope
