#pragma once
// Thread control. Parallel loops run on the calling thread plus a pool of std::threads (one
// loop holds the pool at a time; a loop started meanwhile, from another thread, runs serially).
// The caller never waits for a pool thread that has not started yet, so a busy machine costs a
// loop its parallelism, not a scheduler time slice. Results never depend on the thread count.
// OpenMP, when compiled in, supplies the default count (OMP_NUM_THREADS, threadpoolctl).

namespace landscope {

/// Threads used by parallel regions: the value of set_num_threads() if it was called with
/// n > 0, else the OpenMP default (OMP_NUM_THREADS, or what threadpoolctl set), else 1.
/// Always 1 in a process forked after parallel work (see forked_single_threaded()).
int num_threads();
/// n > 0 fixes the count; n == 0 returns to the OpenMP default. Throws on n < 0.
void set_num_threads(int n);
/// Whether the library was compiled with OpenMP.
bool has_openmp();
/// Number of processors the OpenMP runtime sees (1 without OpenMP).
int max_threads();
/// True in a child process forked after the parent ran parallel work: the thread pool does
/// not survive fork(), so such a child computes on one thread whatever set_num_threads says.
bool forked_single_threaded();

}  // namespace landscope
