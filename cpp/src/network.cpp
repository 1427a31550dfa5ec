#include <cmath>
#include <stdexcept>
#include <string>

#include "network_internal.hpp"
#include "memory.hpp"
#include "parallel.hpp"
#include "rng.hpp"

namespace landscope {

using detail::parallel_for;

namespace detail {

void apply_loss_curvature(LossKind loss, const Matrix& p, const Matrix& RF, double norm,
                          Matrix& out) {
  if (loss == LossKind::Square) {
    out = norm * RF;
    return;
  }
  // (diag(p) − p pᵀ) r per row.
  const Index n = p.rows(), k = p.cols(), tiles = RF.rows() / n;
  out.resize(RF.rows(), k);
  Vector dot(RF.rows());
  for (Index t = 0; t < tiles; ++t)
    dot.segment(t * n, n) = (p.array() * RF.middleRows(t * n, n).array()).rowwise().sum().matrix();
  for (Index c = 0; c < k; ++c)
    for (Index t = 0; t < tiles; ++t)
      out.col(c).segment(t * n, n).array() =
          norm * p.col(c).array() * (RF.col(c).segment(t * n, n).array() - dot.segment(t * n, n).array());
}

void tile_mul(Matrix& R, const Matrix& S) {
  const Index n = S.rows(), tiles = R.rows() / n;
  for (Index c = 0; c < R.cols(); ++c)
    Eigen::Map<Eigen::ArrayXXd>(R.col(c).data(), n, tiles).colwise() *= S.col(c).array();
}

}  // namespace detail

namespace {

/// The calling thread's workspace: intermediates keep their capacity from call to call,
/// so repeated gradients and HVPs do not go back to the allocator.
Network::Pass& local_pass() {
  thread_local Network::Pass pass;
  return pass;
}

std::string shape(Index r, Index c) { return "(" + std::to_string(r) + ", " + std::to_string(c) + ")"; }

void check_finite(const MatrixR& A, const char* name) {
  if (!A.allFinite()) throw std::invalid_argument(std::string(name) + ": contains NaN or Inf");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction

Network::Network(MatrixR X, MatrixR Y, IndexVector labels, std::vector<Layer> layers,
                 NetworkOptions options, std::vector<std::string> block_names)
    : m_X(std::move(X)), m_Y(std::move(Y)), m_labels(std::move(labels)),
      m_layers(std::move(layers)), m_options(options) {
  if (m_X.rows() == 0 || m_X.cols() == 0)
    throw std::invalid_argument("X: expected a non-empty (n, d) array, got shape " +
                                shape(m_X.rows(), m_X.cols()));
  check_finite(m_X, "X");
  if (m_layers.empty()) throw std::invalid_argument("layers: a network needs at least one layer");
  const Index n = m_X.rows();
  Index prev = m_X.cols();
  for (std::size_t j = 0; j < m_layers.size(); ++j) {
    Layer& L = m_layers[j];
    if (L.out <= 0) throw std::invalid_argument("widths: every width must be >= 1, layer " +
                                                std::to_string(j + 1) + " has " + std::to_string(L.out));
    if (L.in != prev)
      throw std::invalid_argument("layers: layer " + std::to_string(j + 1) + " expects " +
                                  std::to_string(L.in) + " inputs, the previous layer gives " +
                                  std::to_string(prev));
    if (L.residual && (L.in != L.out || j == 0 || j + 1 == m_layers.size()))
      throw std::invalid_argument("residual: only hidden layers of equal width can be residual");
    if (j + 1 == m_layers.size() && L.activation != Activation::Identity)
      throw std::invalid_argument("layers: the output layer must be linear");
    if (L.fixed_weight.size() && (L.fixed_weight.rows() != L.out || L.fixed_weight.cols() != L.in))
      throw std::invalid_argument("layers: fixed weight of layer " + std::to_string(j + 1) +
                                  " has shape " + shape(L.fixed_weight.rows(), L.fixed_weight.cols()));
    if (!L.trainable && L.fixed_weight.size() == 0)
      throw std::invalid_argument("layers: a frozen layer needs its weight");
    if (!L.trainable && L.bias)
      throw std::invalid_argument("layers: a frozen layer cannot have a bias");
    prev = L.out;
  }
  const Index k = m_layers.back().out;
  if (m_options.loss == LossKind::Square) {
    if (m_Y.rows() != n || m_Y.cols() != k)
      throw std::invalid_argument("y: expected shape " + shape(n, k) + " to match X, got " +
                                  shape(m_Y.rows(), m_Y.cols()));
    check_finite(m_Y, "y");
  } else {
    if (k < 2) throw std::invalid_argument("num_classes: cross-entropy needs k >= 2 outputs");
    if (m_labels.size() != n)
      throw std::invalid_argument("y: expected " + std::to_string(n) + " labels to match X, got " +
                                  std::to_string(m_labels.size()));
    for (Index i = 0; i < n; ++i)
      if (m_labels[i] < 0 || m_labels[i] >= k)
        throw std::invalid_argument("y: label " + std::to_string(m_labels[i]) + " at index " +
                                    std::to_string(i) + " is outside [0, " + std::to_string(k) + ")");
  }
  m_offset.assign(m_layers.size(), -1);
  Index off = 0;
  for (std::size_t j = 0; j < m_layers.size(); ++j) {
    if (!m_layers[j].trainable) continue;
    m_offset[j] = off;
    off += m_layers[j].out * m_layers[j].in + (m_layers[j].bias ? m_layers[j].out : 0);
  }
  m_num_params = off;
  if (m_num_params == 0) throw std::invalid_argument("layers: the network has no trainable parameters");
  if (block_names.empty())
    for (std::size_t j = 0; j < m_layers.size(); ++j) block_names.push_back(std::to_string(j + 1));
  if (block_names.size() != m_layers.size())
    throw std::invalid_argument("block_names: one name per layer expected");
  m_names = std::move(block_names);
}

std::vector<ParamBlock> Network::param_blocks() const {
  std::vector<ParamBlock> out;
  for (std::size_t j = 0; j < m_layers.size(); ++j) {
    if (m_offset[j] < 0) continue;
    const Layer& L = m_layers[j];
    out.push_back({m_names[j], m_offset[j], L.out, L.in});
    if (L.bias) {
      std::string b = m_names[j];
      b[0] = 'b';
      out.push_back({b, m_offset[j] + L.out * L.in, L.out, 1});
    }
  }
  return out;
}

Vector Network::init(std::uint64_t seed) const {
  detail::Rng rng(seed);
  Vector w = Vector::Zero(m_num_params);
  for (std::size_t j = 0; j < m_layers.size(); ++j) {
    if (m_offset[j] < 0) continue;
    const Layer& L = m_layers[j];
    double* W = w.data() + m_offset[j];
    if (L.fixed_weight.size()) {
      Eigen::Map<MatrixR>(W, L.out, L.in) = L.fixed_weight;
    } else {
      for (Index i = 0; i < L.out * L.in; ++i) W[i] = L.init_std * rng.normal();
    }
  }
  return w;
}

Network::RowMap Network::weight(const VectorRef& w, std::size_t j) const {
  const Layer& L = m_layers[j];
  if (m_offset[j] < 0) return RowMap(L.fixed_weight.data(), L.out, L.in);
  return RowMap(w.data() + m_offset[j], L.out, L.in);
}

const double* Network::bias(const VectorRef& w, std::size_t j) const {
  const Layer& L = m_layers[j];
  return L.bias ? w.data() + m_offset[j] + L.out * L.in : nullptr;
}

double Network::norm_factor(Index batch) const {
  return m_options.reduction == Reduction::Mean ? 1.0 / static_cast<double>(batch) : 1.0;
}

Index Network::batch_size(const IndexVector* samples) const {
  return samples ? samples->size() : num_samples();
}

// ---------------------------------------------------------------------------------------------
// First-order passes

void Network::forward(const VectorRef& w, const IndexVector* samples, Index begin, Index end,
                      Pass& pass, int order) const {
  const std::size_t NL = m_layers.size();
  const Index rows = end - begin;
  pass.rows = rows;
  pass.h.resize(NL);
  pass.z.resize(NL);
  pass.d1.resize(NL - 1);
  pass.d2.resize(NL - 1);
  Matrix& X0 = pass.h[0];
  X0.resize(rows, m_X.cols());
  const bool square = m_options.loss == LossKind::Square;
  if (square) pass.Y.resize(rows, m_Y.cols()); else pass.labels.resize(rows);
  for (Index i = 0; i < rows; ++i) {
    const Index s = samples ? static_cast<Index>((*samples)[begin + i]) : begin + i;
    X0.row(i) = m_X.row(s);
    if (square) pass.Y.row(i) = m_Y.row(s); else pass.labels[i] = m_labels[s];
  }
  for (std::size_t j = 0; j < NL; ++j) {
    const Layer& L = m_layers[j];
    Matrix& z = pass.z[j];
    z.resize(rows, L.out);
    z.noalias() = L.scale * (pass.h[j] * weight(w, j).transpose());
    if (const double* b = bias(w, j))
      z.rowwise() += Eigen::Map<const Eigen::RowVectorXd>(b, L.out);
    if (j + 1 == NL) break;
    if (order == 0) activate(L.activation, z, pass.h[j + 1]);
    else activate_all(L.activation, z, pass.h[j + 1], pass.d1[j], order >= 2 ? &pass.d2[j] : nullptr);
    if (L.residual) pass.h[j + 1] += pass.h[j];
  }
}

double Network::loss_grad_out(Pass& pass, double norm) const {
  const Matrix& F = pass.z.back();
  if (m_options.loss == LossKind::Square) {
    pass.g = F - pass.Y;
    const double loss = 0.5 * norm * pass.g.squaredNorm();
    if (norm != 1.0) pass.g *= norm;
    return loss;
  }
  const Index rows = F.rows(), k = F.cols();
  pass.p.resize(rows, k);
  pass.g.resize(rows, k);
  double loss = 0.0;
  for (Index i = 0; i < rows; ++i) {
    const double mx = F.row(i).maxCoeff();
    double sum = 0.0;
    for (Index c = 0; c < k; ++c) sum += std::exp(F(i, c) - mx);
    const double lse = mx + std::log(sum);
    for (Index c = 0; c < k; ++c) pass.p(i, c) = std::exp(F(i, c) - lse);
    loss += lse - F(i, pass.labels[i]);
  }
  pass.g = norm * pass.p;
  for (Index i = 0; i < rows; ++i) pass.g(i, pass.labels[i]) -= norm;
  return norm * loss;
}

void Network::backward(const VectorRef& w, Pass& pass) const {
  const std::size_t NL = m_layers.size();
  pass.delta.resize(NL);
  pass.dh.resize(NL);
  pass.delta[NL - 1] = pass.g;
  for (std::size_t j = NL - 1; j > 0; --j) {
    const Layer& L = m_layers[j];
    Matrix& dh = pass.dh[j];
    dh.noalias() = L.scale * (pass.delta[j] * weight(w, j));
    if (j + 1 < NL && L.residual) dh += pass.dh[j + 1];
    const Layer& below = m_layers[j - 1];
    if (below.activation == Activation::Identity) pass.delta[j - 1] = dh;
    else pass.delta[j - 1] = dh.cwiseProduct(pass.d1[j - 1]);
  }
}

void Network::write_gradient(Pass& pass, double* grad) const {
  // Every parameter block receives exactly one term: assign, no zero fill needed.
  for (std::size_t j = 0; j < m_layers.size(); ++j) {
    if (m_offset[j] < 0) continue;
    const Layer& L = m_layers[j];
    Eigen::Map<MatrixR> G(grad + m_offset[j], L.out, L.in);
    G.noalias() = L.scale * (pass.delta[j].transpose() * pass.h[j]);
    if (L.bias)
      Eigen::Map<Eigen::RowVectorXd>(grad + m_offset[j] + L.out * L.in, L.out) =
          pass.delta[j].colwise().sum();
  }
}

double Network::loss(const VectorRef& w, const IndexVector* samples) const {
  check_params(w);
  check_samples(samples);
  const Index n = batch_size(samples), blocks = detail::num_blocks(n);
  const double norm = norm_factor(n);
  std::vector<double> parts(blocks, 0.0);
  parallel_for(blocks, num_threads(), [&](Index b) {
    Pass& pass = local_pass();
    forward(w, samples, detail::block_begin(n, blocks, b), detail::block_begin(n, blocks, b + 1), pass, 0);
    parts[b] = loss_grad_out(pass, norm);
  });
  double total = 0.0;
  for (double v : parts) total += v;
  return total;
}

double Network::loss_and_gradient(const VectorRef& w, Vector& grad, const IndexVector* samples) const {
  check_params(w);
  check_samples(samples);
  const Index n = batch_size(samples), blocks = detail::num_blocks(n);
  const double norm = norm_factor(n);
  std::vector<double> parts(blocks, 0.0);
  std::vector<Vector> grads(blocks);
  parallel_for(blocks, num_threads(), [&](Index b) {
    Pass& pass = local_pass();
    forward(w, samples, detail::block_begin(n, blocks, b), detail::block_begin(n, blocks, b + 1), pass, 1);
    parts[b] = loss_grad_out(pass, norm);
    backward(w, pass);
    grads[b] = detail::large_matrix<Vector>(m_num_params, 1);
    write_gradient(pass, grads[b].data());
  });
  grad = std::move(grads[0]);
  double total = parts[0];
  for (Index b = 1; b < blocks; ++b) {
    grad += grads[b];
    total += parts[b];
  }
  return total;
}

MatrixR Network::outputs(const VectorRef& w) const {
  check_params(w);
  const Index n = num_samples(), blocks = detail::num_blocks(n);
  MatrixR F(n, output_dim());
  parallel_for(blocks, num_threads(), [&](Index b) {
    Pass& pass = local_pass();
    const Index lo = detail::block_begin(n, blocks, b), hi = detail::block_begin(n, blocks, b + 1);
    forward(w, nullptr, lo, hi, pass, 0);
    F.middleRows(lo, hi - lo) = pass.z.back();
  });
  return F;
}

MatrixR Network::residuals(const VectorRef& w) const {
  check_params(w);
  const Index n = num_samples(), blocks = detail::num_blocks(n);
  MatrixR R(n, output_dim());
  parallel_for(blocks, num_threads(), [&](Index b) {
    Pass pass;
    const Index lo = detail::block_begin(n, blocks, b), hi = detail::block_begin(n, blocks, b + 1);
    forward(w, nullptr, lo, hi, pass, 0);
    loss_grad_out(pass, 1.0);
    R.middleRows(lo, hi - lo) = pass.g;
  });
  return R;
}

// ---------------------------------------------------------------------------------------------
// Jacobian and tangent kernel

MatrixR Network::jacobian(const VectorRef& w) const {
  check_params(w);
  const Index n = num_samples(), k = output_dim(), blocks = detail::num_blocks(n);
  MatrixR J = detail::large_matrix<MatrixR>(n * k, m_num_params);  // every entry is written below
  parallel_for(blocks, num_threads(), [&](Index b) {
    Pass pass;
    const Index lo = detail::block_begin(n, blocks, b), hi = detail::block_begin(n, blocks, b + 1);
    forward(w, nullptr, lo, hi, pass, 1);
    for (Index c = 0; c < k; ++c) {
      detail::checkpoint();
      pass.g = Matrix::Zero(pass.rows, k);
      pass.g.col(c).setOnes();
      backward(w, pass);
      for (std::size_t j = 0; j < m_layers.size(); ++j) {
        if (m_offset[j] < 0) continue;
        const Layer& L = m_layers[j];
        for (Index i = 0; i < pass.rows; ++i) {
          if (i % 64 == 0) detail::checkpoint();
          double* row = J.row((lo + i) * k + c).data() + m_offset[j];
          Eigen::Map<MatrixR>(row, L.out, L.in).noalias() =
              L.scale * pass.delta[j].row(i).transpose() * pass.h[j].row(i);
          if (L.bias) Eigen::Map<Eigen::RowVectorXd>(row + L.out * L.in, L.out) = pass.delta[j].row(i);
        }
      }
    }
  });
  return J;
}

MatrixR Network::tangent_kernel(const VectorRef& w) const {
  // K = Σ_j s_j² (Δ_j Δ_jᵀ) ⊙ (h_j h_jᵀ) [+ Δ_j Δ_jᵀ for a bias], with Δ_j the per-output
  // backpropagated errors: never forms J.
  check_params(w);
  const Index n = num_samples(), k = output_dim(), blocks = detail::num_blocks(n);
  const std::size_t NL = m_layers.size();
  std::vector<Matrix> Delta(NL), Hin(NL);
  for (std::size_t j = 0; j < NL; ++j) {
    if (m_offset[j] < 0) continue;
    Delta[j].resize(n * k, m_layers[j].out);  // row i*k + c
    Hin[j].resize(n, m_layers[j].in);
  }
  parallel_for(blocks, num_threads(), [&](Index b) {
    Pass pass;
    const Index lo = detail::block_begin(n, blocks, b), hi = detail::block_begin(n, blocks, b + 1);
    forward(w, nullptr, lo, hi, pass, 1);
    for (std::size_t j = 0; j < NL; ++j)
      if (m_offset[j] >= 0) Hin[j].middleRows(lo, hi - lo) = pass.h[j];
    for (Index c = 0; c < k; ++c) {
      detail::checkpoint();
      pass.g = Matrix::Zero(pass.rows, k);
      pass.g.col(c).setOnes();
      backward(w, pass);
      for (std::size_t j = 0; j < NL; ++j) {
        if (m_offset[j] < 0) continue;
        for (Index i = 0; i < pass.rows; ++i) Delta[j].row((lo + i) * k + c) = pass.delta[j].row(i);
      }
    }
  });
  const Index N = n * k;
  MatrixR K = detail::large_matrix<MatrixR>(N, N);
  const Index tile = 128, nt = (N + tile - 1) / tile;
  // Upper-triangular tiles of K in parallel; each tile is owned by one thread.
  std::vector<std::pair<Index, Index>> tiles;
  for (Index I = 0; I < nt; ++I)
    for (Index Jt = I; Jt < nt; ++Jt) tiles.emplace_back(I, Jt);
  parallel_for(static_cast<Index>(tiles.size()), num_threads(), [&](Index t) {
    const Index r0 = tiles[t].first * tile, c0 = tiles[t].second * tile;
    const Index rs = std::min(tile, N - r0), cs = std::min(tile, N - c0);
    Matrix acc = Matrix::Zero(rs, cs), A, B;
    for (std::size_t j = 0; j < NL; ++j) {
      if (m_offset[j] < 0) continue;
      const Layer& L = m_layers[j];
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
  }, true);
  return K;
}

// ---------------------------------------------------------------------------------------------
// Hessian-vector products

void Network::jvp(const VectorRef& w, const double* v, const Pass& pass, RScratch& s, Matrix& RF) const {
  const std::size_t NL = m_layers.size();
  s.Rh.resize(NL);
  s.Rz.resize(NL);
  for (std::size_t j = 0; j < NL; ++j) {
    const Layer& L = m_layers[j];
    Matrix& Rz = (j + 1 == NL) ? RF : s.Rz[j];
    Rz.setZero(pass.rows, L.out);
    if (j > 0) Rz.noalias() += L.scale * (s.Rh[j] * weight(w, j).transpose());
    if (m_offset[j] >= 0) {
      Rz.noalias() += L.scale * (pass.h[j] * RowMap(v + m_offset[j], L.out, L.in).transpose());
      if (L.bias) Rz.rowwise() += Eigen::Map<const Eigen::RowVectorXd>(v + m_offset[j] + L.out * L.in, L.out);
    }
    if (j + 1 == NL) break;
    if (L.activation == Activation::Identity) s.Rh[j + 1] = Rz;
    else s.Rh[j + 1].noalias() = Rz.cwiseProduct(pass.d1[j]);
    if (L.residual) s.Rh[j + 1] += s.Rh[j];
  }
}

void Network::r_pass(const VectorRef& w, const double* v, const Pass& pass, RScratch& s, double norm,
                     double* out) const {
  // Pearlmutter's R-operator: forward tangents (jvp), then the derivative of the backward pass.
  const std::size_t NL = m_layers.size();
  jvp(w, v, pass, s, s.RF);
  detail::apply_loss_curvature(m_options.loss, pass.p, s.RF, norm, s.Rdelta);
  s.Rdh.resize(2);
  Matrix& Rdh = s.Rdh[0];
  Matrix& Rdh_above = s.Rdh[1];
  for (std::size_t j = NL; j-- > 0;) {
    const Layer& L = m_layers[j];
    const RowMap W = weight(w, j);
    if (m_offset[j] >= 0) {
      // Each block of `out` is written once (assignment), then the second term added.
      Eigen::Map<MatrixR> G(out + m_offset[j], L.out, L.in);
      G.noalias() = L.scale * (s.Rdelta.transpose() * pass.h[j]);
      if (j > 0) G.noalias() += L.scale * (pass.delta[j].transpose() * s.Rh[j]);
      if (L.bias) Eigen::Map<Eigen::RowVectorXd>(out + m_offset[j] + L.out * L.in, L.out) =
          s.Rdelta.colwise().sum();
    }
    if (j == 0) break;
    Rdh.noalias() = L.scale * (s.Rdelta * W);
    if (m_offset[j] >= 0) Rdh.noalias() += L.scale * (pass.delta[j] * RowMap(v + m_offset[j], L.out, L.in));
    if (L.residual && j + 1 < NL) Rdh += Rdh_above;
    const Layer& below = m_layers[j - 1];
    if (below.activation == Activation::Identity) {
      s.Rdelta = Rdh;
    } else {
      s.Rdelta = Rdh.cwiseProduct(pass.d1[j - 1]);
      s.Rdelta.array() += pass.dh[j].array() * pass.d2[j - 1].array() * s.Rz[j - 1].array();
    }
    std::swap(Rdh, Rdh_above);
  }
}

Matrix Network::hvp(const VectorRef& w, const MatrixRef& V, const IndexVector* samples) const {
  check_params(w);
  check_directions(V);
  check_samples(samples);
  const Index n = batch_size(samples), blocks = detail::num_blocks(n), b = V.cols();
  const double norm = norm_factor(n);
  std::vector<Matrix> parts(blocks);
  parallel_for(blocks, num_threads(), [&](Index blk) {
    Pass& pass = local_pass();
    forward(w, samples, detail::block_begin(n, blocks, blk), detail::block_begin(n, blocks, blk + 1), pass, 2);
    loss_grad_out(pass, norm);
    backward(w, pass);
    parts[blk] = detail::large_matrix<Matrix>(m_num_params, b);
    for (Index c = 0; c < b; ++c) {
      detail::checkpoint();
      const double* v = V.col(c).data();  // a MatrixRef column is contiguous
      r_pass(w, v, pass, pass.r, norm, parts[blk].col(c).data());
    }
  });
  for (Index blk = 1; blk < blocks; ++blk) parts[0] += parts[blk];
  return std::move(parts[0]);
}

Matrix Network::gauss_newton_vp(const VectorRef& w, const MatrixRef& V) const {
  check_params(w);
  check_directions(V);
  const Index n = num_samples(), blocks = detail::num_blocks(n), b = V.cols();
  const double norm = norm_factor(n);
  std::vector<Matrix> parts(blocks);
  parallel_for(blocks, num_threads(), [&](Index blk) {
    Pass& pass = local_pass();
    forward(w, nullptr, detail::block_begin(n, blocks, blk), detail::block_begin(n, blocks, blk + 1), pass, 1);
    loss_grad_out(pass, norm);
    parts[blk] = detail::large_matrix<Matrix>(m_num_params, b);
    for (Index c = 0; c < b; ++c) {
      detail::checkpoint();
      const double* v = V.col(c).data();  // a MatrixRef column is contiguous
      jvp(w, v, pass, pass.r, pass.r.RF);    // J v
      detail::apply_loss_curvature(m_options.loss, pass.p, pass.r.RF, norm, pass.g);  // D J v
      backward(w, pass);                     // Jᵀ D J v
      write_gradient(pass, parts[blk].col(c).data());
    }
  });
  for (Index blk = 1; blk < blocks; ++blk) parts[0] += parts[blk];
  return std::move(parts[0]);
}

}  // namespace landscope

// ---------------------------------------------------------------------------------------------
// Jacobian products and the cached Hessian operator

namespace landscope {

Matrix Network::jvp(const VectorRef& w, const MatrixRef& V) const {
  check_params(w);
  check_directions(V);
  const Index n = num_samples(), k = output_dim(), blocks = detail::num_blocks(n), b = V.cols();
  Matrix out(n * k, b);
  parallel_for(blocks, num_threads(), [&](Index blk) {
    Pass& pass = local_pass();
    const Index lo = detail::block_begin(n, blocks, blk), hi = detail::block_begin(n, blocks, blk + 1);
    forward(w, nullptr, lo, hi, pass, 1);
    for (Index c = 0; c < b; ++c) {
      detail::checkpoint();
      const double* v = V.col(c).data();  // a MatrixRef column is contiguous
      jvp(w, v, pass, pass.r, pass.r.RF);
      Eigen::Map<MatrixR>(out.col(c).data() + lo * k, hi - lo, k) = pass.r.RF;
    }
  });
  return out;
}

Matrix Network::vjp(const VectorRef& w, const MatrixRef& U) const {
  check_params(w);
  const Index n = num_samples(), k = output_dim(), blocks = detail::num_blocks(n), b = U.cols();
  if (U.rows() != n * k)
    throw std::invalid_argument("u: expected " + std::to_string(n * k) + " rows, got " + std::to_string(U.rows()));
  if (!U.allFinite()) throw std::invalid_argument("u: contains NaN or Inf");
  std::vector<Matrix> parts(blocks);
  parallel_for(blocks, num_threads(), [&](Index blk) {
    Pass& pass = local_pass();
    const Index lo = detail::block_begin(n, blocks, blk), hi = detail::block_begin(n, blocks, blk + 1);
    forward(w, nullptr, lo, hi, pass, 1);
    parts[blk] = detail::large_matrix<Matrix>(m_num_params, b);
    for (Index c = 0; c < b; ++c) {
      detail::checkpoint();
      pass.g = Eigen::Map<const MatrixR>(U.col(c).data() + lo * k, hi - lo, k);
      backward(w, pass);
      write_gradient(pass, parts[blk].col(c).data());
    }
  });
  for (Index blk = 1; blk < blocks; ++blk) parts[0] += parts[blk];
  return std::move(parts[0]);
}

/// H(w) with the forward and backward pass at w computed once: each product runs only the
/// R-pass. The cached passes are read-only; the R-pass scratch is per thread.
class NetworkHessianOperator : public LinearOperator {
 public:
  NetworkHessianOperator(const Network& net, const VectorRef& w)
      : m_net(net), m_w(w), m_blocks(detail::num_blocks(net.num_samples())), m_passes(m_blocks) {
    const Index n = net.num_samples();
    m_norm = net.norm_factor(n);
    parallel_for(m_blocks, num_threads(), [&](Index blk) {
      Network::Pass& pass = m_passes[blk];
      m_net.forward(m_w, nullptr, detail::block_begin(n, m_blocks, blk),
                    detail::block_begin(n, m_blocks, blk + 1), pass, 2);
      m_net.loss_grad_out(pass, m_norm);
      m_net.backward(m_w, pass);
    });
  }
  Index size() const override { return m_net.num_params(); }
  void apply(const MatrixRef& X, Matrix& Y) const override {
    m_net.check_directions(X);
    const Index P = m_net.num_params(), b = X.cols();
    std::vector<Matrix> parts(m_blocks);
    parallel_for(m_blocks, num_threads(), [&](Index blk) {
      thread_local Network::RScratch scratch;
      parts[blk] = detail::large_matrix<Matrix>(P, b);
      for (Index c = 0; c < b; ++c) {
        detail::checkpoint();
        const double* v = X.col(c).data();  // a MatrixRef column is contiguous
        m_net.r_pass(m_w, v, m_passes[blk], scratch, m_norm, parts[blk].col(c).data());
      }
    });
    for (Index blk = 1; blk < m_blocks; ++blk) parts[0] += parts[blk];
    Y = std::move(parts[0]);
  }

 private:
  const Network& m_net;
  Vector m_w;
  Index m_blocks;
  std::vector<Network::Pass> m_passes;
  double m_norm = 1.0;
};

std::unique_ptr<LinearOperator> Network::hessian_operator(const VectorRef& w) const {
  check_params(w);
  return std::make_unique<NetworkHessianOperator>(*this, w);
}

}  // namespace landscope
