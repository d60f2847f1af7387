// Tests of kernels/f32-maxpool: every variant this CPU can run against a direct loop, over strides (1, 2 and the
// general path), dilations, paddings, ceil-mode windows past the input, windows entirely in the padding, odd
// widths (register tails) and NaN propagation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernel_variant_test.h"
#include "kernels/f32-maxpool/f32-maxpool.h"
#include "random_window.h"

namespace tessera {
namespace {

std::vector<float> reference(const MaxPool2dF32Params& p, const std::vector<float>& x) {
  std::vector<float> y(static_cast<size_t>(p.out_h * p.out_w));
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      float best = -std::numeric_limits<float>::infinity();
      for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
        for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
          const int64_t ih = oh * p.stride_h + kh * p.dilation_h - p.pad_top;
          const int64_t iw = ow * p.stride_w + kw * p.dilation_w - p.pad_left;
          if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
          const float v = x[static_cast<size_t>(ih * p.in_w + iw)];
          if (v > best || std::isnan(v)) best = std::isnan(best) ? best : v;
        }
      }
      y[static_cast<size_t>(oh * p.out_w + ow)] = best;
    }
  }
  return y;
}

class MaxPoolVariant : public KernelVariantTest<maxpool2d_f32_kernel_names, maxpool2d_f32_select_kernel> {};

TEST_P(MaxPoolVariant, MatchesDirectLoop) {
  std::mt19937 rng(23);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  int checked = 0;
  for (int iteration = 0; iteration < 300; ++iteration) {
    MaxPool2dF32Params p;
    // Every other case rounds up (ceil mode): the last window may hang past the padding.
    if (!random_window(rng, p, 20, 70, 4, 0, 3, iteration % 2 == 1)) continue;
    std::vector<float> x(static_cast<size_t>(p.in_h * p.in_w));
    for (float& v : x) v = uniform(rng);
    if (iteration % 5 == 0) x[rng() % x.size()] = std::nanf("");
    std::vector<float> scratch(static_cast<size_t>(maxpool2d_f32_scratch_floats(p)));
    std::vector<float> y(static_cast<size_t>(p.out_h * p.out_w), 42.0f);
    maxpool2d_f32(p, x.data(), y.data(), scratch.data());
    const std::vector<float> expected = reference(p, x);
    for (size_t i = 0; i < y.size(); ++i) {
      const bool same = std::isnan(expected[i]) ? std::isnan(y[i]) : y[i] == expected[i];
      ASSERT_TRUE(same) << "iteration " << iteration << " element " << i << ": " << y[i] << " vs " << expected[i]
                        << " in " << p.in_h << "x" << p.in_w << " k " << p.kernel_h << "x" << p.kernel_w << " s "
                        << p.stride_h << "x" << p.stride_w << " d " << p.dilation_h << "x" << p.dilation_w << " pads "
                        << p.pad_top << "," << p.pad_left << " on " << GetParam();
    }
    ++checked;
  }
  EXPECT_GT(checked, 200);
}

// Many channels per call (maxpool2d_f32_channels): every plane of a block, full and partial blocks, against the
// direct loop per plane; the outputs of planes past `count` and the gaps between planes stay untouched.
TEST_P(MaxPoolVariant, ChannelBlocksMatchDirectLoop) {
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  int checked = 0;
  for (int iteration = 0; iteration < 120; ++iteration) {
    MaxPool2dF32Params p;
    if (!random_window(rng, p, 5, 30, 4, 0, 3, iteration % 2 == 1)) continue;
    const int64_t count =
        iteration % 3 == 0 ? 1 + static_cast<int64_t>(rng() % kMaxPoolChannelBlock) : kMaxPoolChannelBlock;
    const int64_t in_size = p.in_h * p.in_w, out_size = p.out_h * p.out_w;
    const int64_t x_plane = in_size + 3, y_plane = out_size + 5;  // gaps between the planes
    std::vector<float> x(static_cast<size_t>(count * x_plane));
    for (float& v : x) v = uniform(rng);
    if (iteration % 4 == 0) x[rng() % x.size()] = std::nanf("");
    std::vector<float> y(static_cast<size_t>(kMaxPoolChannelBlock * y_plane), 42.0f);
    std::vector<float> scratch(static_cast<size_t>(maxpool2d_f32_channels_scratch_floats(p)), 7.0f);
    maxpool2d_f32_channels(p, count, x.data(), x_plane, y.data(), y_plane, scratch.data());
    for (int64_t c = 0; c < kMaxPoolChannelBlock; ++c) {
      const std::vector<float> plane(x.begin() + std::min(c, count - 1) * x_plane,
                                     x.begin() + std::min(c, count - 1) * x_plane + in_size);
      const std::vector<float> expected = reference(p, plane);
      for (int64_t i = 0; i < y_plane; ++i) {
        const float got = y[static_cast<size_t>(c * y_plane + i)];
        if (c >= count || i >= out_size) {
          ASSERT_EQ(got, 42.0f) << "written outside: plane " << c << " element " << i << " on " << GetParam();
          continue;
        }
        const float e = expected[static_cast<size_t>(i)];
        ASSERT_TRUE(std::isnan(e) ? std::isnan(got) : got == e)
            << "iteration " << iteration << " plane " << c << " element " << i << ": " << got << " vs " << e << " on "
            << GetParam();
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 60);
}

INSTANTIATE_TEST_SUITE_P(AllVariants, MaxPoolVariant,
                         ::testing::Values("f32_maxpool__avx512", "f32_maxpool__avx2", "f32_maxpool__portable"),
                         [](const auto& info) { return std::string(info.param).substr(13); });

}  // namespace
}  // namespace tessera
