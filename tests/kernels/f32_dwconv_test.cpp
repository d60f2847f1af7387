// Tests of kernels/f32-dwconv: every variant this CPU can run against a direct double-precision loop, over
// strides, dilations, paddings, kernel sizes and odd widths (row tails shorter than one block), and the clamp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/f32-dwconv/f32-dwconv.h"
#include "random_window.h"

namespace tessera {
namespace {

std::vector<float> reference(const DwConv2dF32Params& p, const std::vector<float>& x, const std::vector<float>& w,
                             float bias) {
  std::vector<float> y(static_cast<size_t>(p.out_h * p.out_w));
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      double sum = bias;
      for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
        for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
          const int64_t ih = oh * p.stride_h + kh * p.dilation_h - p.pad_top;
          const int64_t iw = ow * p.stride_w + kw * p.dilation_w - p.pad_left;
          if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
          sum += static_cast<double>(w[static_cast<size_t>(kh * p.kernel_w + kw)]) *
                 x[static_cast<size_t>(ih * p.in_w + iw)];
        }
      }
      y[static_cast<size_t>(oh * p.out_w + ow)] =
          std::min(std::max(static_cast<float>(sum), p.output_min), p.output_max);
    }
  }
  return y;
}

class DwConvVariant : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const auto names = dwconv2d_f32_kernel_names();
    if (std::find(names.begin(), names.end(), GetParam()) == names.end()) {
      GTEST_SKIP() << GetParam() << " cannot run on this CPU";
    }
    ASSERT_TRUE(dwconv2d_f32_select_kernel(GetParam()));
  }
  void TearDown() override { dwconv2d_f32_select_kernel(""); }
};

TEST_P(DwConvVariant, MatchesDirectLoop) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (int iteration = 0; iteration < 120; ++iteration) {
    DwConv2dF32Params p;
    if (!random_window(rng, p, 20, 40, 5)) continue;
    if (iteration % 3 == 0) {
      p.output_min = 0.0f;
      p.output_max = 0.5f;
    }
    std::vector<float> x(static_cast<size_t>(p.in_h * p.in_w)), w(static_cast<size_t>(p.kernel_h * p.kernel_w));
    for (float& v : x) v = uniform(rng);
    for (float& v : w) v = uniform(rng);
    const float bias = uniform(rng);
    std::vector<float> scratch(static_cast<size_t>(dwconv2d_f32_scratch_floats(p)));
    std::vector<float> y(static_cast<size_t>(p.out_h * p.out_w), std::nanf(""));
    dwconv2d_f32(p, x.data(), w.data(), bias, y.data(), scratch.data());
    const std::vector<float> expected = reference(p, x, w, bias);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_NEAR(y[i], expected[i], 1e-5)
          << "iteration " << iteration << " element " << i << " in " << p.in_h << "x" << p.in_w << " k " << p.kernel_h
          << "x" << p.kernel_w << " s " << p.stride_h << "x" << p.stride_w << " on " << GetParam();
    }
  }
}

TEST_P(DwConvVariant, ChannelsSideBySideMatchDirectLoop) {
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  int checked = 0;
  for (int iteration = 0; iteration < 80; ++iteration) {
    DwConv2dF32Params p;
    // Even iterations take the unrolled 3x3 path, odd ones the generic one.
    if (!random_window(rng, p, 16, 16, 4, iteration % 2 == 0 ? 3 : 0)) continue;
    if (iteration % 3 == 0) {
      p.output_min = 0.0f;
      p.output_max = 0.5f;
    }
    const int64_t count = 1 + static_cast<int64_t>(rng() % 40), taps = p.kernel_h * p.kernel_w;
    std::vector<float> x(static_cast<size_t>(count * p.in_h * p.in_w)), w(static_cast<size_t>(count * taps));
    std::vector<float> bias(static_cast<size_t>(count));
    for (float& v : x) v = uniform(rng);
    for (float& v : w) v = uniform(rng);
    for (float& v : bias) v = uniform(rng);
    // Channels in reverse order of their planes: the kernel must follow the plane pointers, not assume a stride.
    std::vector<const float*> planes(static_cast<size_t>(count));
    for (int64_t c = 0; c < count; ++c) planes[static_cast<size_t>(c)] = x.data() + (count - 1 - c) * p.in_h * p.in_w;
    std::vector<float> scratch(static_cast<size_t>(dwconv2d_f32_channels_scratch_floats(p)));
    const int64_t size = p.out_h * p.out_w;
    std::vector<float> y(static_cast<size_t>(count * size), std::nanf(""));
    const bool with_bias = iteration % 4 != 1;
    dwconv2d_f32_channels(p, count, planes.data(), w.data(), with_bias ? bias.data() : nullptr, y.data(),
                          scratch.data());
    for (int64_t c = 0; c < count; ++c) {
      const std::vector<float> plane(planes[static_cast<size_t>(c)], planes[static_cast<size_t>(c)] + p.in_h * p.in_w);
      const std::vector<float> kernel(w.begin() + c * taps, w.begin() + (c + 1) * taps);
      const std::vector<float> expected = reference(p, plane, kernel, with_bias ? bias[static_cast<size_t>(c)] : 0.0f);
      for (int64_t i = 0; i < size; ++i) {
        ASSERT_NEAR(y[static_cast<size_t>(c * size + i)], expected[static_cast<size_t>(i)], 1e-5)
            << "iteration " << iteration << " channel " << c << " of " << count << " element " << i << " in " << p.in_h
            << "x" << p.in_w << " k " << p.kernel_h << "x" << p.kernel_w << " s " << p.stride_h << "x" << p.stride_w
            << " on " << GetParam();
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 50);
}

INSTANTIATE_TEST_SUITE_P(AllVariants, DwConvVariant,
                         ::testing::Values("f32_dwconv__avx512", "f32_dwconv__avx2", "f32_dwconv__portable"),
                         [](const auto& info) { return std::string(info.param).substr(12); });

}  // namespace
}  // namespace tessera
