// Operators and spectral solvers. Python callables become operators whose products take the
// GIL only for the call itself; every solver releases the GIL.
#include <pybind11/eigen.h>
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "landscope/spectra.hpp"

namespace py = pybind11;
using namespace landscope;

namespace {

using Release = py::call_guard<py::gil_scoped_release>;

/// A Python function as an operator: fn(X) with X of shape (n, b), or fn(x) with x of shape
/// (n,) one column at a time when `blocks` is false.
class PyOperator : public LinearOperator {
 public:
  PyOperator(py::function fn, Index n, bool blocks) : m_fn(std::move(fn)), m_n(n), m_blocks(blocks) {
    if (n < 1) throw std::invalid_argument("n: expected an operator size >= 1, got " + std::to_string(n));
  }
  ~PyOperator() override {
    py::gil_scoped_acquire gil;
    m_fn = py::function();
  }
  Index size() const override { return m_n; }
  void apply(const MatrixRef& X, Matrix& Y) const override {
    py::gil_scoped_acquire gil;
    const Index b = X.cols();
    Y.resize(m_n, b);
    if (m_blocks) {
      store(m_fn(py::array(py::cast(Matrix(X)))), Y, 0, b);
    } else {
      for (Index c = 0; c < b; ++c) store(m_fn(py::cast(Vector(X.col(c)))), Y, c, 1);
    }
  }

 private:
  void store(const py::object& result, Matrix& Y, Index c0, Index cols) const {
    auto a = py::array_t<double, py::array::f_style | py::array::forcecast>::ensure(result);
    if (!a) throw std::invalid_argument("op: the callable returned " + std::string(py::str(py::type::of(result))) +
                                        ", expected an array of floats");
    const bool vec = a.ndim() == 1 && cols == 1 && a.shape(0) == m_n;
    const bool mat = a.ndim() == 2 && a.shape(0) == m_n && a.shape(1) == cols;
    if (!vec && !mat) {
      std::string got = "(";
      for (py::ssize_t i = 0; i < a.ndim(); ++i) got += (i ? ", " : "") + std::to_string(a.shape(i));
      got += a.ndim() == 1 ? ",)" : ")";
      throw std::invalid_argument("op: the callable returned shape " + got + ", expected (" +
                                  std::to_string(m_n) + (cols == 1 && !m_blocks ? ",)" : ", " + std::to_string(cols) + ")"));
    }
    Y.middleCols(c0, cols) = Eigen::Map<const Matrix>(a.data(), m_n, cols);
  }

  py::function m_fn;
  Index m_n;
  bool m_blocks;
};

/// A Python progress function f(done, total) as the engine's per-block callback (empty if none);
/// it takes the GIL for the call only.
ProbeProgress probe_progress(const std::optional<py::function>& fn) {
  if (!fn) return {};
  return [&fn](Index done, Index total) {
    py::gil_scoped_acquire gil;
    (*fn)(done, total);
  };
}

std::string which_name(Which w) {
  switch (w) {
    case Which::Largest: return "LA";
    case Which::Smallest: return "SA";
    case Which::BothEnds: return "BE";
    case Which::LargestMagnitude: return "LM";
  }
  return "";
}

}  // namespace

void bind_spectra(py::module_& m) {
  py::class_<LinearOperator>(m, "LinearOperator", py::module_local())
      .def_property_readonly("size", &LinearOperator::size)
      .def("matmat",
           [](const LinearOperator& self, const MatrixRef& X) {
             if (X.rows() != self.size())
               throw std::invalid_argument("X: expected " + std::to_string(self.size()) + " rows, got " +
                                           std::to_string(X.rows()));
             Matrix Y;
             self.apply(X, Y);
             return Y;
           },
           py::arg("X"), Release());

  m.def("dense_operator",
        [](py::array_t<double, py::array::c_style> A) -> std::unique_ptr<LinearOperator> {
          if (A.ndim() != 2 || A.shape(0) != A.shape(1)) throw std::invalid_argument("A: expected a square matrix");
          return std::make_unique<DenseOperator>(A.data(), A.shape(0));
        },
        py::arg("A"), py::keep_alive<0, 1>());
  m.def("check_symmetry",
        [](py::array_t<double, py::array::c_style> A) {
          if (A.ndim() != 2 || A.shape(0) != A.shape(1)) throw std::invalid_argument("A: expected a square matrix");
          SymmetryCheck c;
          {
            py::gil_scoped_release release;
            c = check_symmetry(A.data(), A.shape(0));
          }
          return py::make_tuple(c.asymmetry, c.max_abs, c.finite);
        },
        py::arg("A"));
  m.def("callable_operator",
        [](py::function fn, Index n, bool blocks) -> std::unique_ptr<LinearOperator> {
          return std::make_unique<PyOperator>(std::move(fn), n, blocks);
        },
        py::arg("fn"), py::arg("n"), py::arg("blocks"));

  py::class_<LanczosOptions>(m, "LanczosOptions", py::module_local())
      .def(py::init<>())
      .def_readwrite("k", &LanczosOptions::k)
      .def_property("which", [](const LanczosOptions& o) { return which_name(o.which); },
                    [](LanczosOptions& o, const std::string& w) { o.which = which_from_string(w); })
      .def_readwrite("tol", &LanczosOptions::tol)
      .def_readwrite("maxiter", &LanczosOptions::maxiter)
      .def_readwrite("ncv", &LanczosOptions::ncv)
      .def_readwrite("block_size", &LanczosOptions::block_size)
      .def_readwrite("seed", &LanczosOptions::seed)
      .def_readwrite("v0", &LanczosOptions::v0)
      .def_readwrite("early_exit", &LanczosOptions::early_exit)
      .def_readwrite("max_products", &LanczosOptions::max_products)
      .def("default_ncv", &LanczosOptions::default_ncv, py::arg("n"))
      .def("check", &LanczosOptions::check, py::arg("n"));
  py::class_<LanczosResult>(m, "LanczosResult", py::module_local())
      .def_readonly("eigenvalues", &LanczosResult::eigenvalues)
      .def_readonly("eigenvectors", &LanczosResult::eigenvectors)
      .def_readonly("residuals", &LanczosResult::residuals)
      .def_readonly("products", &LanczosResult::products)
      .def_readonly("restarts", &LanczosResult::restarts)
      .def_readonly("num_converged", &LanczosResult::num_converged)
      .def_property_readonly("status", [](const LanczosResult& r) { return to_string(r.status); })
      .def_readonly("anorm", &LanczosResult::anorm);

  m.def("lanczos",
        [](const LinearOperator& op, LanczosOptions o, std::optional<py::function> callback) {
          if (callback) {
            o.callback = [&callback](const LanczosProgress& p) {
              py::gil_scoped_acquire gil;
              if (PyErr_CheckSignals() != 0) throw py::error_already_set();
              py::dict d;
              d["restarts"] = p.restarts;
              d["products"] = p.products;
              d["converged"] = p.converged;
              d["wanted"] = p.wanted;
              d["max_residual"] = p.max_residual;
              py::object keep = (*callback)(d);
              return keep.is_none() || keep.cast<bool>();
            };
          }
          py::gil_scoped_release release;
          return lanczos(op, o);
        },
        py::arg("op"), py::arg("options"), py::arg("callback") = py::none());

  m.def("lanczos_quadrature",
        [](const LinearOperator& op, Index num_probes, Index steps, std::uint64_t seed, Index block,
           std::optional<py::function> progress) {
          const ProbeProgress report = probe_progress(progress);
          QuadratureResult q;
          {
            py::gil_scoped_release release;
            q = lanczos_quadrature(op, num_probes, steps, seed, block, report);
          }
          return py::make_tuple(q.nodes, q.weights, q.products);
        },
        py::arg("op"), py::arg("num_probes"), py::arg("steps"), py::arg("seed"), py::arg("block"),
        py::arg("progress") = py::none());

  m.def("trace",
        [](const LinearOperator& op, Index num_probes, const std::string& method, std::uint64_t seed, Index block,
           std::optional<py::function> progress) {
          const ProbeProgress report = probe_progress(progress);
          TraceResult t;
          {
            py::gil_scoped_release release;
            if (method == "hutchinson") t = trace_hutchinson(op, num_probes, seed, block, report);
            else if (method == "hutch++") t = trace_hutchpp(op, num_probes, seed, block, report);
            else throw std::invalid_argument("method: expected 'hutchinson' or 'hutch++', got '" + method + "'");
          }
          py::dict d;
          d["estimate"] = t.estimate;
          d["standard_error"] = t.standard_error;
          d["samples"] = t.samples;
          d["exact_part"] = t.exact_part;
          d["products"] = t.products;
          return d;
        },
        py::arg("op"), py::arg("num_probes"), py::arg("method"), py::arg("seed"), py::arg("block"),
        py::arg("progress") = py::none());
}
