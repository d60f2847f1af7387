// Tests of kernels/f32-vunary: every variant this CPU can run (variants it cannot run are reported as skipped)
// against double-precision libm on a sweep of values that covers each formula's branches, odd lengths (vector
// tails), in-place use, and NaN / infinity handling.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernel_variant_test.h"
#include "kernels/f32-vunary/f32-vunary.h"

namespace tessera {
namespace {

double reference(VUnaryOpF32 op, double x) {
  switch (op) {
    case VUnaryOpF32::kExp:
      return std::exp(x);
    case VUnaryOpF32::kErf:
      return std::erf(x);
    case VUnaryOpF32::kTanh:
      return std::tanh(x);
    case VUnaryOpF32::kSigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case VUnaryOpF32::kGeluErf:
      return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case VUnaryOpF32::kGeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return 0.0;
}

const char* op_name(VUnaryOpF32 op) {
  static const char* names[] = {"exp", "erf", "tanh", "sigmoid", "gelu_erf", "gelu_tanh"};
  return names[static_cast<int>(op)];
}

constexpr VUnaryOpF32 kAllOps[] = {VUnaryOpF32::kExp,     VUnaryOpF32::kErf,     VUnaryOpF32::kTanh,
                                   VUnaryOpF32::kSigmoid, VUnaryOpF32::kGeluErf, VUnaryOpF32::kGeluTanh};

class VUnaryVariant : public KernelVariantTest<vunary_f32_kernel_names, vunary_f32_select_kernel> {};

TEST_P(VUnaryVariant, MatchesLibmOverTheRange) {
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 0.0137f) x.push_back(v);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> wide(-90.0f, 90.0f);
  for (int i = 0; i < 1001; ++i) x.push_back(wide(rng));  // odd total length: vector tails run too
  for (VUnaryOpF32 op : kAllOps) {
    std::vector<float> y(x.size());
    vunary_f32(op, x.data(), y.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      const double expected = reference(op, x[i]);
      if (op == VUnaryOpF32::kExp && (x[i] < -86.9f || x[i] > 88.7f)) continue;  // documented flush / overflow
      // Relative 2e-6, plus the rounding of an exp argument near -x^2 (about x^2 ulp), which grows in the tails.
      const double relative = 2e-6 + 2e-7 * static_cast<double>(x[i]) * x[i];
      const double tolerance = relative * std::fabs(expected) + 1e-37 + (op == VUnaryOpF32::kGeluTanh ? 1e-6 : 0.0);
      ASSERT_NEAR(y[i], expected, tolerance) << op_name(op) << "(" << x[i] << ") on " << GetParam();
    }
  }
}

TEST_P(VUnaryVariant, InPlaceAndSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  for (VUnaryOpF32 op : kAllOps) {
    std::vector<float> v = {std::nanf(""), 0.25f, -0.25f};
    const std::vector<float> copy = v;
    vunary_f32(op, v.data(), v.data(), 3);
    EXPECT_TRUE(std::isnan(v[0])) << op_name(op);
    EXPECT_NEAR(v[1], reference(op, copy[1]), 1e-6) << op_name(op);
    EXPECT_NEAR(v[2], reference(op, copy[2]), 1e-6) << op_name(op);
  }
  std::vector<float> big = {inf, -inf, 100.0f, -100.0f};
  std::vector<float> y(4);
  vunary_f32(VUnaryOpF32::kExp, big.data(), y.data(), 4);
  EXPECT_EQ(y, (std::vector<float>{inf, 0.0f, inf, 0.0f}));
  vunary_f32(VUnaryOpF32::kTanh, big.data(), y.data(), 4);
  EXPECT_EQ(y, (std::vector<float>{1.0f, -1.0f, 1.0f, -1.0f}));
  vunary_f32(VUnaryOpF32::kErf, big.data(), y.data(), 4);
  EXPECT_EQ(y, (std::vector<float>{1.0f, -1.0f, 1.0f, -1.0f}));
}

INSTANTIATE_TEST_SUITE_P(AllVariants, VUnaryVariant,
                         ::testing::Values("f32_vunary__avx512", "f32_vunary__avx2", "f32_vunary__portable"),
                         [](const auto& info) { return std::string(info.param).substr(12); });

TEST(VUnary, CpuidChoiceIsFirst) {
  const auto names = vunary_f32_kernel_names();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), vunary_f32_kernel_name());
  EXPECT_FALSE(vunary_f32_select_kernel("no_such_kernel"));
}

}  // namespace
}  // namespace tessera
