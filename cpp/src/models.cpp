// The model families of DESIGN §3 as configurations of Network.
#include <cmath>
#include <stdexcept>
#include <string>

#include "landscope/network.hpp"

namespace landscope {
namespace {

NetworkOptions square(Reduction r) { return {LossKind::Square, r}; }

void check_width(Index width, const char* name) {
  if (width <= 0)
    throw std::invalid_argument(std::string(name) + ": every width must be >= 1, got " + std::to_string(width));
}

}  // namespace

std::unique_ptr<Network> make_least_squares(MatrixR X, MatrixR Y, Reduction reduction) {
  Layer L;
  L.in = X.cols();
  L.out = Y.cols();
  L.init_std = 1.0 / std::sqrt(static_cast<double>(std::max<Index>(1, X.cols())));
  return std::make_unique<Network>(std::move(X), std::move(Y), IndexVector(), std::vector<Layer>{L},
                                   square(reduction), std::vector<std::string>{"W"});
}

std::unique_ptr<Network> make_deep_linear(MatrixR X, MatrixR Y, const std::vector<Index>& widths,
                                          Reduction reduction) {
  std::vector<Layer> layers;
  std::vector<std::string> names;
  Index prev = X.cols();
  for (std::size_t j = 0; j <= widths.size(); ++j) {
    const Index out = j < widths.size() ? widths[j] : Y.cols();
    if (j < widths.size()) check_width(out, "widths");
    Layer L;
    L.in = prev;
    L.out = out;
    L.init_std = 1.0 / std::sqrt(static_cast<double>(std::max<Index>(1, prev)));
    layers.push_back(L);
    names.push_back("W" + std::to_string(j + 1));
    prev = out;
  }
  return std::make_unique<Network>(std::move(X), std::move(Y), IndexVector(), std::move(layers),
                                   square(reduction), std::move(names));
}

std::unique_ptr<Network> make_shallow_net(MatrixR X, MatrixR Y, Index width, Activation activation,
                                          const Vector* output_weights, bool train_output,
                                          Reduction reduction) {
  check_width(width, "width");
  Layer hidden;
  hidden.in = X.cols();
  hidden.out = width;
  hidden.activation = activation;
  Layer out;
  out.in = width;
  out.out = 1;
  out.scale = 1.0 / std::sqrt(static_cast<double>(width));
  out.trainable = train_output;
  out.fixed_weight.resize(1, width);
  if (output_weights) {
    if (output_weights->size() != width)
      throw std::invalid_argument("output_weights: expected " + std::to_string(width) +
                                  " values, got " + std::to_string(output_weights->size()));
    if (!output_weights->allFinite()) throw std::invalid_argument("output_weights: contains NaN or Inf");
    out.fixed_weight.row(0) = output_weights->transpose();
  } else {
    for (Index j = 0; j < width; ++j) out.fixed_weight(0, j) = (j % 2 == 0) ? 1.0 : -1.0;
  }
  return std::make_unique<Network>(std::move(X), std::move(Y), IndexVector(),
                                   std::vector<Layer>{hidden, out}, square(reduction),
                                   std::vector<std::string>{"W", "v"});
}

std::unique_ptr<Network> make_mlp(MatrixR X, MatrixR Y, IndexVector labels,
                                  const std::vector<Index>& widths, const MLPOptions& o) {
  const bool ce = o.loss == LossKind::CrossEntropy;
  const Index k = ce ? o.num_classes : Y.cols();
  std::vector<Layer> layers;
  std::vector<std::string> names;
  Index prev = X.cols();
  for (std::size_t j = 0; j <= widths.size(); ++j) {
    const bool hidden = j < widths.size();
    const Index out = hidden ? widths[j] : k;
    if (hidden) check_width(out, "widths");
    Layer L;
    L.in = prev;
    L.out = out;
    L.bias = o.bias;
    L.activation = hidden ? o.activation : Activation::Identity;
    L.residual = o.residual && hidden && j > 0 && out == prev;
    const double fan_in = static_cast<double>(prev), fan_out = static_cast<double>(out);
    if (o.parameterization == Parameterization::NTK) {
      L.scale = 1.0 / std::sqrt(fan_in);
      L.init_std = 1.0;
    } else {
      L.scale = 1.0;
      L.init_std = (hidden && o.activation == Activation::Relu) ? std::sqrt(2.0 / fan_in)
                                                                 : std::sqrt(2.0 / (fan_in + fan_out));
    }
    layers.push_back(L);
    names.push_back("W" + std::to_string(j + 1));
    prev = out;
  }
  NetworkOptions opts{o.loss, o.reduction};
  return std::make_unique<Network>(std::move(X), std::move(Y), std::move(labels), std::move(layers),
                                   opts, std::move(names));
}

}  // namespace landscope
