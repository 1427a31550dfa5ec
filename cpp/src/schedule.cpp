// Learning-rate schedules.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "check.hpp"
#include "landscope/schedule.hpp"

namespace landscope {

namespace {

constexpr double kPi = 3.141592653589793238462643383279502884;

using detail::num;
using detail::require;

/// From a (p = 0) to b (p = 1) along half a cosine wave.
double cos_between(double a, double b, double p) { return b + (a - b) * 0.5 * (1.0 + std::cos(kPi * p)); }

}  // namespace

// --------------------------------------------------------------------------------- schedules
double Schedule::operator()(Step t) const {
  const double td = static_cast<double>(t);
  switch (kind) {
    case Kind::Constant:
      return 1.0;
    case Kind::StepDecay:
      return std::pow(gamma, static_cast<double>(t / period));
    case Kind::Cosine:
      return t >= total ? final_value : cos_between(1.0, final_value, td / static_cast<double>(total));
    case Kind::WarmupCosine:
      if (t < warmup) return (td + 1.0) / static_cast<double>(warmup);
      if (t >= total) return final_value;
      return cos_between(1.0, final_value, (td - warmup) / static_cast<double>(total - warmup));
    case Kind::WSD: {
      const Step W = std::llround(warmup_fraction * static_cast<double>(total));
      const Step D = std::llround(decay_fraction * static_cast<double>(total));
      if (t < W) return (td + 1.0) / static_cast<double>(W);
      if (t >= total) return final_value;
      if (t < total - D) return 1.0;
      return 1.0 - (1.0 - final_value) * static_cast<double>(t - (total - D) + 1) / static_cast<double>(D);
    }
    case Kind::OneCycle: {
      const Step U = std::max<Step>(1, static_cast<Step>(std::floor(pct_start * static_cast<double>(total))));
      const double lo = 1.0 / div_factor, end = lo / final_div_factor;
      if (t < U) return cos_between(lo, 1.0, td / static_cast<double>(U));
      if (t >= total) return end;
      return cos_between(1.0, end, static_cast<double>(t - U) / static_cast<double>(total - U));
    }
    case Kind::InverseSqrt:
      if (warmup == 0) return 1.0 / std::sqrt(td + 1.0);
      if (t < warmup) return (td + 1.0) / static_cast<double>(warmup);
      return std::sqrt(static_cast<double>(warmup) / (td + 1.0));
    case Kind::Table: {
      const Step i = t - table_start;
      if (i < 0 || i >= static_cast<Step>(table.size()))
        throw std::out_of_range("schedule: step " + std::to_string(t) + " is outside the tabulated range");
      return table[static_cast<std::size_t>(i)];
    }
  }
  return 1.0;
}

void Schedule::check() const {
  auto finite_in = [](double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi; };
  switch (kind) {
    case Kind::Constant:
      break;
    case Kind::StepDecay:
      require(period >= 1, "period: expected >= 1 steps, got " + std::to_string(period));
      require(finite_in(gamma, 0.0, 1e300) && gamma > 0, "gamma: expected a positive factor, got " + num(gamma));
      break;
    case Kind::WarmupCosine:
      require(warmup >= 1, "warmup: expected >= 1 steps, got " + std::to_string(warmup));
      require(total > warmup, "total: expected more steps than warmup = " + std::to_string(warmup) + ", got " +
                                  std::to_string(total));
      [[fallthrough]];
    case Kind::Cosine:
      require(total >= 1, "total: expected >= 1 steps, got " + std::to_string(total));
      require(finite_in(final_value, 0.0, 1.0), "final: expected a multiplier in [0, 1], got " + num(final_value));
      break;
    case Kind::WSD: {
      require(total >= 1, "total: expected >= 1 steps, got " + std::to_string(total));
      require(finite_in(warmup_fraction, 0.0, 1.0), "warmup: expected a fraction in [0, 1], got " + num(warmup_fraction));
      require(finite_in(decay_fraction, 0.0, 1.0), "decay: expected a fraction in [0, 1], got " + num(decay_fraction));
      const Step W = std::llround(warmup_fraction * static_cast<double>(total));
      const Step D = std::llround(decay_fraction * static_cast<double>(total));
      require(W + D <= total, "warmup, decay: the phases of " + std::to_string(W) + " and " + std::to_string(D) +
                                  " steps overlap within total = " + std::to_string(total));
      require(finite_in(final_value, 0.0, 1.0), "final: expected a multiplier in [0, 1], got " + num(final_value));
      break;
    }
    case Kind::OneCycle:
      require(total >= 2, "total: expected >= 2 steps, got " + std::to_string(total));
      require(finite_in(pct_start, 0.0, 1.0) && pct_start > 0 && pct_start < 1,
              "pct_start: expected a fraction in (0, 1), got " + num(pct_start));
      require(finite_in(div_factor, 1.0, 1e300), "div_factor: expected a finite factor >= 1, got " + num(div_factor));
      require(finite_in(final_div_factor, 1.0, 1e300),
              "final_div_factor: expected a finite factor >= 1, got " + num(final_div_factor));
      break;
    case Kind::InverseSqrt:
      require(warmup >= 0, "warmup: expected >= 0 steps, got " + std::to_string(warmup));
      break;
    case Kind::Table:
      for (double v : table) require(std::isfinite(v) && v >= 0, "schedule: values must be finite and >= 0, got " + num(v));
      break;
  }
}

Schedule Schedule::constant() { return {}; }
Schedule Schedule::step_decay(Step period, double gamma) {
  Schedule s;
  s.kind = Kind::StepDecay;
  s.period = period;
  s.gamma = gamma;
  return s;
}
Schedule Schedule::cosine(Step total, double final_value) {
  Schedule s;
  s.kind = Kind::Cosine;
  s.total = total;
  s.final_value = final_value;
  return s;
}
Schedule Schedule::warmup_cosine(Step warmup, Step total, double final_value) {
  Schedule s = cosine(total, final_value);
  s.kind = Kind::WarmupCosine;
  s.warmup = warmup;
  return s;
}
Schedule Schedule::wsd(Step total, double warmup_fraction, double decay_fraction, double final_value) {
  Schedule s;
  s.kind = Kind::WSD;
  s.total = total;
  s.warmup_fraction = warmup_fraction;
  s.decay_fraction = decay_fraction;
  s.final_value = final_value;
  return s;
}
Schedule Schedule::one_cycle(Step total, double pct_start, double div_factor, double final_div_factor) {
  Schedule s;
  s.kind = Kind::OneCycle;
  s.total = total;
  s.pct_start = pct_start;
  s.div_factor = div_factor;
  s.final_div_factor = final_div_factor;
  return s;
}
Schedule Schedule::inverse_sqrt(Step warmup) {
  Schedule s;
  s.kind = Kind::InverseSqrt;
  s.warmup = warmup;
  return s;
}
Schedule Schedule::from_table(std::vector<double> values, Step start) {
  Schedule s;
  s.kind = Kind::Table;
  s.table = std::move(values);
  s.table_start = start;
  return s;
}

}  // namespace landscope
