// landscope from C++ alone: build an MLP, take its gradient, a Hessian-vector product and the
// extreme Hessian eigenvalues (matrix-free Lanczos).
//   cmake -S . -B build-cpp -DLANDSCOPE_EXAMPLES=ON && cmake --build build-cpp --target mlp_example
//   ./build-cpp/mlp_example
#include <cmath>
#include <cstdio>

#include "landscope/landscope.hpp"

int main() {
  using namespace landscope;
  const Index n = 32, d = 4;
  MatrixR X(n, d), Y(n, 1);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j) X(i, j) = std::sin(1.0 + i * d + j);  // deterministic data
    Y(i, 0) = std::tanh(X(i, 0) - 0.5 * X(i, 1));
  }
  MLPOptions options;
  options.activation = Activation::Tanh;
  auto net = make_mlp(X, Y, IndexVector(), {16, 16}, options);

  // The model at w: one forward/backward pass serves the loss, the gradient and every H v.
  const Vector w = net->init(/*seed=*/0);
  const auto point = net->at(w);
  const double loss = point->loss();
  const Vector grad = point->gradient();
  const Vector v = Vector::Ones(net->num_params());
  const Matrix Hv = point->hvp(v);

  std::printf("params %ld\n", static_cast<long>(net->num_params()));
  std::printf("loss %.17g\n", loss);
  std::printf("grad_norm %.17g\n", grad.norm());
  std::printf("grad[0:3] %.17g %.17g %.17g\n", grad[0], grad[1], grad[2]);
  std::printf("hvp_norm %.17g\n", Hv.norm());
  std::printf("vHv %.17g\n", v.dot(Hv.col(0)));

  // The 3 largest and 3 smallest Hessian eigenvalues, never forming H.
  const auto H = point->hessian_operator();
  LanczosOptions lo;
  lo.k = 6;
  lo.which = Which::BothEnds;
  const LanczosResult eig = lanczos(*H, lo);
  std::printf("eigenvalues");
  for (Index i = 0; i < eig.eigenvalues.size(); ++i) std::printf(" %.17g", eig.eigenvalues[i]);
  std::printf("\nconverged %d\n", eig.converged() ? 1 : 0);

  // 100 steps of Adam with a warmup-cosine schedule, recording the sharpness every 50 steps.
  Adam adam(0.9, 0.999, 1e-8, 0.0, /*decoupled=*/false);
  adam.lr = 0.01;
  TrainState state = start_state(*net, adam, w);
  Trajectory traj;
  TrainOptions to;
  to.steps = 100;
  to.record_every = 50;
  to.record = {{"sharpness", 50}};
  to.schedule = Schedule::warmup_cosine(10, 100);
  train(*net, adam, state, traj, to);
  std::printf("train_status %s\n", to_string(traj.status).c_str());
  std::printf("train_loss");
  for (double l : traj.loss) std::printf(" %.17g", l);
  std::printf("\ntrain_sharpness");
  for (double s : traj.columns["sharpness"]) std::printf(" %.17g", s);
  std::printf("\ntrain_w[0:2] %.17g %.17g\n", state.w[0], state.w[1]);
  return 0;
}
