// Stochastic Lanczos quadrature and stochastic trace estimators.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "krylov.hpp"
#include "landscope/interrupt.hpp"
#include "landscope/spectra.hpp"
#include "memory.hpp"

namespace landscope {

namespace {

std::string str(Index v) { return std::to_string(v); }

void apply_checked(const LinearOperator& A, const MatrixRef& X, Matrix& Y) {
  check_interrupt();
  A.apply(X, Y);
  if (Y.rows() != X.rows() || Y.cols() != X.cols())
    throw std::invalid_argument("op: the product has shape (" + str(Y.rows()) + ", " + str(Y.cols()) +
                                "), expected (" + str(X.rows()) + ", " + str(X.cols()) + ")");
  if (!Y.allFinite()) throw std::invalid_argument("op: the product contains NaN or Inf");
}

void check_count(Index v, const char* name, Index least) {
  if (v < least)
    throw std::invalid_argument(std::string(name) + ": expected >= " + str(least) + ", got " + str(v));
}

void finish(TraceResult& r) {
  const Index m = r.samples.size();
  const double mean = r.samples.mean();
  r.estimate = r.exact_part + mean;
  r.standard_error =
      m > 1 ? std::sqrt((r.samples.array() - mean).square().sum() / double(m - 1) / double(m)) : 0.0;
}

}  // namespace

QuadratureResult lanczos_quadrature(const LinearOperator& A, Index num_probes, Index steps,
                                    std::uint64_t seed, Index block, const ProbeProgress& progress) {
  const Index n = A.size();
  check_count(num_probes, "num_probes", 1);
  check_count(steps, "steps", 1);
  check_count(block, "block", 1);
  steps = std::min(steps, n);
  QuadratureResult out;
  out.nodes = Matrix::Zero(num_probes, steps);
  out.weights = Matrix::Zero(num_probes, steps);
  detail::Rng rng(seed);
  for (Index p0 = 0; p0 < num_probes; p0 += block) {
    const Index q = std::min(block, num_probes - p0);
    std::vector<Matrix> V(q);
    Matrix alpha = Matrix::Zero(steps, q), beta = Matrix::Zero(steps, q);
    std::vector<Index> len(q, 0);
    std::vector<double> scale(q, 0.0);
    for (Index p = 0; p < q; ++p) {
      V[p] = detail::large_matrix<Matrix>(n, steps);
      detail::fill_rademacher(V[p].leftCols(1), rng, 1.0 / std::sqrt(double(n)));
    }
    std::vector<Index> active(q);
    for (Index p = 0; p < q; ++p) active[p] = p;
    Matrix X, Y;
    for (Index j = 0; j < steps && !active.empty(); ++j) {
      const Index qa = active.size();
      X.resize(n, qa);
      for (Index a = 0; a < qa; ++a) X.col(a) = V[active[a]].col(j);
      apply_checked(A, X, Y);
      out.products += qa;
      std::vector<Index> still;
      for (Index a = 0; a < qa; ++a) {
        const Index p = active[a];
        auto y = Y.col(a);
        const Matrix h = detail::orthogonalize(V[p].leftCols(j + 1), y);
        alpha(j, p) = h(j, 0);
        len[p] = j + 1;
        scale[p] = std::max({scale[p], std::abs(h(j, 0)), j > 0 ? beta(j - 1, p) : 0.0});
        if (j + 1 == steps) continue;
        const double nrm = y.norm();
        if (nrm <= 1e-12 * scale[p]) continue;  // invariant subspace: the quadrature is exact
        beta(j, p) = nrm;
        V[p].col(j + 1) = y / nrm;
        still.push_back(p);
      }
      active.swap(still);
    }
    for (Index p = 0; p < q; ++p) {
      const Index L = len[p];
      Eigen::SelfAdjointEigenSolver<Matrix> es;
      es.computeFromTridiagonal(alpha.col(p).head(L), beta.col(p).head(std::max<Index>(L - 1, 0)),
                                Eigen::ComputeEigenvectors);
      out.nodes.row(p0 + p).head(L) = es.eigenvalues().transpose();
      out.weights.row(p0 + p).head(L) = es.eigenvectors().row(0).array().square().matrix();
      out.nodes.row(p0 + p).tail(steps - L).setConstant(es.eigenvalues()[L - 1]);
    }
    if (progress) progress(p0 + q, num_probes);
  }
  return out;
}

TraceResult trace_hutchinson(const LinearOperator& A, Index num_probes, std::uint64_t seed, Index block,
                             const ProbeProgress& progress) {
  const Index n = A.size();
  check_count(num_probes, "num_probes", 2);
  check_count(block, "block", 1);
  TraceResult r;
  r.samples.resize(num_probes);
  detail::Rng rng(seed);
  Matrix Z, Y;
  for (Index p0 = 0; p0 < num_probes; p0 += block) {
    const Index q = std::min(block, num_probes - p0);
    Z.resize(n, q);
    detail::fill_rademacher(Z, rng);
    apply_checked(A, Z, Y);
    r.products += q;
    r.samples.segment(p0, q) = (Z.array() * Y.array()).colwise().sum().transpose();
    if (progress) progress(r.products, num_probes);
  }
  finish(r);
  return r;
}

TraceResult trace_hutchpp(const LinearOperator& A, Index num_probes, std::uint64_t seed, Index block,
                          const ProbeProgress& progress) {
  const Index n = A.size();
  check_count(num_probes, "num_probes", 4);
  check_count(block, "block", 1);
  const Index s = std::min(num_probes / 3, n), g = num_probes - 2 * s;
  TraceResult r;
  detail::Rng rng(seed);
  Matrix S(n, s), Y;
  detail::fill_rademacher(S, rng);
  apply_checked(A, S, Y);
  const Matrix Q = Eigen::HouseholderQR<Matrix>(Y).householderQ() * Matrix::Identity(n, s);
  apply_checked(A, Q, Y);
  r.products = 2 * s;
  if (progress) progress(r.products, 2 * s + g);
  r.exact_part = (Q.array() * Y.array()).sum();
  r.samples.resize(g);
  Matrix Z;
  for (Index p0 = 0; p0 < g; p0 += block) {
    const Index q = std::min(block, g - p0);
    Z.resize(n, q);
    detail::fill_rademacher(Z, rng);
    Z -= Q * (Q.transpose() * Z);
    apply_checked(A, Z, Y);
    r.products += q;
    r.samples.segment(p0, q) = (Z.array() * Y.array()).colwise().sum().transpose();
    if (progress) progress(r.products, 2 * s + g);
  }
  finish(r);
  return r;
}

}  // namespace landscope
