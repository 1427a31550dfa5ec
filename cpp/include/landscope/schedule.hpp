#pragma once
// Learning-rate schedules: a multiplier s(t) of the optimizer's rate as a pure function of the
// step. The update from w_t to w_{t+1} uses lr · s(t); steps count from 0.
#include <vector>

#include "landscope/types.hpp"

namespace landscope {

struct Schedule {
  enum class Kind { Constant, StepDecay, Cosine, WarmupCosine, WSD, OneCycle, InverseSqrt, Table };
  Kind kind = Kind::Constant;
  Step total = 0;               // the horizon T (Cosine, WarmupCosine, WSD, OneCycle)
  Step warmup = 0;              // warmup steps W (WarmupCosine, InverseSqrt)
  Step period = 1;              // StepDecay: steps between decays
  double gamma = 0.1;           // StepDecay: factor per decay
  double final_value = 0.0;     // Cosine, WarmupCosine, WSD: the multiplier from T on
  double warmup_fraction = 0.0; // WSD: W = ⌊warmup_fraction · T + ½⌋
  double decay_fraction = 0.0;  // WSD: D = ⌊decay_fraction · T + ½⌋ (W + D ≤ T)
  double pct_start = 0.3;       // OneCycle: U = max(1, floor(pct_start · T)) rising steps
  double div_factor = 25.0;     // OneCycle: starts at 1/div_factor
  double final_div_factor = 1e4;  // OneCycle: ends at 1/(div_factor · final_div_factor)
  std::vector<double> table;    // Table: s(table_start + i) = table[i]
  Step table_start = 0;

  /// s(t); throws std::out_of_range for a Table step outside the table.
  double operator()(Step t) const;
  /// The only semantic check of the parameters: throws std::invalid_argument naming the
  /// offending Python keyword.
  void check() const;

  static Schedule constant();
  /// gamma^floor(t / period).
  static Schedule step_decay(Step period, double gamma);
  /// final + (1 − final)·½(1 + cos(π t/T)) for t < T, final after.
  static Schedule cosine(Step total, double final_value = 0.0);
  /// (t + 1)/W for t < W, then the cosine over the remaining T − W steps.
  static Schedule warmup_cosine(Step warmup, Step total, double final_value = 0.0);
  /// Warmup (t + 1)/W, stable 1, then linear decay over the last D steps reaching `final` at
  /// t = T − 1; final after.
  static Schedule wsd(Step total, double warmup_fraction, double decay_fraction, double final_value = 0.0);
  /// Cosine from 1/div up to 1 over U steps, then cosine down to 1/(div·final_div) at T.
  static Schedule one_cycle(Step total, double pct_start = 0.3, double div_factor = 25.0,
                            double final_div_factor = 1e4);
  /// W = 0: 1/√(t + 1); otherwise (t + 1)/W for t < W, then √(W/(t + 1)).
  static Schedule inverse_sqrt(Step warmup = 0);
  static Schedule from_table(std::vector<double> values, Step start = 0);
};

}  // namespace landscope
