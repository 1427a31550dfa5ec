#include "landscope/model.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace landscope {

Vector Model::gradient(const VectorRef& w, const IndexVector* samples) const {
  Vector g;
  loss_and_gradient(w, g, samples);
  return g;
}

Matrix Model::jvp(const VectorRef& w, const MatrixRef& V) const {
  check_directions(V);
  return jacobian(w) * V;
}

Matrix Model::vjp(const VectorRef& w, const MatrixRef& U) const {
  if (U.rows() != num_outputs())
    throw std::invalid_argument("u: expected " + std::to_string(num_outputs()) + " rows, got " +
                                std::to_string(U.rows()));
  if (!U.allFinite()) throw std::invalid_argument("u: contains NaN or Inf");
  return jacobian(w).transpose() * U;
}

std::unique_ptr<LinearOperator> Model::hessian_operator(const VectorRef& w) const {
  check_params(w);
  return std::make_unique<FunctionOperator>(
      num_params(), [this, w = Vector(w)](const MatrixRef& X, Matrix& Y) { Y = hvp(w, X); });
}

std::unique_ptr<LinearOperator> Model::gauss_newton_operator(const VectorRef& w) const {
  check_params(w);
  return std::make_unique<FunctionOperator>(
      num_params(), [this, w = Vector(w)](const MatrixRef& X, Matrix& Y) { Y = gauss_newton_vp(w, X); });
}

std::unique_ptr<LinearOperator> Model::kernel_operator(const VectorRef& w) const {
  check_params(w);
  return std::make_unique<FunctionOperator>(
      num_outputs(), [this, w = Vector(w)](const MatrixRef& U, Matrix& Y) { Y = jvp(w, vjp(w, U)); });
}

void Model::check_params(const VectorRef& w) const {
  if (w.size() != num_params())
    throw std::invalid_argument("w: expected " + std::to_string(num_params()) +
                                " parameters, got " + std::to_string(w.size()));
  if (!w.allFinite()) throw std::invalid_argument("w: contains NaN or Inf");
}

void Model::check_directions(const MatrixRef& V) const {
  if (V.rows() != num_params())
    throw std::invalid_argument("v: expected " + std::to_string(num_params()) +
                                " rows, got " + std::to_string(V.rows()));
  if (!V.allFinite()) throw std::invalid_argument("v: contains NaN or Inf");
}

void Model::check_samples(const IndexVector* samples) const {
  if (!samples) return;
  if (samples->size() == 0) throw std::invalid_argument("samples: empty index array");
  const Index n = num_samples();
  for (Index i = 0; i < samples->size(); ++i) {
    const auto s = (*samples)[i];
    if (s < 0 || s >= n)
      throw std::invalid_argument("samples: index " + std::to_string(s) + " out of range [0, " +
                                  std::to_string(n) + ")");
  }
}

}  // namespace landscope
