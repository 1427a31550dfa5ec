#include "landscope/threads.hpp"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

#include "landscope/interrupt.hpp"

#if LANDSCOPE_OPENMP
#include <omp.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define LANDSCOPE_HAS_ATFORK 1
#else
#define LANDSCOPE_HAS_ATFORK 0
#endif

namespace landscope {
namespace {
std::atomic<int> g_threads{0};        // 0: follow the OpenMP default
std::atomic<bool> g_pool_used{false};  // a parallel region has run in this process
std::atomic<bool> g_forked{false};     // this process was forked after the pool started

#if LANDSCOPE_HAS_ATFORK
// GNU libgomp's thread pool does not survive fork(): a child that enters a parallel region
// with more than one thread waits forever for the parent's workers. A child forked after
// parallel work therefore runs everything on one thread.
void after_fork_in_child() {
  if (g_pool_used.load(std::memory_order_relaxed)) g_forked.store(true, std::memory_order_relaxed);
}
[[maybe_unused]] const bool g_atfork_registered = [] {
  pthread_atfork(nullptr, nullptr, &after_fork_in_child);
  return true;
}();
#endif

InterruptHandler& handler() {
  static InterruptHandler h;
  return h;
}
thread_local int t_no_interrupt = 0;
thread_local std::chrono::steady_clock::time_point t_last_check{};
}  // namespace

int num_threads() {
  if (g_forked.load(std::memory_order_relaxed)) return 1;
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

bool forked_single_threaded() { return g_forked.load(std::memory_order_relaxed); }

namespace detail {
void note_parallel_region() {
  if (!g_pool_used.load(std::memory_order_relaxed)) g_pool_used.store(true, std::memory_order_relaxed);
}
}  // namespace detail

void set_interrupt_handler(InterruptHandler h) { handler() = std::move(h); }

void check_interrupt() {
  if (t_no_interrupt > 0) return;
#if LANDSCOPE_OPENMP
  if (omp_get_thread_num() != 0) return;  // workers never call into the application
#endif
  const InterruptHandler& h = handler();
  if (!h) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - t_last_check < std::chrono::milliseconds(20)) return;
  t_last_check = now;
  if (h()) throw Interrupted();
}

NoInterrupt::NoInterrupt() { ++t_no_interrupt; }
NoInterrupt::~NoInterrupt() { --t_no_interrupt; }

}  // namespace landscope
