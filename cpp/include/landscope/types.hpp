#pragma once
// Basic aliases shared by the whole engine.
#include <Eigen/Dense>
#include <cstdint>

namespace landscope {

using Index = Eigen::Index;
using Vector = Eigen::VectorXd;
using Matrix = Eigen::MatrixXd;                                                   // column-major
using MatrixR = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;  // numpy (C) order
using Step = std::int64_t;  // a training step (or a count of them)
using IndexVector = Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>;
using VectorRef = Eigen::Ref<const Vector>;
using MatrixRef = Eigen::Ref<const Matrix>;
using MatrixRRef = Eigen::Ref<const MatrixR>;

enum class LossKind { Square, CrossEntropy };
enum class Reduction { Sum, Mean };

}  // namespace landscope
