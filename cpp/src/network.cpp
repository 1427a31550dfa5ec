// Layered networks: construction and the parameter layout. Every derivative is computed at a
// NetworkPoint (network_point.cpp); the Model methods here are calls to one.
#include <cmath>
#include <stdexcept>
#include <string>

#include "network_internal.hpp"
#include "rng.hpp"

namespace landscope {

namespace {

std::string shape(Index r, Index c) { return "(" + std::to_string(r) + ", " + std::to_string(c) + ")"; }

void check_finite(const MatrixR& A, const char* name) {
  if (!A.allFinite()) throw std::invalid_argument(std::string(name) + ": contains NaN or Inf");
}

}  // namespace

Network::Network(MatrixR X, MatrixR Y, IndexVector labels, std::vector<Layer> layers,
                 NetworkOptions options, std::vector<std::string> block_names)
    : m_X(std::move(X)), m_layers(std::move(layers)), m_reduction(options.reduction) {
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
  m_head = detail::make_loss_head(options.loss, std::move(Y), std::move(labels), n, m_layers.back().out);
  m_offset.assign(m_layers.size(), -1);
  Index off = 0;
  for (std::size_t j = 0; j < m_layers.size(); ++j) {
    if (!m_layers[j].trainable) continue;
    m_offset[j] = off;
    off += m_layers[j].out * m_layers[j].in + (m_layers[j].bias ? m_layers[j].out : 0);
  }
  m_num_params = off;
  // A block should carry about 2^19 flops of forward pass (a gradient of such a block takes about
  // 40 µs, an HVP about 80): below that, waking a second thread costs more than it saves, and
  // on a busy machine (where a parked thread wakes only at the next scheduler time slice,
  // milliseconds later) far more. A weight matrix
  // beyond the L2 cache (2^18 doubles) is streamed from memory and packed once per block: such
  // blocks get 128 rows at least, or the packing costs a third of an HVP (M2: 1024 x 1024).
  double flops_per_row = 0;
  Index largest = 0;
  for (const Layer& L : m_layers) {
    flops_per_row += 2.0 * static_cast<double>(L.in * L.out) + 10.0 * L.out;
    largest = std::max(largest, L.in * L.out);
  }
  const Index floor_rows = largest > (Index(1) << 18) ? 128 : 32;
  m_min_rows = std::max<Index>(floor_rows, static_cast<Index>(std::ceil(524288.0 / flops_per_row)));
  if (m_num_params == 0) throw std::invalid_argument("layers: the network has no trainable parameters");
  if (block_names.empty())
    for (std::size_t j = 0; j < m_layers.size(); ++j) block_names.push_back(std::to_string(j + 1));
  if (block_names.size() != m_layers.size())
    throw std::invalid_argument("block_names: one name per layer expected");
  m_names = std::move(block_names);
}

Network::~Network() = default;

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
  return m_reduction == Reduction::Mean ? 1.0 / static_cast<double>(batch) : 1.0;
}

Index Network::blocks(Index n) const { return detail::num_blocks(n, m_min_rows); }

// ---------------------------------------------------------------------------------------------
// The Model interface, through a point

std::shared_ptr<Point> Network::at(const VectorRef& w, const IndexVector* samples) const {
  return std::make_shared<NetworkPoint>(*this, w, samples);
}

double Network::loss(const VectorRef& w, const IndexVector* samples) const { return at(w, samples)->loss(); }

double Network::loss_and_gradient(const VectorRef& w, Vector& grad, const IndexVector* samples) const {
  auto p = at(w, samples);
  grad = p->gradient();
  return p->loss();
}

MatrixR Network::outputs(const VectorRef& w) const { return at(w)->outputs(); }
MatrixR Network::residuals(const VectorRef& w) const { return at(w)->residuals(); }
MatrixR Network::jacobian(const VectorRef& w) const { return at(w)->jacobian(); }
MatrixR Network::tangent_kernel(const VectorRef& w) const { return at(w)->tangent_kernel(); }
Matrix Network::hvp(const VectorRef& w, const MatrixRef& V, const IndexVector* samples) const {
  return at(w, samples)->hvp(V);
}
Matrix Network::gauss_newton_vp(const VectorRef& w, const MatrixRef& V) const { return at(w)->gauss_newton_vp(V); }
Matrix Network::jvp(const VectorRef& w, const MatrixRef& V) const { return at(w)->jvp(V); }
Matrix Network::vjp(const VectorRef& w, const MatrixRef& U) const { return at(w)->vjp(U); }
MatrixR Network::hessian(const VectorRef& w) const { return at(w)->hessian(); }
std::pair<MatrixR, MatrixR> Network::hessian_parts(const VectorRef& w) const { return at(w)->hessian_parts(); }

}  // namespace landscope
