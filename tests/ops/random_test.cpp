// Tests of ops/random: RandomUniform(Like), RandomNormal(Like), Bernoulli and Multinomial give the distributions
// the spec names (checked statistically on many draws, with bounds far outside chance), the requested types and
// shapes, reproducible sequences for a seed (a new kernel with the same seed draws the same values; one kernel
// draws new values on every run), and clear errors for bad attributes and inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "ir/graph_builder.h"
#include "nn_test_util.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using namespace nn_test;

std::vector<double> values_of(const Tensor& t) {
  std::vector<double> out;
  for (int64_t i = 0; i < t.element_count(); ++i) {
    if (t.dtype() == DType::kFloat)
      out.push_back(t.data<float>()[i]);
    else if (t.dtype() == DType::kDouble)
      out.push_back(t.data<double>()[i]);
    else if (t.dtype() == DType::kInt32)
      out.push_back(t.data<int32_t>()[i]);
    else if (t.dtype() == DType::kInt64)
      out.push_back(static_cast<double>(t.data<int64_t>()[i]));
    else
      ADD_FAILURE() << "unexpected type " << dtype_name(t.dtype());
  }
  return out;
}

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }
double variance_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double sum = 0.0;
  for (double x : v) sum += (x - m) * (x - m);
  return sum / (v.size() - 1);
}

constexpr int64_t kDraws = 200000;

TEST(RandomTest, UniformHasItsRangeMeanAndVariance) {
  const Tensor y = run_op("RandomUniform", 22,
                          {ints_attr("shape", {kDraws / 100, 100}), float_attr("low", -2.0f), float_attr("high", 4.0f),
                           float_attr("seed", 7.0f)},
                          {})[0];
  EXPECT_EQ(y.dtype(), DType::kFloat);
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{kDraws / 100, 100}));
  const std::vector<double> v = values_of(y);
  for (double x : v) ASSERT_TRUE(x >= -2.0 && x <= 4.0) << x;
  // Mean 1, variance 36 / 12 = 3; the standard error of the mean is sqrt(3 / 200000) ~ 0.004.
  EXPECT_NEAR(mean_of(v), 1.0, 0.03);
  EXPECT_NEAR(variance_of(v), 3.0, 0.05);
}

TEST(RandomTest, NormalHasItsMeanAndDeviationInDouble) {
  const Tensor y = run_op("RandomNormal", 22,
                          {ints_attr("shape", {kDraws}), float_attr("mean", 5.0f), float_attr("scale", 0.5f),
                           int_attr("dtype", 11), float_attr("seed", 3.0f)},
                          {})[0];
  EXPECT_EQ(y.dtype(), DType::kDouble);
  const std::vector<double> v = values_of(y);
  EXPECT_NEAR(mean_of(v), 5.0, 0.01);
  EXPECT_NEAR(std::sqrt(variance_of(v)), 0.5, 0.01);
  // About 95.4% within two deviations.
  const double inside = std::count_if(v.begin(), v.end(), [](double x) { return std::fabs(x - 5.0) < 1.0; });
  EXPECT_NEAR(inside / v.size(), 0.9545, 0.005);
}

TEST(RandomTest, LikeFormsTakeTheInputsShapeAndType) {
  const Tensor x(DType::kDouble, {3, 4, 5});
  const Tensor u = run_op("RandomUniformLike", 22, {float_attr("seed", 1.0f)}, {x})[0];
  EXPECT_EQ(u.dtype(), DType::kDouble);
  EXPECT_EQ(u.shape(), x.shape());
  const Tensor n = run_op("RandomNormalLike", 22, {int_attr("dtype", 1)}, {x})[0];
  EXPECT_EQ(n.dtype(), DType::kFloat);
  EXPECT_EQ(n.shape(), x.shape());
}

TEST(RandomTest, BernoulliFollowsEachElementsProbability) {
  // Half the elements with p = 0.2, half with p = 0.9; p = 0 and p = 1 are certain.
  std::vector<float> p(kDraws);
  for (int64_t i = 0; i < kDraws; ++i) p[static_cast<size_t>(i)] = i % 2 == 0 ? 0.2f : 0.9f;
  p[0] = 0.0f;
  p[1] = 1.0f;
  const Tensor y =
      run_op("Bernoulli", 22, {float_attr("seed", 11.0f)}, {Tensor::from_vector<float>(DType::kFloat, p)})[0];
  ASSERT_EQ(y.dtype(), DType::kFloat);
  double ones_low = 0, ones_high = 0;
  for (int64_t i = 2; i < kDraws; ++i) {
    const float v = y.data<float>()[i];
    ASSERT_TRUE(v == 0.0f || v == 1.0f) << v;
    (i % 2 == 0 ? ones_low : ones_high) += v;
  }
  EXPECT_EQ(y.data<float>()[0], 0.0f);
  EXPECT_EQ(y.data<float>()[1], 1.0f);
  EXPECT_NEAR(ones_low / (kDraws / 2 - 1), 0.2, 0.006);
  EXPECT_NEAR(ones_high / (kDraws / 2 - 1), 0.9, 0.006);
  const Tensor b =
      run_op("Bernoulli", 22, {int_attr("dtype", 9)}, {Tensor::from_vector<float>(DType::kFloat, {1.0f})})[0];
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_TRUE(b.data<bool>()[0]);
}

TEST(RandomTest, MultinomialSamplesTheSoftmaxOfEachRow) {
  // Row 0: log-probabilities of (0.1, 0.2, 0.7); row 1: all mass on class 2.
  const std::vector<float> logits = {std::log(0.1f), std::log(0.2f), std::log(0.7f), -1000.0f, -1000.0f, 0.0f};
  const Tensor x = Tensor::from_vector<float>(DType::kFloat, logits).reshaped({2, 3});
  const Tensor y = run_op("Multinomial", 22,
                          {int_attr("sample_size", kDraws), int_attr("dtype", 7), float_attr("seed", 5.0f)}, {x})[0];
  ASSERT_EQ(y.dtype(), DType::kInt64);
  ASSERT_EQ(y.shape(), (std::vector<int64_t>{2, kDraws}));
  std::vector<double> counts(3, 0.0);
  for (int64_t i = 0; i < kDraws; ++i) counts[static_cast<size_t>(y.data<int64_t>()[i])] += 1.0;
  EXPECT_NEAR(counts[0] / kDraws, 0.1, 0.005);
  EXPECT_NEAR(counts[1] / kDraws, 0.2, 0.005);
  EXPECT_NEAR(counts[2] / kDraws, 0.7, 0.005);
  for (int64_t i = kDraws; i < 2 * kDraws; ++i) ASSERT_EQ(y.data<int64_t>()[i], 2);
}

TEST(RandomTest, SeedsReproduceAndRunsAdvance) {
  const std::vector<Attribute> seeded = {ints_attr("shape", {16}), float_attr("seed", 42.0f)};
  const std::vector<double> first = values_of(run_op("RandomUniform", 22, seeded, {})[0]);
  EXPECT_EQ(values_of(run_op("RandomUniform", 22, seeded, {})[0]), first);
  const std::vector<double> other =
      values_of(run_op("RandomUniform", 22, {ints_attr("shape", {16}), float_attr("seed", 43.0f)}, {})[0]);
  EXPECT_NE(other, first);
  // One session draws anew on every run (its node's generator advances), the same sequence for the same seed.
  const auto model = [] {
    return GraphBuilder(22)
        .node("RandomNormal", {}, {"y"})
        .attr_ints("shape", {8})
        .attr_float("seed", 9.0f)
        .output("y")
        .build();
  };
  Session a(model()), b(model());
  const std::vector<double> a1 = values_of(a.run({})[0].tensor()), a2 = values_of(a.run({})[0].tensor());
  EXPECT_NE(a1, a2);
  EXPECT_EQ(values_of(b.run({})[0].tensor()), a1);
  EXPECT_EQ(values_of(b.run({})[0].tensor()), a2);
}

TEST(RandomTest, BadAttributesAndInputsAreClearErrors) {
  EXPECT_EQ(error_code_of([] { run_op("RandomUniform", 22, {}, {}); }), ErrorCode::kInvalidModel);
  EXPECT_EQ(
      error_code_of([] {
        run_op("RandomUniform", 22, {ints_attr("shape", {2}), float_attr("low", 3.0f), float_attr("high", 1.0f)}, {});
      }),
      ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([] {
              run_op("RandomNormal", 22, {ints_attr("shape", {2}), int_attr("dtype", 6)}, {});
            }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([] {
              run_op("Multinomial", 22, {int_attr("sample_size", 0)}, {Tensor(DType::kFloat, {1, 2})});
            }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([] { run_op("Multinomial", 22, {}, {Tensor(DType::kFloat, {4})}); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([] {
              run_op("Bernoulli", 22, {}, {Tensor::from_vector<float>(DType::kFloat, {0.5f, 1.5f})});
            }),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
