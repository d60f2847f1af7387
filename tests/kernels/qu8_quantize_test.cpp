// qu8-quantize: every variant the CPU runs gives the bytes of the scalar definition (round half to even, then the
// zero point, then saturation), including ties, NaN, an all-zero array and odd lengths.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "kernels/qu8-quantize/qu8-quantize.h"
#include "quotient_test_values.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

uint8_t reference(float x, const DynamicQuantU8& q) {
  if (q.scale == 0) return q.zero_point;
  const float v = std::nearbyint(x / q.scale) + q.zero_point;
  if (std::isnan(v)) return 0;
  return static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
}

class Qu8QuantizeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!qu8_quantize_select_kernel(GetParam())) GTEST_SKIP() << GetParam() << " does not run on this CPU";
  }
  void TearDown() override { qu8_quantize_select_kernel(""); }
};

TEST_P(Qu8QuantizeTest, MatchesTheScalarDefinition) {
  std::mt19937 rng(7);
  for (int64_t n : {0, 1, 5, 15, 16, 17, 31, 33, 64, 70, 1000}) {
    for (float shift : {-1.0f, 0.0f, 0.7f}) {
      std::uniform_real_distribution<float> uniform(-3.0f + shift, 2.0f + shift);
      std::vector<float> x(static_cast<size_t>(n));
      for (float& v : x) v = uniform(rng);
      const DynamicQuantU8 q = dynamic_quant_u8_params(x.data(), n);
      float lo = 0, hi = 0;
      for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
      ASSERT_FLOAT_EQ(q.scale, (hi - lo) / 255.0f) << n;
      // Ties: exact multiples of half a step land on .5 and round to even.
      for (size_t i = 0; i < x.size(); i += 3) x[i] = q.scale * (static_cast<float>(i % 40) + 0.5f);
      std::vector<uint8_t> y(x.size() + 1, 0xAB);
      quantize_u8(x.data(), n, q, y.data());
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], reference(x[i], q)) << "n " << n << " element " << i;
      ASSERT_EQ(y[static_cast<size_t>(n)], 0xAB) << "wrote past the end";
    }
  }
}

// Scales from 2^-70 to 2^70 (inside and outside the range where the kernels divide by way of the reciprocal), x
// on and next to every half step, at random magnitudes up to the float maximum, infinities and NaN: the bytes of
// the division.
TEST_P(Qu8QuantizeTest, ReciprocalQuotientsMatchTheDivisionAcrossScales) {
  std::mt19937 rng(29);
  for (int round = 0; round < 300; ++round) {
    DynamicQuantU8 q;
    q.scale = testing::random_quotient_scale(rng);
    q.zero_point = static_cast<uint8_t>(rng() % 256);
    const std::vector<float> x = testing::quotient_test_values(q.scale, rng);
    std::vector<uint8_t> y(x.size());
    quantize_u8(x.data(), static_cast<int64_t>(x.size()), q, y.data());
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(y[i], reference(x[i], q)) << "x " << x[i] << " scale " << q.scale;
    }
  }
}

TEST_P(Qu8QuantizeTest, ZerosNaNAndSaturation) {
  std::vector<float> zeros(40, 0.0f);
  const DynamicQuantU8 zq = dynamic_quant_u8_params(zeros.data(), 40);
  EXPECT_EQ(zq.scale, 0.0f);
  EXPECT_EQ(zq.zero_point, 0);
  std::vector<float> x(40, 1.0f);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[20] = std::numeric_limits<float>::quiet_NaN();
  x[5] = -1.0f;
  const DynamicQuantU8 q = dynamic_quant_u8_params(x.data(), 40);  // NaN ignored: range [-1, 1]
  EXPECT_FLOAT_EQ(q.scale, 2.0f / 255.0f);
  EXPECT_EQ(q.zero_point, static_cast<uint8_t>(std::nearbyint(1.0f / q.scale)));
  x[7] = 100.0f;  // outside the range the scale came from: saturates
  x[8] = -100.0f;
  std::vector<uint8_t> y(40);
  quantize_u8(x.data(), 40, q, y.data());
  EXPECT_EQ(y[3], 0);
  EXPECT_EQ(y[20], 0);
  EXPECT_EQ(y[5], reference(-1.0f, q));
  EXPECT_EQ(y[7], 255);
  EXPECT_EQ(y[8], 0);
  EXPECT_EQ(y[0], reference(1.0f, q));
}

TEST_P(Qu8QuantizeTest, SplitOverAPoolGivesTheSameBytes) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-5.0f, 3.0f);
  std::vector<float> x(200003);
  for (float& v : x) v = uniform(rng);
  x[123456] = 9.0f;  // the maximum in a later chunk
  const DynamicQuantU8 serial = dynamic_quant_u8_params(x.data(), static_cast<int64_t>(x.size()));
  ThreadPool pool(2);
  const DynamicQuantU8 split = dynamic_quant_u8_params(x.data(), static_cast<int64_t>(x.size()), &pool);
  EXPECT_EQ(split.scale, serial.scale);
  EXPECT_EQ(split.zero_point, serial.zero_point);
  std::vector<uint8_t> a(x.size()), b(x.size());
  quantize_u8(x.data(), static_cast<int64_t>(x.size()), serial, a.data());
  quantize_u8(x.data(), static_cast<int64_t>(x.size()), serial, b.data(), &pool);
  EXPECT_EQ(a, b);
}

INSTANTIATE_TEST_SUITE_P(Variants, Qu8QuantizeTest,
                         ::testing::Values("qu8_quantize__portable", "qu8_quantize__avx2", "qu8_quantize__avx512"),
                         [](const auto& info) { return info.param.substr(std::string("qu8_quantize__").size()); });

}  // namespace
}  // namespace tessera
