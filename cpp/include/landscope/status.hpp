#pragma once
// How a solve or a run ended: one status for the eigensolvers and the training loop.
#include <string>

namespace landscope {

enum class Status {
  Running,       // a run that has not stopped yet
  Converged,     // eigensolver: every wanted pair met the tolerance; training: L − L* <= tol
  NotConverged,  // eigensolver: the restart or product budget ran out first
  Diverged,      // training: the loss blew up or became NaN/Inf
  Budget,        // training: the step budget was reached
  Interrupted,   // Ctrl-C, or a callback asked to stop
};

inline std::string to_string(Status s) {
  switch (s) {
    case Status::Running: return "running";
    case Status::Converged: return "converged";
    case Status::NotConverged: return "not_converged";
    case Status::Diverged: return "diverged";
    case Status::Budget: return "budget";
    case Status::Interrupted: return "interrupted";
  }
  return "unknown";
}

}  // namespace landscope
