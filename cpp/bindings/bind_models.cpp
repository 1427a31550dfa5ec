// Models: the Python layer (landscope/models.py) validates and converts; these wrappers only
// adapt signatures and release the GIL around every computation.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "landscope/activation.hpp"
#include "landscope/diagnostic.hpp"
#include "landscope/network.hpp"
#include "landscope/point.hpp"
#include "landscope/product_toy.hpp"

namespace py = pybind11;
using namespace landscope;

namespace {

using Samples = std::optional<IndexVector>;
const IndexVector* ptr(const Samples& s) { return s ? &*s : nullptr; }
using Release = py::call_guard<py::gil_scoped_release>;

Reduction reduction_from(const std::string& r) {
  if (r == "sum") return Reduction::Sum;
  if (r == "mean") return Reduction::Mean;
  throw std::invalid_argument("reduction: expected 'sum' or 'mean', got '" + r + "'");
}

}  // namespace

void bind_models(py::module_& m) {
  m.def(
      "activate",
      [](const std::string& name, py::array_t<double, py::array::f_style | py::array::forcecast> z) {
        // f_style | forcecast: a contiguous column-major copy unless z already is one
        const Activation a = activation_from_string(name);
        if (z.ndim() != 2) throw std::invalid_argument("z: expected a 2-D array");
        const Index rows = z.shape(0), cols = z.shape(1);
        Matrix y(rows, cols), d1(rows, cols), d2(rows, cols);
        {
          py::gil_scoped_release release;
          activate_all(a, z.data(), rows * cols, y.data(), d1.data(), d2.data());
        }
        return py::make_tuple(std::move(y), std::move(d1), std::move(d2));
      },
      py::arg("name"), py::arg("z"), "σ(z), σ'(z) and σ''(z) of the named activation, elementwise (for tests).");
  py::class_<Point, std::shared_ptr<Point>>(m, "Point", py::module_local())
      .def_property_readonly("w", &Point::w)
      .def("loss", &Point::loss, Release())
      .def("gradient", &Point::gradient, Release())
      .def("grad_norm", &Point::grad_norm, Release())
      .def("prepare_curvature", &Point::prepare_curvature, Release())
      .def("outputs", &Point::outputs, Release())
      .def("residuals", &Point::residuals, Release())
      .def("jacobian", &Point::jacobian, Release())
      .def("tangent_kernel", &Point::tangent_kernel, Release())
      .def("hvp", &Point::hvp, py::arg("V"), Release())
      .def("gauss_newton_vp", &Point::gauss_newton_vp, py::arg("V"), Release())
      .def("jvp", &Point::jvp, py::arg("V"), Release())
      .def("vjp", &Point::vjp, py::arg("U"), Release())
      .def("hessian", &Point::hessian, Release())
      .def("hessian_parts", &Point::hessian_parts, Release())
      .def("hessian_operator", &Point::hessian_operator, py::keep_alive<0, 1>(), Release())
      .def("gauss_newton_operator", &Point::gauss_newton_operator, py::keep_alive<0, 1>(), Release())
      .def("kernel_operator", &Point::kernel_operator, py::keep_alive<0, 1>(), Release());

  // module_local: the portable and the AVX2 builds of the module can be loaded side by side.
  py::class_<Model>(m, "Model", py::module_local())
      .def_property_readonly("num_params", &Model::num_params)
      .def_property_readonly("num_samples", &Model::num_samples)
      .def_property_readonly("output_dim", &Model::output_dim)
      .def_property_readonly("num_outputs", &Model::num_outputs)
      .def("param_blocks", [](const Model& self) {
        py::list out;
        for (const auto& b : self.param_blocks()) out.append(py::make_tuple(b.name, b.offset, b.rows, b.cols));
        return out;
      })
      .def("init", &Model::init, py::arg("seed"), Release())
      .def("at", [](const Model& self, const VectorRef& w, const Samples& s) { return self.at(w, ptr(s)); },
           py::arg("w"), py::arg("samples") = py::none(), py::keep_alive<0, 1>(), Release())
      .def("losses",
           [](const Model& self, const MatrixRef& W, bool grad_norms) -> py::object {
             Vector norms, out;
             {
               py::gil_scoped_release release;
               out = self.losses(W, grad_norms ? &norms : nullptr);
             }
             if (grad_norms) return py::make_tuple(out, norms);
             return py::cast(out);
           },
           py::arg("W"), py::arg("grad_norms"))
      .def("losses_in_span", &Model::losses_in_span, py::arg("w"), py::arg("D"), py::arg("C"), Release())
      .def_property_readonly("diagnostics", &Model::diagnostics)
      .def("loss", [](const Model& self, const VectorRef& w, const Samples& s) { return self.loss(w, ptr(s)); },
           py::arg("w"), py::arg("samples") = py::none(), Release())
      .def("gradient", [](const Model& self, const VectorRef& w, const Samples& s) { return self.gradient(w, ptr(s)); },
           py::arg("w"), py::arg("samples") = py::none(), Release())
      .def("loss_and_gradient",
           [](const Model& self, const VectorRef& w, const Samples& s) {
             Vector g;
             const double f = self.loss_and_gradient(w, g, ptr(s));
             return std::make_pair(f, std::move(g));
           },
           py::arg("w"), py::arg("samples") = py::none(), Release())
      .def("outputs", &Model::outputs, py::arg("w"), Release())
      .def("residuals", &Model::residuals, py::arg("w"), Release())
      .def("jacobian", &Model::jacobian, py::arg("w"), Release())
      .def("tangent_kernel", &Model::tangent_kernel, py::arg("w"), Release())
      .def("hvp", [](const Model& self, const VectorRef& w, const MatrixRef& V, const Samples& s) { return self.hvp(w, V, ptr(s)); },
           py::arg("w"), py::arg("V"), py::arg("samples") = py::none(), Release())
      .def("gauss_newton_vp", &Model::gauss_newton_vp, py::arg("w"), py::arg("V"), Release())
      .def("jvp", &Model::jvp, py::arg("w"), py::arg("V"), Release())
      .def("vjp", &Model::vjp, py::arg("w"), py::arg("U"), Release())
      .def("hessian_operator", &Model::hessian_operator, py::arg("w"), py::keep_alive<0, 1>(), Release())
      .def("gauss_newton_operator", &Model::gauss_newton_operator, py::arg("w"), py::keep_alive<0, 1>(), Release())
      .def("kernel_operator", &Model::kernel_operator, py::arg("w"), py::keep_alive<0, 1>(), Release())
      .def("hessian", &Model::hessian, py::arg("w"), Release())
      .def("hessian_parts", &Model::hessian_parts, py::arg("w"), Release());

  py::class_<Network, Model>(m, "Network", py::module_local())
      .def("sample_blocks", &Network::blocks, py::arg("n"),
           "The number of sample blocks a batch of n rows is cut into (it depends on the sizes only).");
  py::class_<ProductToy, Model>(m, "ProductToy", py::module_local()).def(py::init<Index>(), py::arg("d"));

  m.def("least_squares",
        [](MatrixR X, MatrixR Y, const std::string& reduction) {
          return make_least_squares(std::move(X), std::move(Y), reduction_from(reduction));
        },
        py::arg("X"), py::arg("Y"), py::arg("reduction"));
  m.def("deep_linear",
        [](MatrixR X, MatrixR Y, const std::vector<Index>& widths, const std::string& reduction) {
          return make_deep_linear(std::move(X), std::move(Y), widths, reduction_from(reduction));
        },
        py::arg("X"), py::arg("Y"), py::arg("widths"), py::arg("reduction"));
  m.def("shallow_net",
        [](MatrixR X, MatrixR Y, Index width, const std::string& activation,
           const std::optional<Vector>& v, bool train_output, const std::string& reduction) {
          return make_shallow_net(std::move(X), std::move(Y), width, activation_from_string(activation),
                                  v ? &*v : nullptr, train_output, reduction_from(reduction));
        },
        py::arg("X"), py::arg("Y"), py::arg("width"), py::arg("activation"), py::arg("output_weights"),
        py::arg("train_output"), py::arg("reduction"));
  m.def("mlp",
        [](MatrixR X, MatrixR Y, IndexVector labels, const std::vector<Index>& widths,
           const std::string& activation, const std::string& parameterization, bool bias, bool residual,
           const std::string& loss, const std::string& reduction, Index num_classes) {
          MLPOptions o;
          o.activation = activation_from_string(activation);
          if (parameterization == "ntk") o.parameterization = Parameterization::NTK;
          else if (parameterization == "standard") o.parameterization = Parameterization::Standard;
          else throw std::invalid_argument("parameterization: expected 'ntk' or 'standard', got '" + parameterization + "'");
          o.bias = bias;
          o.residual = residual;
          if (loss == "square") o.loss = LossKind::Square;
          else if (loss == "cross_entropy") o.loss = LossKind::CrossEntropy;
          else throw std::invalid_argument("loss: expected 'square' or 'cross_entropy', got '" + loss + "'");
          o.reduction = reduction_from(reduction);
          o.num_classes = num_classes;
          return make_mlp(std::move(X), std::move(Y), std::move(labels), widths, o);
        },
        py::arg("X"), py::arg("Y"), py::arg("labels"), py::arg("widths"), py::arg("activation"),
        py::arg("parameterization"), py::arg("bias"), py::arg("residual"), py::arg("loss"),
        py::arg("reduction"), py::arg("num_classes"));
}
