#include "landscope/threads.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "landscope/interrupt.hpp"
#include "parallel.hpp"

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
// Thread pools do not survive fork(): the child has only the forking thread. A child forked
// after parallel work therefore runs everything on one thread.
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
thread_local bool t_pool_thread = false;  // a pool thread: it never calls into the application
thread_local bool t_holds_pool = false;   // this thread runs a loop on the pool (nested loops: serial)
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
namespace {

/// One parallel loop: indices are claimed with `next` and counted in `done` once run.
struct Job {
  Index count = 0;
  void (*fn)(void*, Index) = nullptr;
  void* ctx = nullptr;
  int helpers = 0;              // pool threads allowed to join
  std::atomic<int> joined{0};
  std::atomic<Index> next{0};
  std::atomic<Index> done{0};
};

/// The pool behind run_parallel: threads started on first use (never more than the largest
/// thread count asked for, minus the caller), parked on a condition variable between loops
/// after a short spin. One loop at a time holds it.
class Pool {
 public:
  bool run(Index count, int threads, void (*fn)(void*, Index), void* ctx) {
    std::unique_lock<std::mutex> hold(m_run, std::try_to_lock);
    if (!hold.owns_lock()) return false;  // another loop (another caller thread) has the pool
    t_holds_pool = true;
    struct Release {
      ~Release() { t_holds_pool = false; }
    } release;
    auto job = std::make_shared<Job>();
    job->count = count;
    job->fn = fn;
    job->ctx = ctx;
    job->helpers = threads - 1;
    {
      std::lock_guard<std::mutex> g(m_lock);
      for (; m_started < threads - 1; ++m_started) std::thread(&Pool::worker, this).detach();
      m_job = job;
      m_generation.fetch_add(1, std::memory_order_release);
    }
    g_pool_used.store(true, std::memory_order_relaxed);
    m_wake.notify_all();
    work(*job);  // the caller takes indices like any pool thread
    // Only indices a pool thread claimed (and is running) can remain; an unstarted thread
    // holds nothing, so the caller never waits for the scheduler to wake one.
    if (job->done.load(std::memory_order_acquire) != count) {
      std::unique_lock<std::mutex> lk(m_lock);
      m_finished.wait(lk, [&] { return job->done.load(std::memory_order_acquire) == count; });
    }
    std::lock_guard<std::mutex> g(m_lock);
    m_job.reset();
    return true;
  }

 private:
  void work(Job& job) {
    for (;;) {
      const Index i = job.next.fetch_add(1, std::memory_order_relaxed);
      if (i >= job.count) return;
      job.fn(job.ctx, i);
      if (job.done.fetch_add(1, std::memory_order_acq_rel) + 1 == job.count) {
        std::lock_guard<std::mutex> g(m_lock);
        m_finished.notify_all();
      }
    }
  }

  void worker() {
    t_pool_thread = true;
    std::uint64_t seen = m_generation.load(std::memory_order_acquire);
    for (;;) {
      // Loops often come in quick succession (a block loop per product, with the Python call
      // between them): spin for a millisecond before parking, yielding the core to anyone who
      // needs it. After 50 µs a worker had often parked, and a waking one came too late for a
      // 0.2 ms call (the caller then ran every block alone).
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(1000);
      while (m_generation.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(m_lock);
        m_wake.wait(lk, [&] { return m_generation.load(std::memory_order_acquire) != seen; });
        seen = m_generation.load(std::memory_order_acquire);
        job = m_job;
      }
      if (job && job->joined.fetch_add(1, std::memory_order_relaxed) < job->helpers) work(*job);
    }
  }

  std::mutex m_run;   // held by the loop that uses the pool
  std::mutex m_lock;  // guards m_job, m_started and the waits
  std::condition_variable m_wake, m_finished;
  std::shared_ptr<Job> m_job;
  std::atomic<std::uint64_t> m_generation{0};
  int m_started = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: its detached threads may outlive static destructors
  return *p;
}

}  // namespace

void run_parallel(Index count, int threads, void (*fn)(void*, Index), void* ctx) {
  if (threads <= 1 || count <= 1 || t_pool_thread || t_holds_pool || !pool().run(count, threads, fn, ctx))
    for (Index i = 0; i < count; ++i) fn(ctx, i);
}

}  // namespace detail

void set_interrupt_handler(InterruptHandler h) { handler() = std::move(h); }

void check_interrupt() {
  if (t_no_interrupt > 0) return;
  if (t_pool_thread) return;  // pool threads never call into the application
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
