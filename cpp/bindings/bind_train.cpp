// Training: optimizers, schedules and the loop. landscope/training.py validates the arguments and
// keeps the state between calls; this file converts dictionaries and releases the GIL.
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

/// A parameter the Python layer always passes (it holds the defaults).
template <class T>
T get(const py::dict& d, const char* key) {
  return d[key].cast<T>();
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, double lr, const py::dict& p, Index batch_size,
                                          std::uint64_t seed) {
  std::unique_ptr<Optimizer> o;
  if (kind == "gd") o = std::make_unique<GD>();
  else if (kind == "momentum") o = std::make_unique<Momentum>(get<double>(p, "beta"), get<bool>(p, "nesterov"));
  else if (kind == "adam" || kind == "adamw")
    o = std::make_unique<Adam>(get<double>(p, "beta1"), get<double>(p, "beta2"), get<double>(p, "eps"),
                               get<double>(p, "weight_decay"), kind == "adamw");
  else if (kind == "perturbed_gd")
    o = std::make_unique<PerturbedGD>(get<double>(p, "radius"), get<double>(p, "threshold"), get<Step>(p, "interval"));
  else if (kind == "sam") o = std::make_unique<SAM>(get<double>(p, "rho"));
  else throw std::invalid_argument("optimizer: unknown kind '" + kind + "'");
  o->lr = lr;
  o->batch_size = batch_size;
  o->seed = seed;
  return o;
}

std::vector<double> table(const Eigen::Ref<const Vector>& v) { return {v.data(), v.data() + v.size()}; }

Schedule make_schedule(const std::string& kind, const py::dict& p) {
  Schedule s;
  if (kind == "constant") s = Schedule::constant();
  else if (kind == "step") s = Schedule::step_decay(get<Step>(p, "period"), get<double>(p, "gamma"));
  else if (kind == "cosine") s = Schedule::cosine(get<Step>(p, "total"), get<double>(p, "final"));
  else if (kind == "warmup_cosine")
    s = Schedule::warmup_cosine(get<Step>(p, "warmup"), get<Step>(p, "total"), get<double>(p, "final"));
  else if (kind == "wsd")
    s = Schedule::wsd(get<Step>(p, "total"), get<double>(p, "warmup"), get<double>(p, "decay"), get<double>(p, "final"));
  else if (kind == "one_cycle")
    s = Schedule::one_cycle(get<Step>(p, "total"), get<double>(p, "pct_start"), get<double>(p, "div_factor"),
                            get<double>(p, "final_div_factor"));
  else if (kind == "inverse_sqrt") s = Schedule::inverse_sqrt(get<Step>(p, "warmup"));
  else if (kind == "table") s = Schedule::from_table(table(p["values"].cast<Eigen::Ref<const Vector>>()), get<Step>(p, "start"));
  else throw std::invalid_argument("schedule: unknown kind '" + kind + "'");
  s.validate();
  return s;
}

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

}  // namespace

void bind_train(py::module_& m) {
  py::class_<Optimizer>(m, "Optimizer", py::module_local())
      .def("reset", &Optimizer::reset, py::arg("P"))
      .def("state",
           [](const Optimizer& o) {
             py::dict d;
             for (const auto& [k, v] : o.state()) d[py::str(k)] = v;
             return d;
           })
      .def("set_state", [](Optimizer& o, const py::dict& d, Index P) {
        OptimizerState s;
        for (auto item : d) s.emplace_back(item.first.cast<std::string>(), item.second.cast<Vector>());
        o.set_state(s, P);
      });
  m.def("make_optimizer", &make_optimizer, py::arg("kind"), py::arg("lr"), py::arg("params"),
        py::arg("batch_size"), py::arg("seed"));
  m.def("perturbation", [](double radius, std::uint64_t seed, Step t, Index P) {
        PerturbedGD o(radius, 0.0, 1);
        o.seed = seed;
        return o.noise(t, P);
      }, py::arg("radius"), py::arg("seed"), py::arg("step"), py::arg("P"));

  py::class_<Schedule>(m, "Schedule", py::module_local())
      .def("__call__", [](const Schedule& s, const Eigen::Ref<const IndexVector>& t) {
        Vector out(t.size());
        for (Index i = 0; i < t.size(); ++i) out[i] = s(t[i]);
        return out;
      });
  m.def("make_schedule", &make_schedule, py::arg("kind"), py::arg("params"));
  m.def("minibatch", &minibatch, py::arg("n"), py::arg("batch_size"), py::arg("seed"), py::arg("step"));

  m.def(
      "train",
      [](const Model& model, Optimizer& opt, const py::dict& st, const Schedule& schedule, const py::dict& o,
         std::optional<py::function> progress) {
        TrainState s;
        s.step = st["step"].cast<Step>();
        s.w = st["w"].cast<Vector>();
        s.w0 = st["w0"].cast<Vector>();
        s.loss0 = st["loss0"].cast<double>();
        s.ema = vector_or_empty(st, "ema");
        s.swa_sum = vector_or_empty(st, "swa_sum");
        s.swa_count = st["swa_count"].cast<Step>();
        s.sharpness_vector = vector_or_empty(st, "sharpness_vector");
        s.kernel_vector = vector_or_empty(st, "kernel_vector");
        if (st.contains("kernel0") && !st["kernel0"].is_none()) s.kernel0 = st["kernel0"].cast<MatrixR>();

        TrainOptions t;
        t.steps = o["steps"].cast<Step>();
        t.record_every = o["record_every"].cast<Step>();
        t.schedule = schedule;
        t.clip_norm = o["clip_norm"].cast<double>();
        t.ema_decay = o["ema_decay"].cast<double>();
        t.swa_start = o["swa_start"].cast<Step>();
        t.swa_every = o["swa_every"].cast<Step>();
        t.loss_star = o["loss_star"].cast<double>();
        t.tol = o["tol"].cast<double>();
        t.blowup = o["blowup"].cast<double>();
        t.sharpness_every = o["sharpness"].cast<Step>();
        t.kernel_every = o["kernel_min"].cast<Step>();
        t.kernel_drift_every = o["kernel_drift"].cast<Step>();
        t.balancedness_every = o["balancedness"].cast<Step>();
        t.hessian_norm_every = o["hessian_norm"].cast<Step>();
        t.params_every = o["params"].cast<Step>();
        t.sharpness_tol = o["sharpness_tol"].cast<double>();
        t.sharpness_max_products = o["sharpness_max_products"].cast<Index>();
        t.callback_seconds = o["callback_seconds"].cast<double>();
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
        rows["sharpness"] = array(tr.sharpness);
        rows["kernel_min"] = array(tr.kernel_min);
        rows["kernel_drift"] = array(tr.kernel_drift);
        rows["balancedness"] = array(tr.balancedness);
        rows["hessian_norm"] = array(tr.hessian_norm);
        py::array_t<double> params(std::vector<py::ssize_t>{static_cast<py::ssize_t>(tr.params_step.size()),
                                                            static_cast<py::ssize_t>(model.num_params())});
        std::copy(tr.params.begin(), tr.params.end(), params.mutable_data());
        rows["params"] = params;
        rows["params_step"] = array(tr.params_step);

        py::dict out;
        out["step"] = s.step;
        out["w"] = s.w;
        out["w0"] = s.w0;
        out["loss0"] = s.loss0;
        out["ema"] = optional_vector(s.ema);
        out["swa_sum"] = optional_vector(s.swa_sum);
        out["swa_count"] = s.swa_count;
        out["sharpness_vector"] = optional_vector(s.sharpness_vector);
        out["kernel_vector"] = optional_vector(s.kernel_vector);
        out["kernel0"] = s.kernel0.size() ? py::cast(s.kernel0) : py::none();
        out["stop_products"] = s.stop_products;
        return py::make_tuple(to_string(tr.status), tr.message, rows, out, tr.sharpness_products);
      },
      py::arg("model"), py::arg("optimizer"), py::arg("state"), py::arg("schedule"), py::arg("options"),
      py::arg("progress"));
}
