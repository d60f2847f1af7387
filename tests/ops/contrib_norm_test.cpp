// com.microsoft SkipSimplifiedLayerNormalization, QuickGelu and ONNX Runtime's SimplifiedLayerNormalization
// (ai.onnx domain, version 1) against naive references written from ONNX Runtime's ContribOperators definitions.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/nn_test_util.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

constexpr const char* kMs = "com.microsoft";

// Naive RMS rows: y = s / sqrt(mean(s^2) + eps) * gamma over rows of `row` values; inv gets each row's factor.
std::vector<double> rms_rows(const std::vector<double>& s, const std::vector<double>& gamma, int64_t row, double eps,
                             std::vector<double>* inv) {
  std::vector<double> y(s.size());
  for (size_t r = 0; r * row < s.size(); ++r) {
    double sq = 0;
    for (int64_t i = 0; i < row; ++i) sq += s[r * row + i] * s[r * row + i];
    const double f = 1.0 / std::sqrt(sq / static_cast<double>(row) + eps);
    if (inv) inv->push_back(f);
    for (int64_t i = 0; i < row; ++i) y[r * row + i] = s[r * row + i] * f * gamma[i % gamma.size()];
  }
  return y;
}

TEST(SkipSimplifiedLayerNormTest, BiasBroadcastSkipAndAllOutputs) {
  const int64_t batch = 2, seq = 3, hidden = 37;  // odd hidden: the 16-lane loop has a tail
  const Tensor x = random_float({batch, seq, hidden}, 1), skip = random_float({seq, hidden}, 2);
  const Tensor gamma = random_float({hidden}, 3), bias = random_float({hidden}, 4);
  const std::vector<Tensor> r = run_op("SkipSimplifiedLayerNormalization", 1, {float_attr("epsilon", 1e-3f)},
                                       {x, skip, gamma, bias}, 4, nullptr, kMs);
  const std::vector<double> xv = values_of(x), sv = values_of(skip), bv = values_of(bias);
  std::vector<double> sum(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) sum[i] = xv[i] + sv[i % sv.size()] + bv[i % hidden];
  std::vector<double> inv;
  const std::vector<double> y = rms_rows(sum, values_of(gamma), hidden, 1e-3, &inv);
  expect_close(r[0], y, {batch, seq, hidden});
  expect_close(r[1], std::vector<double>(batch * seq, 0.0), {batch, seq, 1});  // ONNX Runtime writes zeros
  expect_close(r[2], inv, {batch, seq, 1});
  expect_close(r[3], sum, {batch, seq, hidden});
}

TEST(SkipSimplifiedLayerNormTest, RejectsBadShapes) {
  const Tensor x = random_float({2, 4, 8}, 5), skip = random_float({2, 4, 8}, 6);
  EXPECT_EQ(error_code_of([&] {
              run_op("SkipSimplifiedLayerNormalization", 1, {}, {x, skip, random_float({7}, 7)}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("SkipSimplifiedLayerNormalization", 1, {}, {x, random_float({3, 8}, 8), random_float({8}, 9)}, 1,
                     nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("SkipSimplifiedLayerNormalization", 1, {float_attr("epsilon", -1.0f)},
                     {x, skip, random_float({8}, 10)}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidModel);
}

TEST(SkipLayerNormTest, StillCentersAndUsesBeta) {
  const int64_t hidden = 19;
  const Tensor x = random_float({3, hidden}, 11), skip = random_float({3, hidden}, 12);
  const Tensor gamma = random_float({hidden}, 13), beta = random_float({hidden}, 14);
  const std::vector<Tensor> r = run_op("SkipLayerNormalization", 1, {}, {x, skip, gamma, beta}, 1, nullptr, kMs);
  const std::vector<double> xv = values_of(x), sv = values_of(skip), g = values_of(gamma), b = values_of(beta);
  std::vector<double> y(xv.size());
  for (int64_t row = 0; row < 3; ++row) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < hidden; ++i) mean += xv[row * hidden + i] + sv[row * hidden + i];
    mean /= hidden;
    for (int64_t i = 0; i < hidden; ++i) var += std::pow(xv[row * hidden + i] + sv[row * hidden + i] - mean, 2);
    const double inv = 1.0 / std::sqrt(var / hidden + 1e-12);
    for (int64_t i = 0; i < hidden; ++i)
      y[row * hidden + i] = (xv[row * hidden + i] + sv[row * hidden + i] - mean) * inv * g[i] + b[i];
  }
  expect_close(r[0], y, {3, hidden});
}

TEST(SimplifiedLayerNormTest, AxisAndInvStdVarOutput) {
  const Tensor x = random_float({2, 3, 5}, 21), scale = random_float({3, 5}, 22);
  const std::vector<Tensor> r =
      run_op("SimplifiedLayerNormalization", 1, {int_attr("axis", 1), float_attr("epsilon", 1e-5f)}, {x, scale}, 2);
  std::vector<double> inv;
  const std::vector<double> y = rms_rows(values_of(x), values_of(scale), 15, 1e-5, &inv);
  expect_close(r[0], y, {2, 3, 5});
  expect_close(r[1], inv, {2, 1, 1});
}

TEST(QuickGeluTest, MatchesDefinitionWithAndWithoutAlpha) {
  Tensor x = random_float({4, 33}, 31, -8.0f, 8.0f);
  x.data<float>()[0] = 200.0f;  // exp would overflow in the naive form
  x.data<float>()[1] = -200.0f;
  for (float alpha : {1.702f, 0.5f}) {
    const std::vector<Attribute> attrs =
        alpha == 1.702f ? std::vector<Attribute>{} : std::vector<Attribute>{float_attr("alpha", alpha)};
    const std::vector<Tensor> r = run_op("QuickGelu", 1, attrs, {x}, 1, nullptr, kMs);
    std::vector<double> y;
    for (double v : values_of(x)) y.push_back(v / (1.0 + std::exp(-static_cast<double>(alpha) * v)));
    expect_close(r[0], y, {4, 33}, 1e-5, 1e-6);
  }
  EXPECT_EQ(error_code_of([&] { run_op("QuickGelu", 1, {}, {to_dtype(x, DType::kDouble)}, 1, nullptr, kMs); }),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
