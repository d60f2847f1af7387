// q8-binary: every variant the CPU runs gives the bytes of the unfused definition (dequantize each input in float,
// add or multiply, divide by the output scale, round half to even, add the zero point, saturate) on odd lengths,
// int8 and uint8, with saturating scales.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/q8-binary/q8-binary.h"

namespace tessera {
namespace {

template <typename T>
T reference(bool multiply, T x, T y, const Q8BinaryParams& p) {
  const float fx = (static_cast<float>(x) - p.a_zero_point) * p.a_scale;
  const float fy = (static_cast<float>(y) - p.b_zero_point) * p.b_scale;
  const float v = multiply ? fx * fy : fx + fy;
  const float lo = std::is_signed_v<T> ? -128.0f : 0.0f, hi = std::is_signed_v<T> ? 127.0f : 255.0f;
  return static_cast<T>(std::clamp(std::nearbyint(v / p.c_scale) + p.c_zero_point, lo, hi));
}

template <typename T>
void check_variant(bool multiply) {
  std::mt19937 rng(11);
  for (int64_t n : {0, 1, 7, 15, 16, 17, 33, 64, 100, 1000}) {
    for (const Q8BinaryParams& p : {Q8BinaryParams{0.05f, 3, 0.031f, -2, 0.07f, 5},
                                    Q8BinaryParams{0.5f, 0, 0.5f, 0, 0.01f, 0}}) {  // the second saturates
      std::vector<T> a(static_cast<size_t>(n)), b(a.size()), c(a.size() + 1, T(77));
      for (size_t i = 0; i < a.size(); ++i) {
        a[i] = static_cast<T>(rng() % 256);
        b[i] = static_cast<T>(rng() % 256);
      }
      q8_binary_elementwise(multiply, std::is_signed_v<T>, a.data(), b.data(), n, p, c.data());
      for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(c[i], reference<T>(multiply, a[i], b[i], p)) << "n " << n << " element " << i;
      }
      ASSERT_EQ(c.back(), T(77)) << "wrote past the end";
    }
  }
}

// Every pair of bytes, with scales whose quotients fall on or next to half-integers often (the output scale's
// reciprocal inexact), and scales beyond the range where the kernels take the reciprocal (they divide there).
template <typename T>
void check_every_pair(bool multiply) {
  std::vector<T> a(256 * 256), b(a.size()), c(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<T>(i / 256);
    b[i] = static_cast<T>(i % 256);
  }
  for (const Q8BinaryParams& p :
       {Q8BinaryParams{0.05f, 0, 0.05f, 0, 0.1f, 0}, Q8BinaryParams{0.05f, 0, 0.05f, 0, 0.15f, 1},
        Q8BinaryParams{0.03f, 1, 0.07f, -3, 0.09f, 2}, Q8BinaryParams{0.5f, 0, 0.25f, 0, 0.3f, 0},
        Q8BinaryParams{0.1f, 0, 0.1f, 0, 0.7f, 0}, Q8BinaryParams{0.02f, 0, 0.02f, 0, 3e-39f, 0},
        Q8BinaryParams{1e20f, 0, 1e20f, 0, 1e-20f, 0}, Q8BinaryParams{0x1p-61f, 0, 0x1p-61f, 0, 0x1p-61f * 3, 0},
        Q8BinaryParams{0.05f, 0, 0.05f, 0, 0.1f, 2.5f}}) {  // a non-integer output zero point: the float path
    q8_binary_elementwise(multiply, std::is_signed_v<T>, a.data(), b.data(), static_cast<int64_t>(a.size()), p,
                          c.data());
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(c[i], reference<T>(multiply, a[i], b[i], p))
          << "a " << +a[i] << " b " << +b[i] << " output scale " << p.c_scale;
    }
  }
}

// Every pair of bytes under 200 random parameter sets (scales from 1e-4 to 10, zero points across the type): the
// reciprocal-and-correction quotient of the AVX2 and AVX-512 variants against the division, bit for bit.
template <typename T>
void check_random_parameters(bool multiply) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> log_scale(-4.0f, 1.0f);
  const auto scale = [&] { return std::pow(10.0f, log_scale(rng)); };
  const auto zero_point = [&] {
    return static_cast<float>(std::is_signed_v<T> ? int(rng() % 256) - 128 : int(rng() % 256));
  };
  std::vector<T> a(256 * 256), b(a.size()), c(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<T>(i / 256);
    b[i] = static_cast<T>(i % 256);
  }
  for (int set = 0; set < 200; ++set) {
    const Q8BinaryParams p{scale(), zero_point(), scale(), zero_point(), scale(), zero_point()};
    q8_binary_elementwise(multiply, std::is_signed_v<T>, a.data(), b.data(), static_cast<int64_t>(a.size()), p,
                          c.data());
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(c[i], reference<T>(multiply, a[i], b[i], p))
          << "a " << +a[i] << " b " << +b[i] << " scales " << p.a_scale << " " << p.b_scale << " " << p.c_scale;
    }
  }
}

class Q8BinaryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!q8_binary_select_kernel(GetParam())) GTEST_SKIP() << GetParam() << " does not run on this CPU";
  }
  void TearDown() override { q8_binary_select_kernel(""); }
};

TEST_P(Q8BinaryTest, AddAndMulMatchTheUnfusedDefinition) {
  for (const bool multiply : {false, true}) {
    check_variant<int8_t>(multiply);
    check_variant<uint8_t>(multiply);
  }
}

TEST_P(Q8BinaryTest, EveryPairOfBytesNearHalfIntegerQuotients) {
  for (const bool multiply : {false, true}) {
    check_every_pair<int8_t>(multiply);
    check_every_pair<uint8_t>(multiply);
  }
}

TEST_P(Q8BinaryTest, EveryPairOfBytesUnderRandomParameters) {
  for (const bool multiply : {false, true}) {
    check_random_parameters<int8_t>(multiply);
    check_random_parameters<uint8_t>(multiply);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, Q8BinaryTest,
                         ::testing::Values("q8_binary__portable", "q8_binary__avx2", "q8_binary__avx512"),
                         [](const auto& info) { return info.param.substr(std::string("q8_binary__").size()); });

}  // namespace
}  // namespace tessera
