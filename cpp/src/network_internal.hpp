#pragma once
// Internals of Network shared by its sources:
//   network.cpp          construction, parameter layout, and the Model methods (calls to a point)
//   network_passes.cpp   the passes over one block of samples and the loss heads
//   network_point.cpp    NetworkPoint: the block loops, the cached passes and the H operator
//   network_hessian.cpp  dense H, G and R
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "landscope/network.hpp"
#include "landscope/point.hpp"
#include "memory.hpp"
#include "parallel.hpp"

namespace landscope {

/// Scratch of the R-pass (forward tangents and their backward pass), kept apart from the
/// pass state so that a cached pass can serve several threads at once.
struct Network::RScratch {
  std::vector<Matrix> Rz, Rh, Rdh;
  Matrix Rdelta, RF;
};

/// One block of samples through the network. Layer j (0-based) maps h[j] -> z[j];
/// h[j+1] = σ(z[j]) (+ h[j]) for hidden layers. All matrices are (rows x width), column-major.
struct Network::Pass {
  Index rows = 0;
  std::vector<Matrix> h;      // h[0] = inputs, h[1..L] hidden outputs
  std::vector<Matrix> z;      // z[j], z.back() = F
  std::vector<Matrix> d1;     // σ'(z[j]) for hidden layers
  std::vector<Matrix> d2;     // σ''(z[j]) for hidden layers (HVP only)
  int order = 0;              // the derivatives of σ the forward pass formed (0, 1 or 2)
  Matrix Y;                   // targets of the block (square loss)
  std::vector<std::int64_t> labels;  // labels of the block (cross-entropy)
  Matrix p;                   // softmax(F) (cross-entropy)
  Matrix g;                   // dℓ/dF, reduction included: the top of the backward pass
  std::vector<Matrix> delta;  // δ_j = ∂ℓ/∂z[j]
  std::vector<Matrix> dh;     // dh[j] = ∂ℓ/∂h[j], j >= 1
  std::vector<Matrix> curv;   // curv[j] = dh[j+1] ⊙ σ''(z[j]): backward() of an order-2 pass
  RScratch r;                 // R-pass scratch for uncached use
  double loss = 0;            // the block's loss (cached passes)
};

namespace detail {

/// The loss ℓ(F, targets) on top of the network, with its targets: the one place the loss kind
/// matters. `norm` is the reduction factor (1 or 1/batch).
class LossHead {
 public:
  virtual ~LossHead() = default;
  /// Copies the targets of samples [begin, end) (or of samples[begin..end)) into the pass.
  virtual void gather(const IndexVector* samples, Index begin, Index end, Network::Pass& pass) const = 0;
  /// The block's loss; writes dℓ/dF into pass.g (and what curvature() needs).
  virtual double value_and_gradient(Network::Pass& pass, double norm) const = 0;
  /// out = D · RF with D = ∂²ℓ/∂F² per sample (times `norm`); RF holds stacked copies ("tiles")
  /// of the block's rows (tile t = rows [t·n, (t+1)·n)).
  virtual void curvature(const Network::Pass& pass, const Matrix& RF, double norm, Matrix& out) const = 0;
  /// Jt ← D^{1/2} Jt sample by sample (rows i·k .. i·k + k − 1), F the outputs: G = Jtᵀ Jt.
  virtual void weight_jacobian(const MatrixR& F, double norm, MatrixR& Jt) const = 0;
};

/// The head of `kind` for n samples with k outputs; checks the targets (naming y, num_classes).
std::unique_ptr<LossHead> make_loss_head(LossKind kind, MatrixR Y, IndexVector labels, Index n, Index k);

/// R (tiles·n x m) ⊙= S (n x m), tile by tile.
void tile_mul(Matrix& R, const Matrix& S);

/// Calls f(block, begin, end) for `blocks` sample blocks of a batch of n rows, in parallel.
template <typename F>
void for_blocks(Index n, Index blocks, F&& f) {
  parallel_for(blocks, num_threads(), [&](Index b) { f(b, block_begin(n, blocks, b), block_begin(n, blocks, b + 1)); });
}

/// Spare block sums kept between calls, so that the next call of the same size does not map
/// and page-fault fresh memory (M2: 9 MB a part; its gradient took 47-50 ms, now 46.7, and a
/// cached product 77-79, now 73.5). At most two buffers of at most 32 MB are kept per type.
template <class M>
class PartCache {
 public:
  static PartCache& get() {
    static PartCache* c = new PartCache;  // never destroyed: parts may be returned at exit
    return *c;
  }
  M take(Index rows, Index cols) {
    {
      std::lock_guard<std::mutex> g(m_lock);
      for (std::size_t i = 0; i < m_free.size(); ++i)
        if (m_free[i].rows() == rows && m_free[i].cols() == cols) {
          M m = std::move(m_free[i]);
          m_free.erase(m_free.begin() + static_cast<std::ptrdiff_t>(i));
          return m;
        }
    }
    return large_matrix<M>(rows, cols);
  }
  void give(M m) {
    if (8.0 * static_cast<double>(m.size()) > 32.0 * (1 << 20)) return;
    std::lock_guard<std::mutex> g(m_lock);
    m_free.insert(m_free.begin(), std::move(m));
    if (m_free.size() > 2) m_free.pop_back();
  }

 private:
  std::mutex m_lock;
  std::vector<M> m_free;
};

/// Σ over the sample blocks of the rows x cols matrix f(block, begin, end, part) writes (every
/// entry), added in block order whatever the thread count. No thread waits for another: a
/// finished part is left in its slot, and whoever completes the next block in order adds the
/// ready run of parts. Threads take blocks as they come free (a thread the OS parks on a busy
/// machine holds up only its own block), and parts are reused once added.
template <class M, typename F>
M ordered_block_sum(Index n, Index blocks, Index rows, Index cols, F&& f) {
  M total;
  std::mutex lock;
  std::vector<M> ready(static_cast<std::size_t>(blocks)), spare;
  std::vector<char> done(static_cast<std::size_t>(blocks), 0);
  std::size_t next = 0;  // the first block not yet added
  for_blocks(n, blocks, [&](Index b, Index lo, Index hi) {
    M part;
    {
      std::lock_guard<std::mutex> g(lock);
      if (!spare.empty()) {
        part = std::move(spare.back());
        spare.pop_back();
      }
    }
    if (part.size() == 0) part = PartCache<M>::get().take(rows, cols);
    f(b, lo, hi, part);
    std::lock_guard<std::mutex> g(lock);
    ready[static_cast<std::size_t>(b)] = std::move(part);
    done[static_cast<std::size_t>(b)] = 1;
    for (; next < done.size() && done[next]; ++next) {
      if (next == 0) {
        total = std::move(ready[0]);
      } else {
        total += ready[next];
        spare.push_back(std::move(ready[next]));
      }
    }
  });
  for (M& m : spare) PartCache<M>::get().give(std::move(m));
  return total;
}

}  // namespace detail

/// Network::at(w): the block loops of every derivative, over a per-thread pass or, once
/// prepare_curvature() ran, over passes cached for the point's lifetime.
class NetworkPoint : public Point {
 public:
  NetworkPoint(const Network& net, const VectorRef& w, const IndexVector* samples);

  Matrix hvp(const MatrixRef& V) const override;
  Matrix gauss_newton_vp(const MatrixRef& V) const override;
  Matrix jvp(const MatrixRef& V) const override;
  Matrix vjp(const MatrixRef& U) const override;

  MatrixR outputs() const override { return outputs_or_residuals(false); }
  MatrixR residuals() const override { return outputs_or_residuals(true); }
  MatrixR jacobian() const override;
  MatrixR tangent_kernel() const override;
  MatrixR hessian() const override;
  std::pair<MatrixR, MatrixR> hessian_parts() const override;
  /// Prepares the curvature once; each product then runs only the R-pass.
  std::unique_ptr<LinearOperator> hessian_operator() override;

 protected:
  void do_prepare_curvature() override;
  double compute_loss() override;
  double compute_loss_and_gradient(Vector& grad) override;

 private:
  MatrixR outputs_or_residuals(bool residuals) const;
  void apply_hessian(const MatrixRef& X, Matrix& Y) const;

  const Network& m_net;
  Index m_n;        // rows of the batch
  double m_norm;    // the reduction factor
  std::vector<Network::Pass> m_cache;  // per block, after prepare_curvature()
  std::atomic<bool> m_cached{false};   // m_cache is complete (readable without the lock)
};

}  // namespace landscope
