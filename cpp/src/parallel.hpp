#pragma once
// Internal helpers: deterministic parallel loops and sample partitioning.
#include <algorithm>
#include <exception>
#include <mutex>

#include "landscope/threads.hpp"
#include "landscope/types.hpp"

namespace landscope::detail {

/// Calls f(i) for i in [0, count) on up to `threads` threads. Each index runs on exactly one
/// thread, so results that only depend on the index are identical for any scheduling.
/// The first exception thrown by f is rethrown after the loop.
template <typename F>
void parallel_for(Index count, int threads, F&& f, bool dynamic = false) {
  if (count <= 0) return;
  threads = static_cast<int>(std::max<Index>(1, std::min<Index>(threads, count)));
  if (threads == 1) {
    for (Index i = 0; i < count; ++i) f(i);
    return;
  }
  std::exception_ptr error;
  std::mutex lock;
  (void)dynamic;
#if LANDSCOPE_OPENMP
  if (dynamic) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (Index i = 0; i < count; ++i) {
      try { f(i); } catch (...) { std::lock_guard<std::mutex> g(lock); if (!error) error = std::current_exception(); }
    }
  } else {
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (Index i = 0; i < count; ++i) {
      try { f(i); } catch (...) { std::lock_guard<std::mutex> g(lock); if (!error) error = std::current_exception(); }
    }
  }
#else
  for (Index i = 0; i < count; ++i) f(i);
#endif
  if (error) std::rethrow_exception(error);
}

/// Number of sample blocks: one per thread, none smaller than `min_rows` rows.
inline Index num_blocks(Index n, Index min_rows = 32) {
  return std::max<Index>(1, std::min<Index>(num_threads(), n / min_rows));
}
inline Index block_begin(Index n, Index blocks, Index b) { return n * b / blocks; }

}  // namespace landscope::detail
