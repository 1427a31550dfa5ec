#pragma once
// A small portable generator (splitmix64 + Box–Muller) so that init(seed) gives the same
// numbers on every platform and compiler.
#include <cmath>
#include <cstdint>

namespace landscope::detail {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : m_state(seed ^ 0x9E3779B97F4A7C15ULL) {}
  std::uint64_t next() {
    std::uint64_t z = (m_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform on (0, 1).
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  double normal() {
    if (m_has_spare) { m_has_spare = false; return m_spare; }
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double t = 6.283185307179586476925 * uniform();
    m_spare = r * std::sin(t);
    m_has_spare = true;
    return r * std::cos(t);
  }

 private:
  std::uint64_t m_state;
  double m_spare = 0.0;
  bool m_has_spare = false;
};

}  // namespace landscope::detail
