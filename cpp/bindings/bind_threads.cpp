// Threads and interrupts: the runtime controls of the engine.
#include <pybind11/pybind11.h>

#include <memory>

#include "landscope/interrupt.hpp"
#include "landscope/threads.hpp"

namespace py = pybind11;

namespace {

/// An exception other than KeyboardInterrupt raised by a Python signal handler while C++ ran;
/// restored when the landscope::Interrupted it caused reaches Python. Thread-local, because
/// each thread that calls into landscope has its own pending exception.
thread_local std::unique_ptr<py::error_already_set> t_pending;

/// Python's main thread, the only one that runs signal handlers.
unsigned long g_main_thread = 0;

/// The engine's interrupt handler: runs Python's signal handlers (Ctrl-C raises
/// KeyboardInterrupt in them). On other threads it returns false without taking the GIL.
bool python_interrupt_requested() {
  if (PyThread_get_thread_ident() != g_main_thread || !Py_IsInitialized()) return false;
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() == 0) return false;
  if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
    PyErr_Clear();
  } else {
    t_pending = std::make_unique<py::error_already_set>();
  }
  return true;
}

}  // namespace

/// For callers that handle landscope::Interrupted themselves (the training loop): raises the
/// exception a signal handler raised meanwhile if it was not a KeyboardInterrupt. Needs the GIL.
void raise_pending_interrupt() {
  if (!t_pending) return;
  std::unique_ptr<py::error_already_set> e = std::move(t_pending);
  throw std::move(*e);
}

void bind_threads(py::module_& m) {
  m.def("num_threads", &landscope::num_threads);
  m.def("set_num_threads", &landscope::set_num_threads, py::arg("n"));
  m.def("has_openmp", &landscope::has_openmp);
  m.def("max_threads", &landscope::max_threads);
  m.def("forked_single_threaded", &landscope::forked_single_threaded);
  m.def("cpu_supports_x86_64_v3", [] {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c");
#else
    return false;
#endif
  });

  g_main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  landscope::set_interrupt_handler(&python_interrupt_requested);
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const landscope::Interrupted&) {
      if (t_pending) {
        std::unique_ptr<py::error_already_set> e = std::move(t_pending);
        e->restore();
      } else {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
      }
    } catch (...) {
      t_pending.reset();  // another exception won: the stashed one is stale
      throw;
    }
  });
}
