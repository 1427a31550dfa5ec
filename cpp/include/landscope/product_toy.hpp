#pragma once
// f(x) = ½(Π_k x_k − 1)²: the deep-linear toy of trajectory analysis. P = d, one sample, k = 1.
// It implements only the essentials of Model; loss, K, H and (G, R) are the defaults.
#include "landscope/model.hpp"

namespace landscope {

class ProductToy : public Model {
 public:
  explicit ProductToy(Index d);

  Index num_params() const override { return m_d; }
  Index num_samples() const override { return 1; }
  Index output_dim() const override { return 1; }
  std::vector<ParamBlock> param_blocks() const override;
  /// x ~ U(0.5, 1.5) elementwise: a positive start (seeded).
  Vector init(std::uint64_t seed) const override;

  double loss_and_gradient(const VectorRef& w, Vector& grad,
                           const IndexVector* samples = nullptr) const override;
  MatrixR outputs(const VectorRef& w) const override;
  MatrixR residuals(const VectorRef& w) const override;
  MatrixR jacobian(const VectorRef& w) const override;
  Matrix hvp(const VectorRef& w, const MatrixRef& V,
             const IndexVector* samples = nullptr) const override;
  Matrix gauss_newton_vp(const VectorRef& w, const MatrixRef& V) const override;

  /// "balancedness": max_i x_i / min_j x_j (inf unless all x > 0), the conserved-imbalance
  /// signal of deep linear dynamics.
  std::unique_ptr<Diagnostic> diagnostic(const std::string& name) const override;
  std::vector<std::string> diagnostics() const override { return {"balancedness"}; }

 private:
  Index m_d;
};

}  // namespace landscope
