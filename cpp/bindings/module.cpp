// landscope._core: the one extension module. Each area binds itself in bind_<area>.cpp.
#include <pybind11/pybind11.h>

#include "landscope/landscope.hpp"

namespace py = pybind11;

void bind_threads(py::module_& m);
void bind_models(py::module_& m);
void bind_spectra(py::module_& m);
void bind_train(py::module_& m);

#ifndef LANDSCOPE_MODULE_NAME
#define LANDSCOPE_MODULE_NAME _core
#endif

PYBIND11_MODULE(LANDSCOPE_MODULE_NAME, m) {
  m.doc() = "landscope C++ engine (float64, Eigen, OpenMP)";
  m.attr("__version__") = LANDSCOPE_VERSION;
  m.attr("eigen_version") = std::to_string(EIGEN_WORLD_VERSION) + "." +
                            std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION);
  std::string simd = Eigen::SimdInstructionSetsInUse();
#if defined(__AVX2__)
  simd = "AVX2, " + simd;
#endif
#if defined(__FMA__)
  simd = "FMA, " + simd;
#endif
  m.attr("simd") = simd;
  bind_threads(m);
  // Each class is registered before the functions that take or return it, so that their
  // signatures (docstrings, and the stubs generated from them) name the Python class:
  // LinearOperator (bind_spectra) before Model.hessian_operator (bind_models).
  bind_spectra(m);
  bind_models(m);
  bind_train(m);
}
