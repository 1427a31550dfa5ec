// The passes of a layered network over one block of samples: forward, backward, the forward
// tangents J v and Pearlmutter's R-pass; and the loss heads on top.
#include <cmath>
#include <stdexcept>
#include <string>

#include "network_internal.hpp"

namespace landscope {

namespace detail {

void tile_mul(Matrix& R, const Matrix& S) {
  const Index n = S.rows(), tiles = R.rows() / n;
  for (Index c = 0; c < R.cols(); ++c)
    Eigen::Map<Eigen::ArrayXXd>(R.col(c).data(), n, tiles).colwise() *= S.col(c).array();
}

namespace {

std::string shape(Index r, Index c) { return "(" + std::to_string(r) + ", " + std::to_string(c) + ")"; }

/// ½‖F − Y‖² per sample: dℓ/dF = F − Y, D = I.
class SquareHead : public LossHead {
 public:
  SquareHead(MatrixR Y, Index n, Index k) : m_Y(std::move(Y)) {
    if (m_Y.rows() != n || m_Y.cols() != k)
      throw std::invalid_argument("y: expected shape " + shape(n, k) + " to match X, got " +
                                  shape(m_Y.rows(), m_Y.cols()));
    if (!m_Y.allFinite()) throw std::invalid_argument("y: contains NaN or Inf");
  }
  void gather(const IndexVector* samples, Index begin, Index end, Network::Pass& pass) const override {
    if (!samples) {
      pass.Y = m_Y.middleRows(begin, end - begin);
      return;
    }
    pass.Y.resize(end - begin, m_Y.cols());
    for (Index i = begin; i < end; ++i) pass.Y.row(i - begin) = m_Y.row(static_cast<Index>((*samples)[i]));
  }
  double value_and_gradient(Network::Pass& pass, double norm) const override {
    pass.g = pass.z.back() - pass.Y;
    const double loss = 0.5 * norm * pass.g.squaredNorm();
    if (norm != 1.0) pass.g *= norm;
    return loss;
  }
  void curvature(const Network::Pass&, const Matrix& RF, double norm, Matrix& out) const override {
    out = norm * RF;
  }
  void weight_jacobian(const MatrixR&, double norm, MatrixR& Jt) const override {
    if (norm != 1.0) Jt *= std::sqrt(norm);
  }

 private:
  MatrixR m_Y;
};

/// Softmax cross-entropy with integer labels: dℓ/dF = softmax(F) − onehot, D = diag(p) − p pᵀ.
class CrossEntropyHead : public LossHead {
 public:
  CrossEntropyHead(IndexVector labels, Index n, Index k) : m_labels(std::move(labels)) {
    if (k < 2) throw std::invalid_argument("num_classes: cross-entropy needs k >= 2 outputs");
    if (m_labels.size() != n)
      throw std::invalid_argument("y: expected " + std::to_string(n) + " labels to match X, got " +
                                  std::to_string(m_labels.size()));
    for (Index i = 0; i < n; ++i)
      if (m_labels[i] < 0 || m_labels[i] >= k)
        throw std::invalid_argument("y: label " + std::to_string(m_labels[i]) + " at index " + std::to_string(i) +
                                    " is outside [0, " + std::to_string(k) + ")");
  }
  void gather(const IndexVector* samples, Index begin, Index end, Network::Pass& pass) const override {
    pass.labels.resize(static_cast<std::size_t>(end - begin));
    for (Index i = begin; i < end; ++i)
      pass.labels[static_cast<std::size_t>(i - begin)] = m_labels[samples ? static_cast<Index>((*samples)[i]) : i];
  }
  double value_and_gradient(Network::Pass& pass, double norm) const override {
    const Matrix& F = pass.z.back();
    const Index rows = F.rows(), k = F.cols();
    pass.p.resize(rows, k);
    double loss = 0.0;
    for (Index i = 0; i < rows; ++i) {
      const double mx = F.row(i).maxCoeff();
      double sum = 0.0;
      for (Index c = 0; c < k; ++c) sum += std::exp(F(i, c) - mx);
      const double lse = mx + std::log(sum);
      for (Index c = 0; c < k; ++c) pass.p(i, c) = std::exp(F(i, c) - lse);
      loss += lse - F(i, pass.labels[static_cast<std::size_t>(i)]);
    }
    pass.g = norm * pass.p;
    for (Index i = 0; i < rows; ++i) pass.g(i, pass.labels[static_cast<std::size_t>(i)]) -= norm;
    return norm * loss;
  }
  void curvature(const Network::Pass& pass, const Matrix& RF, double norm, Matrix& out) const override {
    // (diag(p) − p pᵀ) r per row.
    const Matrix& p = pass.p;
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
  void weight_jacobian(const MatrixR& F, double norm, MatrixR& Jt) const override {
    // diag(p) − p pᵀ = Bᵀ B with B = (I − u uᵀ) diag(u), u = √p (a projector since |u| = 1).
    const Index n = F.rows(), k = F.cols();
    parallel_for(n, detail::threads_for(static_cast<double>(n * k * k) * static_cast<double>(Jt.cols())), [&](Index i) {
      Vector f = F.row(i).transpose();
      const double mx = f.maxCoeff();
      Vector p = (f.array() - mx).exp();
      p /= p.sum();
      const Vector u = p.cwiseSqrt();
      Matrix B = -u * u.transpose();
      B.diagonal().array() += 1.0;
      B = B * u.asDiagonal();
      B *= std::sqrt(norm);
      MatrixR rows = Jt.middleRows(i * k, k);
      Jt.middleRows(i * k, k).noalias() = B * rows;
    });
  }

 private:
  IndexVector m_labels;
};

}  // namespace

std::unique_ptr<LossHead> make_loss_head(LossKind kind, MatrixR Y, IndexVector labels, Index n, Index k) {
  if (kind == LossKind::Square) return std::make_unique<SquareHead>(std::move(Y), n, k);
  return std::make_unique<CrossEntropyHead>(std::move(labels), n, k);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// First-order passes

void Network::forward(const VectorRef& w, const IndexVector* samples, Index begin, Index end,
                      Pass& pass, int order, bool first_done) const {
  const std::size_t NL = m_layers.size();
  const Index rows = end - begin;
  pass.rows = rows;
  pass.order = order;
  pass.h.resize(NL);
  pass.z.resize(NL);
  pass.d1.resize(NL - 1);
  pass.d2.resize(NL - 1);
  Matrix& X0 = pass.h[0];
  X0.resize(rows, m_X.cols());
  if (samples) {
    for (Index i = 0; i < rows; ++i) X0.row(i) = m_X.row(static_cast<Index>((*samples)[begin + i]));
  } else {
    X0 = m_X.middleRows(begin, rows);
  }
  m_head->gather(samples, begin, end, pass);
  for (std::size_t j = 0; j < NL; ++j) {
    const Layer& L = m_layers[j];
    Matrix& z = pass.z[j];
    if (j > 0 || !first_done) {
      z.resize(rows, L.out);
      z.noalias() = L.scale * (pass.h[j] * weight(w, j).transpose());
      if (const double* b = bias(w, j))
        z.rowwise() += Eigen::Map<const Eigen::RowVectorXd>(b, L.out);
    }
    if (j + 1 == NL) break;
    if (order == 0) activate(L.activation, z, pass.h[j + 1]);
    else activate_all(L.activation, z, pass.h[j + 1], pass.d1[j], order >= 2 ? &pass.d2[j] : nullptr);
    if (L.residual) pass.h[j + 1] += pass.h[j];
  }
}

double Network::loss_grad_out(Pass& pass, double norm) const { return m_head->value_and_gradient(pass, norm); }

namespace {

/// out = s A B for A (rows x k) and B (k x cols): an outer product when k = 1 (the output layer
/// of a scalar regression), where a GEMM would pack for a depth-1 product.
template <class B>
void scaled_product(double s, const Matrix& A, const B& Bm, Matrix& out) {
  if (A.cols() == 1) out.noalias() = (s * A.col(0)) * Bm.row(0);
  else out.noalias() = s * (A * Bm);
}

}  // namespace

bool Network::rank_one(std::size_t j) const {
  const Layer& L = m_layers[j];
  const Layer& below = m_layers[j - 1];
  return L.out == 1 && !L.residual && !below.residual && below.activation != Activation::Identity;
}

void Network::backward(const VectorRef& w, Pass& pass, bool first_delta) const {
  const std::size_t NL = m_layers.size();
  const bool second = pass.order >= 2;
  pass.delta.resize(NL);
  pass.dh.resize(NL);
  if (second) pass.curv.resize(NL - 1);
  pass.delta[NL - 1] = pass.g;
  for (std::size_t j = NL - 1; j > 0; --j) {
    const Layer& L = m_layers[j];
    const Layer& below = m_layers[j - 1];
    const bool want_delta = j > 1 || first_delta;
    if (rank_one(j)) {
      // dh = s δ W is rank one (a scalar output): δ and curv below, column by column, without it.
      const double* W = weight(w, j).data();
      const auto top = pass.delta[j].col(0);
      Matrix& delta = pass.delta[j - 1];
      if (want_delta) delta.resize(pass.rows, L.in);
      if (second) pass.curv[j - 1].resize(pass.rows, L.in);
      for (Index c = 0; c < L.in; ++c) {
        const double a = L.scale * W[c];
        if (want_delta) delta.col(c) = (a * top).cwiseProduct(pass.d1[j - 1].col(c));
        if (second) pass.curv[j - 1].col(c) = (a * top).cwiseProduct(pass.d2[j - 1].col(c));
      }
      continue;
    }
    Matrix& dh = pass.dh[j];
    scaled_product(L.scale, pass.delta[j], weight(w, j), dh);
    if (j + 1 < NL && L.residual) dh += pass.dh[j + 1];
    if (below.activation == Activation::Identity) {
      if (want_delta) pass.delta[j - 1] = dh;
      if (second) pass.curv[j - 1].setZero(dh.rows(), dh.cols());
      continue;
    }
    // δ = dh ⊙ σ′ and curv = dh ⊙ σ″ column by column: dh is read once.
    Matrix& delta = pass.delta[j - 1];
    if (want_delta) delta.resize(dh.rows(), dh.cols());
    if (second) pass.curv[j - 1].resize(dh.rows(), dh.cols());
    for (Index c = 0; c < dh.cols(); ++c) {
      if (want_delta) delta.col(c) = dh.col(c).cwiseProduct(pass.d1[j - 1].col(c));
      if (second) pass.curv[j - 1].col(c) = dh.col(c).cwiseProduct(pass.d2[j - 1].col(c));
    }
  }
}

void Network::write_gradient(const Pass& pass, double* grad) const {
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

// ---------------------------------------------------------------------------------------------
// Forward tangents and the R-pass

void Network::tangent(const VectorRef& w, const double* v, const Pass& pass, RScratch& s, Matrix& RF) const {
  const std::size_t NL = m_layers.size();
  s.Rh.resize(NL);
  s.Rz.resize(NL);
  for (std::size_t j = 0; j < NL; ++j) {
    const Layer& L = m_layers[j];
    Matrix& Rz = (j + 1 == NL) ? RF : s.Rz[j];
    const bool own = m_offset[j] >= 0;  // the direction moves this layer's weights
    if (j > 0) Rz.noalias() = L.scale * (s.Rh[j] * weight(w, j).transpose());
    if (own) {
      const RowMap V(v + m_offset[j], L.out, L.in);
      if (j > 0) Rz.noalias() += L.scale * (pass.h[j] * V.transpose());
      else Rz.noalias() = L.scale * (pass.h[j] * V.transpose());
      if (L.bias) Rz.rowwise() += Eigen::Map<const Eigen::RowVectorXd>(v + m_offset[j] + L.out * L.in, L.out);
    } else if (j == 0) {
      Rz.setZero(pass.rows, L.out);
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
  tangent(w, v, pass, s, s.RF);
  m_head->curvature(pass, s.RF, norm, s.Rdelta);
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
    if (rank_one(j)) {
      // Rdh = s (Rδ W + δ V) is rank one: Rδ below column by column, without it.
      const double* Wr = W.data();
      const double* Vr = m_offset[j] >= 0 ? v + m_offset[j] : nullptr;
      const auto Rtop = s.Rdelta.col(0);
      const auto top = pass.delta[j].col(0);
      Rdh.resize(pass.rows, L.in);
      for (Index c = 0; c < L.in; ++c) {
        const auto tail = pass.curv[j - 1].col(c).cwiseProduct(s.Rz[j - 1].col(c));
        if (Vr) Rdh.col(c) = (L.scale * Wr[c] * Rtop + L.scale * Vr[c] * top).cwiseProduct(pass.d1[j - 1].col(c)) + tail;
        else Rdh.col(c) = (L.scale * Wr[c] * Rtop).cwiseProduct(pass.d1[j - 1].col(c)) + tail;
      }
      std::swap(s.Rdelta, Rdh);
      continue;
    }
    scaled_product(L.scale, s.Rdelta, W, Rdh);
    if (m_offset[j] >= 0) {
      if (L.out == 1) Rdh.noalias() += (L.scale * pass.delta[j].col(0)) * RowMap(v + m_offset[j], 1, L.in).row(0);
      else Rdh.noalias() += L.scale * (pass.delta[j] * RowMap(v + m_offset[j], L.out, L.in));
    }
    if (L.residual && j + 1 < NL) Rdh += Rdh_above;
    const Layer& below = m_layers[j - 1];
    if (below.activation == Activation::Identity) s.Rdelta = Rdh;
    else s.Rdelta = Rdh.cwiseProduct(pass.d1[j - 1]) + pass.curv[j - 1].cwiseProduct(s.Rz[j - 1]);
    std::swap(Rdh, Rdh_above);
  }
}

}  // namespace landscope
