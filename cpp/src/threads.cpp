#include "landscope/threads.hpp"

#include <atomic>
#include <stdexcept>
#include <string>

#if LANDSCOPE_OPENMP
#include <omp.h>
#endif

namespace landscope {
namespace {
std::atomic<int> g_threads{0};  // 0: follow the OpenMP default
}

int num_threads() {
  const int n = g_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
#if LANDSCOPE_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  if (n < 0) throw std::invalid_argument("n: expected a thread count >= 0, got " + std::to_string(n));
  g_threads.store(n, std::memory_order_relaxed);
}

bool has_openmp() { return LANDSCOPE_OPENMP != 0; }

int max_threads() {
#if LANDSCOPE_OPENMP
  return omp_get_num_procs();
#else
  return 1;
#endif
}

}  // namespace landscope
