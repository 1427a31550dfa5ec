#pragma once
// Thread control. OpenMP when compiled in; every parallel region uses num_threads().

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
/// True in a child process forked after the parent ran parallel work: the OpenMP thread pool
/// does not survive fork(), so such a child computes on one thread whatever set_num_threads says.
bool forked_single_threaded();

}  // namespace landscope
