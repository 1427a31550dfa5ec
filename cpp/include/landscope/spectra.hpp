#pragma once
// Symmetric eigensolvers over operators: thick-restart (block) Lanczos with full
// reorthogonalization, stochastic Lanczos quadrature and stochastic trace estimation.
#include <cstdint>
#include <functional>
#include <string>

#include "landscope/operator.hpp"
#include "landscope/status.hpp"

namespace landscope {

enum class Which {
  Largest,           // "LA": largest algebraic
  Smallest,          // "SA": smallest algebraic
  BothEnds,          // "BE": ceil(k/2) largest and floor(k/2) smallest
  LargestMagnitude,  // "LM"
};
Which which_from_string(const std::string& s);

struct LanczosProgress {
  Index restarts = 0;
  Index products = 0;
  Index converged = 0;     // wanted pairs within tolerance
  Index wanted = 0;        // k
  double max_residual = 0; // largest relative residual among the wanted pairs
};

/// The settings of lanczos(). Field names are the keywords of landscope.eigsh; every default
/// is written here once.
struct LanczosOptions {
  Index k = 6;
  Which which = Which::Largest;
  double tol = 1e-10;       // ‖A x − θ x‖ <= tol · ‖A‖₂ (estimated by the largest |Ritz value|
                            // and ‖A q‖ seen)
  Index maxiter = 1000;     // restarts
  Index ncv = 0;            // basis size; 0: default_ncv(n)
  Index block_size = 1;
  std::uint64_t seed = 0;   // random start (and deflation replacements)
  Matrix v0;                // optional start block (n x c, c <= block_size), e.g. a warm start
  /// Test convergence after every block product instead of at restarts only: a warm start near
  /// the answer then stops after a few products (the training loop's sharpness).
  bool early_exit = false;
  Index max_products = 0;   // stop (status NotConverged) after this many products; 0: no limit
  /// Called after every Rayleigh–Ritz step; return false to stop (status Interrupted).
  std::function<bool(const LanczosProgress&)> callback;

  /// The basis size used for an operator of size n: ncv, or max(30, 2k + 2·block_size) capped by n.
  Index default_ncv(Index n) const;
  /// The only semantic check of the options for an operator of size n: throws
  /// std::invalid_argument naming the Python keyword (k, which, tol, ...).
  void check(Index n) const;
};

struct LanczosResult {
  Vector eigenvalues;   // ascending
  Matrix eigenvectors;  // n x k, column i belongs to eigenvalues[i]
  Vector residuals;     // ‖A x − θ x‖ (absolute)
  Index products = 0;   // operator applications to single vectors
  Index restarts = 0;
  Index num_converged = 0;
  Status status = Status::Running;  // Converged, NotConverged or Interrupted (by the callback)
  double anorm = 0;      // the ‖A‖₂ estimate the tolerance is relative to
  bool converged() const { return status == Status::Converged; }
};

/// k eigenpairs at the requested end(s) of a symmetric operator. Re-entrant. Every solver here
/// calls check_interrupt() between products (landscope/interrupt.hpp). Problems with
/// n <= ncv + block_size are solved densely (n products). Throws std::invalid_argument for
/// bad options (k >= n, ...). A result that did not converge is returned (its status says why),
/// not thrown.
LanczosResult lanczos(const LinearOperator& A, const LanczosOptions& options);

/// Stochastic Lanczos quadrature: for each Rademacher probe z (unit-normalized), `steps`
/// Lanczos steps with full reorthogonalization give nodes θ_j and weights τ_j (Σ_j τ_j = 1)
/// such that zᵀ f(A) z ≈ Σ_j τ_j f(θ_j). Probes run `block` at a time through batched products.
struct QuadratureResult {
  Matrix nodes;    // num_probes x steps (rows padded with zero-weight copies of the last node
                   // when a probe's Krylov space is exhausted early)
  Matrix weights;  // num_probes x steps
  Index products = 0;
};
/// Called after each block of probes with (probes done, num_probes).
using ProbeProgress = std::function<void(Index, Index)>;
QuadratureResult lanczos_quadrature(const LinearOperator& A, Index num_probes, Index steps,
                                    std::uint64_t seed, Index block = 4,
                                    const ProbeProgress& progress = {});

/// Stochastic trace estimation with Rademacher probes: Hutchinson, or Hutch++ (a third of the
/// products sketch the range of A, whose trace is then exact; Hutchinson on the rest).
struct TraceResult {
  double estimate = 0;
  double standard_error = 0;
  Vector samples;       // the Hutchinson samples zᵀ A z (of the deflated part for Hutch++)
  double exact_part = 0;  // Hutch++: tr(Qᵀ A Q)
  Index products = 0;
};
/// `progress` is called after each block of probes with (products done, products in all).
TraceResult trace_hutchinson(const LinearOperator& A, Index num_probes, std::uint64_t seed,
                             Index block = 8, const ProbeProgress& progress = {});
TraceResult trace_hutchpp(const LinearOperator& A, Index num_probes, std::uint64_t seed,
                          Index block = 8, const ProbeProgress& progress = {});

}  // namespace landscope
