#pragma once
// Cooperative interruption. Long computations (dense Hessian, Jacobian and kernel assembly,
// Lanczos, stochastic quadrature and trace, training rows) ask check_interrupt() between pieces
// of work; it calls the handler an embedding application installed (the Python module installs
// one that reacts to Ctrl-C) and throws Interrupted when the handler says stop.
#include <functional>
#include <stdexcept>

namespace landscope {

/// Thrown by check_interrupt() when the handler asks to stop. What the interrupted call would
/// have returned is lost; the objects it was given are left valid.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

/// Returns true when the running computation should stop. Called from the thread that started
/// the computation (never from the engine's pool threads), at most about every 20 ms per
/// thread; computations running side by side in several threads call it concurrently.
using InterruptHandler = std::function<bool()>;

/// Installs the handler (an empty function removes it). Not thread-safe against running
/// computations: install it once, before starting work.
void set_interrupt_handler(InterruptHandler handler);

/// Throws Interrupted if the handler, asked at most every 20 ms, says stop. Cheap enough to call
/// between blocks of work (a clock read); a no-op on the engine's pool threads, and inside a
/// NoInterrupt scope.
void check_interrupt();

/// Within its lifetime, check_interrupt() on this thread does nothing: for stretches of work
/// that must complete (an optimizer step that updates its state in place).
class NoInterrupt {
 public:
  NoInterrupt();
  ~NoInterrupt();
  NoInterrupt(const NoInterrupt&) = delete;
  NoInterrupt& operator=(const NoInterrupt&) = delete;
};

}  // namespace landscope
