// Tests of kernels/f32-vexact: every variant this CPU can run (the others are reported as skipped) gives exactly the
// bits of plain scalar code, for every op, both operand strides, odd lengths (vector tails), in-place use, and
// NaN, infinities, signed zeros and denormals in the data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernel_variant_test.h"
#include "kernels/f32-vexact/f32-vexact.h"

namespace tessera {
namespace {

std::vector<float> test_values(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-100.0f, 100.0f);
  std::vector<float> v(n);
  for (float& x : v) x = uniform(rng);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 0.0f, -0.0f, 1e-40f, -1e-40f};
  for (size_t i = 0; i < std::size(specials) && i * 7 < n; ++i) v[i * 7] = specials[i];
  return v;
}

float binary_reference(VBinaryOpF32 op, float a, float b) {
  switch (op) {
    case VBinaryOpF32::kAdd: return a + b;
    case VBinaryOpF32::kSub: return a - b;
    case VBinaryOpF32::kMul: return a * b;
    case VBinaryOpF32::kDiv: return a / b;
  }
  return 0.0f;
}

float unary_reference(VExactUnaryOpF32 op, float alpha, float x) {
  switch (op) {
    case VExactUnaryOpF32::kRelu: return x < 0.0f ? 0.0f : x;
    case VExactUnaryOpF32::kLeakyRelu: return x < 0.0f ? alpha * x : x;
    case VExactUnaryOpF32::kAbs: return std::fabs(x);
    case VExactUnaryOpF32::kNeg: return -x;
    case VExactUnaryOpF32::kReciprocal: return 1.0f / x;
  }
  return 0.0f;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

class VExactVariant : public KernelVariantTest<vexact_f32_kernel_names, vexact_f32_select_kernel> {};

TEST_P(VExactVariant, BinaryOpsGiveTheScalarBits) {
  const size_t n = 1003;
  const std::vector<float> a = test_values(n, 1), b = test_values(n, 2);
  for (VBinaryOpF32 op : {VBinaryOpF32::kAdd, VBinaryOpF32::kSub, VBinaryOpF32::kMul, VBinaryOpF32::kDiv}) {
    for (int64_t sa : {0, 1}) {
      for (int64_t sb : {0, 1}) {
        std::vector<float> y(n);
        vbinary_f32(op, a.data() + 3, sa, b.data() + 5, sb, y.data(), static_cast<int64_t>(n - 5));
        for (size_t i = 0; i + 5 < n; ++i) {
          const float want = binary_reference(op, a[3 + i * sa], b[5 + i * sb]);
          ASSERT_TRUE(same_bits(y[i], want) || (std::isnan(y[i]) && std::isnan(want)))
              << "op " << static_cast<int>(op) << " strides " << sa << sb << " element " << i;
        }
      }
    }
    // In place: y is a.
    std::vector<float> y = a;
    vbinary_f32(op, y.data(), 1, b.data(), 1, y.data(), static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) {
      const float want = binary_reference(op, a[i], b[i]);
      ASSERT_TRUE(same_bits(y[i], want) || (std::isnan(y[i]) && std::isnan(want))) << "in place, element " << i;
    }
  }
}

TEST_P(VExactVariant, UnaryOpsGiveTheScalarBits) {
  const size_t n = 517;
  const std::vector<float> x = test_values(n, 3);
  for (VExactUnaryOpF32 op : {VExactUnaryOpF32::kRelu, VExactUnaryOpF32::kLeakyRelu, VExactUnaryOpF32::kAbs,
                              VExactUnaryOpF32::kNeg, VExactUnaryOpF32::kReciprocal}) {
    std::vector<float> y = x;
    vexact_unary_f32(op, 0.3f, y.data(), y.data(), static_cast<int64_t>(n));  // in place
    for (size_t i = 0; i < n; ++i) {
      const float want = unary_reference(op, 0.3f, x[i]);
      ASSERT_TRUE(same_bits(y[i], want) || (std::isnan(y[i]) && std::isnan(want)))
          << "op " << static_cast<int>(op) << " element " << i << " x " << x[i];
    }
  }
  // Relu passes NaN through.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  float r = 0.0f;
  vexact_unary_f32(VExactUnaryOpF32::kRelu, 0.0f, &nan, &r, 1);
  EXPECT_TRUE(std::isnan(r));
}

INSTANTIATE_TEST_SUITE_P(Variants, VExactVariant,
                         ::testing::Values("f32_vexact__portable", "f32_vexact__avx2", "f32_vexact__avx512"));

}  // namespace
}  // namespace tessera
