#include <pybind11/pybind11.h>

#include "landscope/threads.hpp"

namespace py = pybind11;

void bind_threads(py::module_& m) {
  m.def("num_threads", &landscope::num_threads);
  m.def("set_num_threads", &landscope::set_num_threads, py::arg("n"));
  m.def("has_openmp", &landscope::has_openmp);
  m.def("max_threads", &landscope::max_threads);
  m.def("cpu_supports_x86_64_v3", [] {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c");
#else
    return false;
#endif
  });
}
