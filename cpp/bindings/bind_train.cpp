// Training: schedules, optimizers, the options of a run and the loop. The option structs are
// bound as classes whose fields are the keywords of landscope.train; their check() is the only
// semantic validation. landscope/training.py converts the arguments and keeps the state between
// calls.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "landscope/train.hpp"

namespace py = pybind11;
using namespace landscope;

void raise_pending_interrupt();  // bind_threads.cpp

namespace {

/// The column as a numpy array that takes over its memory (no copy).
template <class T>
py::array_t<T> array(std::vector<T>& v) {
  auto* owner = new std::vector<T>(std::move(v));
  py::capsule free_when_done(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(owner->size()), owner->data(), free_when_done);
}

py::object optional_vector(const Vector& v) { return v.size() ? py::cast(v) : py::none(); }

Vector vector_or_empty(const py::dict& d, const char* key) {
  return d.contains(key) && !d[key].is_none() ? d[key].cast<Vector>() : Vector();
}

/// A schedule from a factory, checked.
template <class... A>
auto checked(Schedule (*make)(A...)) {
  return [make](A... a) {
    Schedule s = make(a...);
    s.check();
    return s;
  };
}

/// A Python function f(w) -> (loss, gradient) as the oracle of an optimizer step (SAM and
/// perturbed GD evaluate the gradient again at a moved point).
class PyOracle : public GradientOracle {
 public:
  explicit PyOracle(std::optional<py::function> fn) : m_fn(std::move(fn)) {}
  double evaluate(const Vector& w, Vector& grad) override {
    if (!m_fn) throw std::invalid_argument("oracle: this optimizer evaluates the gradient again; pass oracle=f(w)");
    py::tuple out = (*m_fn)(w);
    grad = out[1].cast<Vector>();
    if (grad.size() != w.size()) throw std::invalid_argument("oracle: the gradient has the wrong length");
    return out[0].cast<double>();
  }

 private:
  std::optional<py::function> m_fn;
};

NamedArrays named_arrays(const py::dict& d) {
  NamedArrays out;
  for (auto item : d) out.emplace_back(item.first.cast<std::string>(), item.second.cast<Vector>());
  return out;
}

py::dict to_dict(const NamedArrays& s) {
  py::dict d;
  for (const auto& [k, v] : s) d[py::str(k)] = v;
  return d;
}

}  // namespace

void bind_train(py::module_& m) {
  // ------------------------------------------------------------------------------ schedules
  py::class_<Schedule>(m, "Schedule", py::module_local())
      .def("__call__",
           [](const Schedule& s, const Eigen::Ref<const IndexVector>& t) {
             Vector out(t.size());
             for (Index i = 0; i < t.size(); ++i) out[i] = s(t[i]);
             return out;
           },
           py::arg("t"))
      .def("check", &Schedule::check)
      .def_static("constant", checked(&Schedule::constant))
      .def_static("step_decay", checked(&Schedule::step_decay), py::arg("period"), py::arg("gamma"))
      .def_static("cosine", checked(&Schedule::cosine), py::arg("total"), py::arg("final"))
      .def_static("warmup_cosine", checked(&Schedule::warmup_cosine), py::arg("warmup"), py::arg("total"),
                  py::arg("final"))
      .def_static("wsd", checked(&Schedule::wsd), py::arg("total"), py::arg("warmup"), py::arg("decay"),
                  py::arg("final"))
      .def_static("one_cycle", checked(&Schedule::one_cycle), py::arg("total"), py::arg("pct_start"),
                  py::arg("div_factor"), py::arg("final_div_factor"))
      .def_static("inverse_sqrt", checked(&Schedule::inverse_sqrt), py::arg("warmup"))
      .def_static("table",
                  [](const Eigen::Ref<const Vector>& values, Step start) {
                    Schedule s = Schedule::from_table({values.data(), values.data() + values.size()}, start);
                    s.check();
                    return s;
                  },
                  py::arg("values"), py::arg("start"));

  // ----------------------------------------------------------------------------- optimizers
  py::class_<Optimizer>(m, "Optimizer", py::module_local())
      .def_readwrite("lr", &Optimizer::lr)
      .def_readwrite("batch_size", &Optimizer::batch_size)
      .def_readwrite("seed", &Optimizer::seed)
      .def_property_readonly("name", &Optimizer::name)
      .def("check", &Optimizer::check)
      .def("reset", &Optimizer::reset, py::arg("P"))
      .def("step",
           [](Optimizer& o, Eigen::Ref<Vector> w, const VectorRef& g, double lr, Step t,
              std::optional<py::function> oracle) {
             if (g.size() != w.size()) throw std::invalid_argument("g: expected the length of w");
             if (!o.ready(w.size())) throw std::invalid_argument("optimizer: call reset(P) first");
             Vector wv = w, gv = g;
             PyOracle f(std::move(oracle));
             o.step(wv, gv, lr, t, f);
             w = wv;
           },
           py::arg("w"), py::arg("g"), py::arg("lr"), py::arg("step"), py::arg("oracle") = py::none(),
           "One update of w (in place, a contiguous float64 array) from the gradient g at rate lr, as the "
           "training loop applies it at global step `step`.")
      .def("state", [](const Optimizer& o) { return to_dict(o.state()); })
      .def("set_state", [](Optimizer& o, const py::dict& d, Index P) { o.set_state(named_arrays(d), P); },
           py::arg("state"), py::arg("P"));
  py::class_<GD, Optimizer>(m, "GD", py::module_local()).def(py::init<>());
  py::class_<Momentum, Optimizer>(m, "Momentum", py::module_local())
      .def(py::init<double, bool>(), py::arg("beta"), py::arg("nesterov"))
      .def_readwrite("beta", &Momentum::beta)
      .def_readwrite("nesterov", &Momentum::nesterov);
  py::class_<Adam, Optimizer>(m, "Adam", py::module_local())
      .def(py::init<double, double, double, double, bool>(), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
           py::arg("weight_decay"), py::arg("decoupled"))
      .def_readwrite("beta1", &Adam::beta1)
      .def_readwrite("beta2", &Adam::beta2)
      .def_readwrite("eps", &Adam::eps)
      .def_readwrite("weight_decay", &Adam::weight_decay)
      .def_readwrite("decoupled", &Adam::decoupled);
  py::class_<PerturbedGD, Optimizer>(m, "PerturbedGD", py::module_local())
      .def(py::init<double, double, Step>(), py::arg("radius"), py::arg("threshold"), py::arg("interval"))
      .def_readwrite("radius", &PerturbedGD::radius)
      .def_readwrite("threshold", &PerturbedGD::threshold)
      .def_readwrite("interval", &PerturbedGD::interval)
      .def("noise", &PerturbedGD::noise, py::arg("step"), py::arg("P"));
  py::class_<SAM, Optimizer>(m, "SAM", py::module_local())
      .def(py::init<double>(), py::arg("rho"))
      .def_readwrite("rho", &SAM::rho);
  m.def("minibatch", &minibatch, py::arg("n"), py::arg("batch_size"), py::arg("seed"), py::arg("step"));

  // -------------------------------------------------------------------------------- options
  py::class_<RecorderSettings>(m, "RecorderSettings", py::module_local())
      .def(py::init<>())
      .def_readwrite("sharpness_tol", &RecorderSettings::sharpness_tol)
      .def_readwrite("sharpness_max_products", &RecorderSettings::sharpness_max_products)
      .def_readwrite("kernel_tol", &RecorderSettings::kernel_tol)
      .def_readwrite("dense_kernel_max", &RecorderSettings::dense_kernel_max)
      .def("check", &RecorderSettings::check);
  py::class_<TrainOptions>(m, "TrainOptions", py::module_local())
      .def(py::init<>())
      .def_readwrite("steps", &TrainOptions::steps)
      .def_readwrite("record_every", &TrainOptions::record_every)
      .def_readwrite("schedule", &TrainOptions::schedule)
      .def_readwrite("clip_norm", &TrainOptions::clip_norm)
      .def_readwrite("ema", &TrainOptions::ema)
      .def_readwrite("swa_start", &TrainOptions::swa_start)
      .def_readwrite("swa_every", &TrainOptions::swa_every)
      .def_readwrite("loss_star", &TrainOptions::loss_star)
      .def_readwrite("tol", &TrainOptions::tol)
      .def_readwrite("blowup", &TrainOptions::blowup)
      .def_readwrite("record", &TrainOptions::record)
      .def_readwrite("recorder", &TrainOptions::recorder)
      .def_readwrite("callback_seconds", &TrainOptions::callback_seconds)
      .def("check", &TrainOptions::check);

  m.def("diagnostics", [] { return builtin_diagnostics(); });
  m.def("diagnostic_memory",
        [](const Model& model, const std::string& name, const RecorderSettings& settings) {
          return make_diagnostic(name, model)->memory_bytes(model, settings);
        },
        py::arg("model"), py::arg("name"), py::arg("settings"));

  // ------------------------------------------------------------------------------- the loop
  m.def(
      "train",
      [](const Model& model, Optimizer& opt, const py::dict& st, TrainOptions t, std::optional<py::function> progress) {
        TrainState s;
        s.step = st["step"].cast<Step>();
        s.w = st["w"].cast<Vector>();
        s.w0 = st["w0"].cast<Vector>();
        s.loss0 = st["loss0"].cast<double>();
        s.ema = vector_or_empty(st, "ema");
        s.swa_sum = vector_or_empty(st, "swa_sum");
        s.swa_count = st["swa_count"].cast<Step>();
        s.diagnostics = named_arrays(st["diagnostics"].cast<py::dict>());
        // Every callback checks for Ctrl-C: an interrupt stops the run cleanly (status
        // "interrupted") instead of raising, so that what was recorded is returned.
        t.callback = [&](const TrainProgress& p) {
          py::gil_scoped_acquire gil;
          if (PyErr_CheckSignals() != 0) {
            if (!PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) throw py::error_already_set();
            PyErr_Clear();
            return false;
          }
          if (!progress) return true;
          try {
            py::object keep = (*progress)(p.step, p.steps, p.loss, p.grad_norm);
            return keep.is_none() || keep.cast<bool>();
          } catch (py::error_already_set& e) {
            if (e.matches(PyExc_KeyboardInterrupt)) return false;  // Ctrl-C inside the display
            throw;
          }
        };

        Trajectory tr;
        {
          py::gil_scoped_release release;
          train(model, opt, s, tr, t);
        }
        raise_pending_interrupt();  // a signal handler's own exception, if it raised one in a row
        py::dict rows;
        rows["step"] = array(tr.step);
        rows["loss"] = array(tr.loss);
        rows["grad_norm"] = array(tr.grad_norm);
        rows["pl"] = array(tr.pl);
        rows["lr"] = array(tr.lr);
        rows["distance"] = array(tr.distance);
        for (auto& [name, column] : tr.columns) rows[py::str(name)] = array(column);
        py::array_t<double> params(std::vector<py::ssize_t>{static_cast<py::ssize_t>(tr.params_step.size()),
                                                            static_cast<py::ssize_t>(model.num_params())});
        std::copy(tr.params.begin(), tr.params.end(), params.mutable_data());

        py::dict out;
        out["step"] = s.step;
        out["w"] = s.w;
        out["w0"] = s.w0;
        out["loss0"] = s.loss0;
        out["ema"] = optional_vector(s.ema);
        out["swa_sum"] = optional_vector(s.swa_sum);
        out["swa_count"] = s.swa_count;
        out["diagnostics"] = to_dict(s.diagnostics);
        out["stop_products"] = s.stop_products;
        return py::make_tuple(to_string(tr.status), tr.message, rows, params, array(tr.params_step), out,
                              tr.products);
      },
      py::arg("model"), py::arg("optimizer"), py::arg("state"), py::arg("options"), py::arg("progress"));
}
