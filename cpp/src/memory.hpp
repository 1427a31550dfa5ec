#pragma once
// Large result buffers: ask Linux for transparent huge pages before the first touch. A fresh
// 100 MB Hessian otherwise costs tens of thousands of page faults, more than its arithmetic.
#include <cstddef>
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "landscope/types.hpp"

namespace landscope::detail {

inline void advise_huge_pages(void* data, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHuge = std::uintptr_t(2) << 20;
  if (bytes < 2 * kHuge) return;
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t lo = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t hi = (begin + bytes) & ~(kHuge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // a hint only
#else
  (void)data;
  (void)bytes;
#endif
}

/// An uninitialized rows x cols matrix whose memory is backed by huge pages where possible.
template <typename M>
M large_matrix(Index rows, Index cols) {
  M m(rows, cols);
  advise_huge_pages(m.data(), sizeof(typename M::Scalar) * static_cast<std::size_t>(m.size()));
  return m;
}

}  // namespace landscope::detail
