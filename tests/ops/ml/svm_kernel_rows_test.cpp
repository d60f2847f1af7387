// SVMRegressor over more support vectors than one block of svm.cpp's kernel_rows (256) and more rows than one block
// of rows (16), for every kernel type, against the formula evaluated here in double: the blocked kernel values must
// be those of one row and one vector at a time.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ops/nn_test_util.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using namespace nn_test;

double kernel(const std::string& type, const std::vector<float>& params, const double* x, const float* v,
              int64_t features) {
  double sum = 0;
  if (type == "RBF") {
    for (int64_t f = 0; f < features; ++f) sum += (x[f] - v[f]) * (x[f] - v[f]);
    return std::exp(-params[0] * sum);
  }
  for (int64_t f = 0; f < features; ++f) sum += x[f] * v[f];
  if (type == "POLY") return std::pow(params[0] * sum + params[1], params[2]);
  if (type == "SIGMOID") return std::tanh(params[0] * sum + params[1]);
  return sum;
}

TEST(SvmKernelRowsTest, EveryKernelOverBlocksOfVectorsAndRowsMatchesTheFormula) {
  constexpr int64_t kVectors = 300, kFeatures = 5, kRows = 37;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> vectors(kVectors * kFeatures), coefficients(kVectors), x(kRows * kFeatures);
  for (float& v : vectors) v = dist(rng);
  for (float& c : coefficients) c = dist(rng);
  for (float& v : x) v = dist(rng);
  const std::vector<float> params{0.3f, 0.5f, 3.0f};  // gamma, coef0, degree
  Tensor input(DType::kFloat, {kRows, kFeatures});
  std::copy(x.begin(), x.end(), input.data<float>());
  for (const char* type : {"LINEAR", "POLY", "RBF", "SIGMOID"}) {
    SCOPED_TRACE(type);
    const std::vector<Attribute> attrs{string_attr("kernel_type", type),
                                       floats_attr("kernel_params", params),
                                       floats_attr("support_vectors", vectors),
                                       floats_attr("coefficients", coefficients),
                                       floats_attr("rho", {0.25f}),
                                       int_attr("n_supports", kVectors)};
    const std::vector<double> got = values_of(run_op("SVMRegressor", 1, attrs, {input}, 1, nullptr, "ai.onnx.ml")[0]);
    ASSERT_EQ(got.size(), static_cast<size_t>(kRows));
    for (int64_t r = 0; r < kRows; ++r) {
      std::vector<double> row(x.begin() + r * kFeatures, x.begin() + (r + 1) * kFeatures);
      double want = 0.25;
      for (int64_t v = 0; v < kVectors; ++v)
        want += coefficients[v] * kernel(type, params, row.data(), vectors.data() + v * kFeatures, kFeatures);
      EXPECT_NEAR(got[r], want, 1e-5 * (1.0 + std::fabs(want))) << "row " << r;
    }
  }
}

}  // namespace
}  // namespace tessera
