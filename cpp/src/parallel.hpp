#pragma once
// Internal helpers: deterministic parallel loops and sample partitioning.
#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include "landscope/interrupt.hpp"
#include "landscope/threads.hpp"
#include "landscope/types.hpp"

namespace landscope::detail {

/// Threads for a region of about `work` flops: below 2^20 (a few hundred µs on one core) one
/// thread. Waking the pool costs microseconds on an idle machine but a scheduler time slice
/// (milliseconds) when other processes keep the cores busy. No result depends on it.
inline int threads_for(double work) { return work < 1048576.0 ? 1 : num_threads(); }

/// Thrown by checkpoint() on the threads of a loop that another index already abandoned.
struct LoopAbandoned {};
/// The failure flag of the innermost parallel_for running on this thread.
inline thread_local std::atomic<bool>* t_loop_failed = nullptr;

/// For long stretches inside a parallel_for body (a loop over columns, say): checks for an
/// interrupt, and stops this thread's work once another index of the loop has failed.
inline void checkpoint() {
  check_interrupt();
  if (t_loop_failed && t_loop_failed->load(std::memory_order_relaxed)) throw LoopAbandoned{};
}

/// Runs fn(ctx, i) for every i in [0, count) on the calling thread and up to threads − 1 pool
/// threads (threads.cpp). Indices are handed out in increasing order to whichever thread is
/// free; the caller returns once every index has run. The caller never waits for a pool thread
/// that has not started: on a busy machine, where a parked thread wakes only at the scheduler's
/// next time slice, the caller simply runs the indices itself. fn must not throw. Called from
/// a pool thread, or while another loop holds the pool, it runs serially on the caller.
void run_parallel(Index count, int threads, void (*fn)(void*, Index), void* ctx);

/// Calls f(i) for i in [0, count) on up to `threads` threads. Each index runs on exactly one
/// thread, so results that only depend on the index are identical for any scheduling.
/// Before each index the calling thread checks for an interrupt (check_interrupt). The first
/// exception thrown (by f or the check) is rethrown after the loop; the indices not yet
/// started are then skipped.
template <typename F>
void parallel_for(Index count, int threads, F&& f) {
  if (count <= 0) return;
  threads = static_cast<int>(std::max<Index>(1, std::min<Index>(threads, count)));
  if (threads == 1) {
    for (Index i = 0; i < count; ++i) {
      check_interrupt();
      f(i);
    }
    return;
  }
  std::exception_ptr error;
  std::mutex lock;
  std::atomic<bool> failed{false};
  auto body = [&](Index i) {
    if (failed.load(std::memory_order_relaxed)) return;
    std::atomic<bool>* outer = t_loop_failed;
    t_loop_failed = &failed;
    try {
      check_interrupt();  // only the calling thread asks
      f(i);
    } catch (const LoopAbandoned&) {
      // another index failed first; its exception is the one rethrown
    } catch (...) {
      std::lock_guard<std::mutex> g(lock);
      if (!error) error = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
    t_loop_failed = outer;
  };
  run_parallel(count, threads, [](void* ctx, Index i) { (*static_cast<decltype(body)*>(ctx))(i); }, &body);
  if (error) std::rethrow_exception(error);
}

/// Calls f(r0, c0, rows, cols) for the tiles on and above the diagonal of an N x N matrix cut
/// into tiles of `tile` rows and columns, in parallel (one tile per thread at a time): the
/// symmetric products (K, G) fill a tile and its mirror. `inner` is the length of the dot
/// product behind each entry (for the work threshold).
template <typename F>
void for_upper_tiles(Index N, Index tile, Index inner, F&& f) {
  const Index nt = (N + tile - 1) / tile;
  std::vector<std::pair<Index, Index>> tiles;
  for (Index I = 0; I < nt; ++I)
    for (Index J = I; J < nt; ++J) tiles.emplace_back(I * tile, J * tile);
  const double work = static_cast<double>(N) * static_cast<double>(N) * static_cast<double>(inner);
  parallel_for(static_cast<Index>(tiles.size()), threads_for(work), [&](Index t) {
    const auto [r0, c0] = tiles[static_cast<std::size_t>(t)];
    f(r0, c0, std::min(tile, N - r0), std::min(tile, N - c0));
  });
}

/// At most this many sample blocks: the partition (and every sum over it) depends only on the
/// problem's size, never on the thread count.
constexpr Index kMaxBlocks = 16;

/// Number of sample blocks of a batch of n rows: a power of two (it spreads evenly over 2, 4,
/// 8 or 16 threads), at most kMaxBlocks, none smaller than `min_rows` rows. It does not depend
/// on the thread count, so neither do results summed over the blocks in block order.
inline Index num_blocks(Index n, Index min_rows = 32) {
  Index blocks = 1;
  while (2 * blocks <= kMaxBlocks && n / (2 * blocks) >= min_rows) blocks *= 2;
  return blocks;
}

inline Index block_begin(Index n, Index blocks, Index b) { return n * b / blocks; }

}  // namespace landscope::detail
