#pragma once
// Layered networks: LeastSquares, DeepLinear, ShallowNet and MLP are all instances of Network.
//
//   z_l = s_l h_{l-1} W_lᵀ + b_l,  h_0 = X,
//   h_l = σ(z_l) (+ h_{l-1} for a residual layer),  l = 1..L,
//   F   = z_{L+1}.
//
// The flat parameter vector holds, for each trainable layer in order, W_l (row-major) then b_l.
#include <memory>
#include <string>
#include <vector>

#include "landscope/activation.hpp"
#include "landscope/model.hpp"

namespace landscope {

struct Layer {
  Index in = 0;                              // m_{l-1}
  Index out = 0;                             // m_l
  double scale = 1.0;                        // s_l
  bool bias = false;                         // has b_l
  bool trainable = true;                     // W_l (and b_l) are part of w
  bool residual = false;                     // h_l = h_{l-1} + σ(z_l) (requires in == out)
  Activation activation = Activation::Identity;
  double init_std = 1.0;                     // init(): W_l ~ N(0, init_std²), b_l = 0
  MatrixR fixed_weight;                      // W_l when not trainable, or the init value when set
};

struct NetworkOptions {
  LossKind loss = LossKind::Square;
  Reduction reduction = Reduction::Sum;
};

namespace detail {
class LossHead;
}
class NetworkPoint;

class Network : public Model {
 public:
  /// X is n x d. For the square loss Y is n x k; for cross-entropy `labels` holds n integers
  /// in [0, k) and Y is ignored. The last layer's `out` is k. Throws std::invalid_argument.
  Network(MatrixR X, MatrixR Y, IndexVector labels, std::vector<Layer> layers,
          NetworkOptions options, std::vector<std::string> block_names = {});
  ~Network() override;

  Index num_params() const override { return m_num_params; }
  Index num_samples() const override { return m_X.rows(); }
  Index output_dim() const override { return m_layers.back().out; }
  std::vector<ParamBlock> param_blocks() const override;
  Vector init(std::uint64_t seed) const override;

  /// A NetworkPoint (network_point.cpp): every method below is a call to it.
  std::shared_ptr<Point> at(const VectorRef& w, const IndexVector* samples = nullptr) const override;
  Vector losses(const MatrixRef& W, Vector* grad_norms = nullptr) const override;
  Vector losses_in_span(const VectorRef& w, const MatrixRef& D, const MatrixRef& C) const override;

  double loss(const VectorRef& w, const IndexVector* samples = nullptr) const override;
  double loss_and_gradient(const VectorRef& w, Vector& grad,
                           const IndexVector* samples = nullptr) const override;
  MatrixR outputs(const VectorRef& w) const override;
  MatrixR residuals(const VectorRef& w) const override;
  MatrixR jacobian(const VectorRef& w) const override;
  MatrixR tangent_kernel(const VectorRef& w) const override;
  Matrix hvp(const VectorRef& w, const MatrixRef& V,
             const IndexVector* samples = nullptr) const override;
  Matrix gauss_newton_vp(const VectorRef& w, const MatrixRef& V) const override;
  Matrix jvp(const VectorRef& w, const MatrixRef& V) const override;
  Matrix vjp(const VectorRef& w, const MatrixRef& U) const override;
  MatrixR hessian(const VectorRef& w) const override;
  std::pair<MatrixR, MatrixR> hessian_parts(const VectorRef& w) const override;

  struct Pass;      // forward/backward intermediates of one block of samples (network_internal.hpp)
  struct RScratch;  // R-pass scratch

  /// Sample blocks of a batch of n rows: a power of two up to 16, each with enough work to be
  /// worth a thread. It depends on the sizes only, and every sum over the blocks is taken in
  /// block order, so every result is bit-identical for any thread count.
  Index blocks(Index n) const;

 private:
  friend class NetworkPoint;
  using RowMap = Eigen::Map<const MatrixR>;
  RowMap weight(const VectorRef& w, std::size_t l) const;
  const double* bias(const VectorRef& w, std::size_t l) const;

  // The passes over one block of samples (network_passes.cpp).
  // order: 0 values, 1 +σ', 2 +σ''; with first_done, pass.z[0] already holds the first layer's z.
  void forward(const VectorRef& w, const IndexVector* samples, Index begin, Index end,
               Pass& pass, int order, bool first_done = false) const;
  double loss_grad_out(Pass& pass, double norm) const;   // fills pass.g, returns the block's loss
  /// Layer j ≥ 1 maps to one output and is neither residual nor above a residual or linear
  /// layer: its backpropagated matrices are rank one, and the passes never form them.
  bool rank_one(std::size_t j) const;
  /// δ and ∂ℓ/∂h down to layer 0 (δ_0 only if `first_delta`: an HVP does not read it).
  void backward(const VectorRef& w, Pass& pass, bool first_delta = true) const;
  void write_gradient(const Pass& pass, double* grad) const;
  void r_pass(const VectorRef& w, const double* v, const Pass& pass, RScratch& s, double norm,
              double* out) const;
  void tangent(const VectorRef& w, const double* v, const Pass& pass, RScratch& s, Matrix& RF) const;

  // Dense Hessians (network_hessian.cpp); w is checked by the caller.
  MatrixR gauss_newton_dense(const NetworkPoint& point) const;
  MatrixR hessian_basis(const VectorRef& w) const;
  bool shallow_fast_path() const;
  void shallow_residual_part(const VectorRef& w, MatrixR& H) const;
  double norm_factor(Index batch) const;
  MatrixR m_X;
  std::unique_ptr<detail::LossHead> m_head;  // the loss and its targets
  std::vector<Layer> m_layers;
  std::vector<Index> m_offset;      // offset of W_l in w (−1 when not trainable)
  std::vector<std::string> m_names;  // block name of each layer's weight (bias: "b" + suffix)
  Reduction m_reduction = Reduction::Sum;
  Index m_num_params = 0;
  Index m_min_rows = 32;  // rows of a sample block: enough work to be worth a thread
};

/// F = X Wᵀ, W is k x d.
std::unique_ptr<Network> make_least_squares(MatrixR X, MatrixR Y, Reduction reduction);
/// F = X W_1ᵀ ⋯ W_Lᵀ; `widths` are the hidden widths.
std::unique_ptr<Network> make_deep_linear(MatrixR X, MatrixR Y, const std::vector<Index>& widths,
                                          Reduction reduction);
/// F_i = (1/√m) Σ_j v_j σ(w_jᵀ x_i); v = ±1 alternating unless given; v trained on request.
std::unique_ptr<Network> make_shallow_net(MatrixR X, MatrixR Y, Index width, Activation activation,
                                          const Vector* output_weights, bool train_output,
                                          Reduction reduction);

enum class Parameterization { NTK, Standard };
struct MLPOptions {
  Activation activation = Activation::Tanh;
  Parameterization parameterization = Parameterization::NTK;
  bool bias = false;
  bool residual = false;
  LossKind loss = LossKind::Square;
  Reduction reduction = Reduction::Sum;
  Index num_classes = 0;  // cross-entropy only
};
/// NTK: h_l = σ(W_l h_{l-1}/√m_{l-1}), N(0,1) init. Standard: no 1/√m, He (ReLU) or Xavier init.
/// For cross-entropy pass the labels (n integers) and num_classes; Y is ignored.
std::unique_ptr<Network> make_mlp(MatrixR X, MatrixR Y, IndexVector labels,
                                  const std::vector<Index>& widths, const MLPOptions& options);

}  // namespace landscope
