#include "landscope/product_toy.hpp"

#include <limits>
#include <stdexcept>
#include <string>

#include "landscope/diagnostic.hpp"
#include "rng.hpp"

namespace landscope {
namespace {

// ∂Π/∂x_k = Π_{j≠k} x_j by prefix and suffix products (no division, exact at zeros).
Vector partial_products(const VectorRef& x) {
  const Index d = x.size();
  Vector pre(d + 1), out(d);
  pre[0] = 1.0;
  for (Index k = 0; k < d; ++k) pre[k + 1] = pre[k] * x[k];
  double suf = 1.0;
  for (Index k = d; k-- > 0;) {
    out[k] = pre[k] * suf;
    suf *= x[k];
  }
  return out;
}

// ∂²Π/∂x_k∂x_l = Π_{j≠k,l} x_j (zero diagonal).
MatrixR second_partials(const VectorRef& x) {
  const Index d = x.size();
  MatrixR M = MatrixR::Zero(d, d);
  for (Index k = 0; k < d; ++k)
    for (Index l = k + 1; l < d; ++l) {
      double prod = 1.0;
      for (Index j = 0; j < d; ++j)
        if (j != k && j != l) prod *= x[j];
      M(k, l) = M(l, k) = prod;
    }
  return M;
}

// The single sample, counted as often as a sample list repeats it ("sum" reduction).
double sample_count(const IndexVector* samples) {
  return samples ? static_cast<double>(samples->size()) : 1.0;
}

}  // namespace

ProductToy::ProductToy(Index d) : m_d(d) {
  if (d < 1) throw std::invalid_argument("d: expected a dimension >= 1, got " + std::to_string(d));
}

std::vector<ParamBlock> ProductToy::param_blocks() const { return {{"x", 0, m_d, 1}}; }

Vector ProductToy::init(std::uint64_t seed) const {
  detail::Rng rng(seed);
  Vector x(m_d);
  for (Index k = 0; k < m_d; ++k) x[k] = 0.5 + rng.uniform();
  return x;
}

double ProductToy::loss_and_gradient(const VectorRef& w, Vector& grad, const IndexVector* samples) const {
  check_params(w);
  check_samples(samples);
  const double r = w.prod() - 1.0;
  grad = r * sample_count(samples) * partial_products(w);
  return 0.5 * r * r * sample_count(samples);
}

MatrixR ProductToy::outputs(const VectorRef& w) const {
  check_params(w);
  MatrixR F(1, 1);
  F(0, 0) = w.prod();
  return F;
}

MatrixR ProductToy::residuals(const VectorRef& w) const {
  MatrixR F = outputs(w);
  F(0, 0) -= 1.0;
  return F;
}

MatrixR ProductToy::jacobian(const VectorRef& w) const {
  check_params(w);
  return partial_products(w).transpose();
}

Matrix ProductToy::hvp(const VectorRef& w, const MatrixRef& V, const IndexVector* samples) const {
  check_params(w);
  check_directions(V);
  check_samples(samples);
  // H = p pᵀ + (Π x − 1) ∂²Π: the Gauss–Newton and residual parts, applied without forming H.
  const Vector p = partial_products(w);
  Matrix HV = p * (p.transpose() * V);
  HV.noalias() += (w.prod() - 1.0) * (second_partials(w) * V);
  return sample_count(samples) * HV;
}

Matrix ProductToy::gauss_newton_vp(const VectorRef& w, const MatrixRef& V) const {
  check_params(w);
  check_directions(V);
  const Vector p = partial_products(w);
  return p * (p.transpose() * V);
}

namespace {

class Balancedness : public Diagnostic {
 public:
  std::string name() const override { return "balancedness"; }
  double compute(Row& row) override {
    const Vector& x = row.point.w();
    const double lo = x.minCoeff();
    return lo > 0 ? x.maxCoeff() / lo : std::numeric_limits<double>::infinity();
  }
  bool updates_state() const override { return false; }
};

}  // namespace

std::unique_ptr<Diagnostic> ProductToy::diagnostic(const std::string& name) const {
  if (name == "balancedness") return std::make_unique<Balancedness>();
  return nullptr;
}

}  // namespace landscope
