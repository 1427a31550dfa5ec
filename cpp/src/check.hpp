#pragma once
// Argument checks shared by the training sources.
#include <cstdio>
#include <stdexcept>
#include <string>

namespace landscope::detail {

inline void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

/// A number for an error message, to full precision.
inline std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace landscope::detail
