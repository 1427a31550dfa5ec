#pragma once
// Argument checks shared by the sources.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "landscope/types.hpp"

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

/// The arguments of Model::losses_in_span: w (P), D (P x k) and C (k x b), all finite.
void check_span(Index P, const VectorRef& w, const MatrixRef& D, const MatrixRef& C);

}  // namespace landscope::detail
