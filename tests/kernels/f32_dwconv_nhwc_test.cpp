// Tests of kernels/f32-dwconv-nhwc: every variant this CPU can run against a direct double-precision loop, on
// MobileNetV2's 3x3 geometries (stride 1 and 2, pad 1) over plane sizes and channel counts that leave register
// tails, on other kernels, dilations, strides and asymmetric pads, with and without bias and sum, with a clamp; on
// sub-ranges of rows and channels (nothing outside written); and NaN through the clamp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernel_variant_test.h"
#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc.h"
#include "random_window.h"

namespace tessera {
namespace {

// What every output not written must still hold.
constexpr float kUntouched = -12345.0f;

// y = clamp(bias + sum + taps), in double, rounded once (NaN passes through the clamp).
std::vector<float> reference(const DwConvNhwcF32Params& p, const std::vector<float>& x, const std::vector<float>& w,
                             const float* bias, const float* sum) {
  const int64_t c_count = p.channels;
  std::vector<float> y(static_cast<size_t>(p.out_h * p.out_w * c_count));
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      for (int64_t c = 0; c < c_count; ++c) {
        const int64_t out = (oh * p.out_w + ow) * c_count + c;
        double acc = (bias != nullptr ? bias[c] : 0.0) + (sum != nullptr ? sum[out] : 0.0);
        for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
          for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
            const int64_t ih = oh * p.stride_h + kh * p.dilation_h - p.pad_top;
            const int64_t iw = ow * p.stride_w + kw * p.dilation_w - p.pad_left;
            if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
            acc += static_cast<double>(w[static_cast<size_t>((kh * p.kernel_w + kw) * c_count + c)]) *
                   x[static_cast<size_t>((ih * p.in_w + iw) * c_count + c)];
          }
        }
        const float v = static_cast<float>(acc);
        y[static_cast<size_t>(out)] = std::min(std::max(v, p.output_min), p.output_max);
      }
    }
  }
  return y;
}

struct Operands {
  std::vector<float> x, w, bias, sum;
};

Operands random_operands(const DwConvNhwcF32Params& p, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Operands o;
  o.x.resize(static_cast<size_t>(p.in_h * p.in_w * p.channels));
  o.w.resize(static_cast<size_t>(p.kernel_h * p.kernel_w * p.channels));
  o.bias.resize(static_cast<size_t>(p.channels));
  o.sum.resize(static_cast<size_t>(p.out_h * p.out_w * p.channels));
  for (float& v : o.x) v = uniform(rng);
  for (float& v : o.w) v = uniform(rng);
  for (float& v : o.bias) v = uniform(rng);
  for (float& v : o.sum) v = uniform(rng);
  return o;
}

// Runs rows [row_begin, row_end) x channels [channel_begin, channel_end) and checks them against the reference
// within 1e-5 relative (NaN where it is NaN), and every other output untouched.
void check(const DwConvNhwcF32Params& p, const Operands& o, bool with_bias, bool with_sum, int64_t row_begin,
           int64_t row_end, int64_t channel_begin, int64_t channel_end, const std::string& what) {
  const float* bias = with_bias ? o.bias.data() : nullptr;
  const float* sum = with_sum ? o.sum.data() : nullptr;
  std::vector<float> y(static_cast<size_t>(p.out_h * p.out_w * p.channels), kUntouched);
  dwconv_nhwc_f32(p, o.x.data(), o.w.data(), bias, sum, y.data(), row_begin, row_end, channel_begin, channel_end);
  const std::vector<float> expected = reference(p, o.x, o.w, bias, sum);
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      for (int64_t c = 0; c < p.channels; ++c) {
        const size_t i = static_cast<size_t>((oh * p.out_w + ow) * p.channels + c);
        const bool inside = oh >= row_begin && oh < row_end && c >= channel_begin && c < channel_end;
        const auto where = [&] {
          return what + " at " + std::to_string(oh) + "," + std::to_string(ow) + "," + std::to_string(c) + " in " +
                 std::to_string(p.in_h) + "x" + std::to_string(p.in_w) + "x" + std::to_string(p.channels) + " k " +
                 std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w) + " s " + std::to_string(p.stride_h) +
                 "x" + std::to_string(p.stride_w) + " d " + std::to_string(p.dilation_h) + "x" +
                 std::to_string(p.dilation_w) + " pad " + std::to_string(p.pad_top) + "," + std::to_string(p.pad_left) +
                 " out " + std::to_string(p.out_h) + "x" + std::to_string(p.out_w) + (with_bias ? " bias" : "") +
                 (with_sum ? " sum" : "") + " on " + dwconv_nhwc_f32_kernel_name();
        };
        if (!inside) {
          ASSERT_EQ(y[i], kUntouched) << "written outside the range: " << where();
          continue;
        }
        if (std::isnan(expected[i])) {
          ASSERT_TRUE(std::isnan(y[i])) << where();
          continue;
        }
        ASSERT_NEAR(y[i], expected[i], 1e-5 * std::max(1.0f, std::fabs(expected[i]))) << where();
      }
    }
  }
}

void check_all(const DwConvNhwcF32Params& p, const Operands& o, bool with_bias, bool with_sum,
               const std::string& what) {
  check(p, o, with_bias, with_sum, 0, p.out_h, 0, p.channels, what);
}

DwConvNhwcF32Params geometry_3x3(int64_t in_h, int64_t in_w, int64_t channels, int64_t stride) {
  DwConvNhwcF32Params p;
  p.in_h = in_h;
  p.in_w = in_w;
  p.channels = channels;
  p.kernel_h = p.kernel_w = 3;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = 1;
  p.out_h = (in_h + 2 - 3) / stride + 1;
  p.out_w = (in_w + 2 - 3) / stride + 1;
  return p;
}

class DwConvNhwcVariant : public KernelVariantTest<dwconv_nhwc_f32_kernel_names, dwconv_nhwc_f32_select_kernel> {};

TEST_P(DwConvNhwcVariant, MobileNet3x3MatchesReference) {
  std::mt19937 rng(7);
  const int64_t sizes[][2] = {{7, 7}, {14, 14}, {28, 28}, {56, 56}, {5, 9}, {13, 13}, {1, 1}, {2, 3}, {9, 2}};
  const int64_t channel_counts[] = {1, 7, 8, 16, 17, 40, 96, 144};
  int variant = 0;
  for (const auto& size : sizes) {
    for (int64_t channels : channel_counts) {
      // 56x56 costs the reference most: a few channel counts there.
      if (size[0] == 56 && channels != 17 && channels != 144) continue;
      for (int64_t stride : {1, 2}) {
        DwConvNhwcF32Params p = geometry_3x3(size[0], size[1], channels, stride);
        if (variant % 2 == 0) {
          p.output_min = 0.0f;
          p.output_max = 6.0f;
        }
        const Operands o = random_operands(p, rng);
        check_all(p, o, variant % 3 != 1, variant % 4 == 3, "3x3");
        if (HasFatalFailure()) return;
        ++variant;
      }
    }
  }
}

TEST_P(DwConvNhwcVariant, OtherGeometriesMatchReference) {
  std::mt19937 rng(13);
  struct Case {
    const char* what;
    int64_t in_h, in_w, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int64_t pad_bottom, pad_right;
  };
  const Case cases[] = {
      {"1x1", 9, 11, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {"1x1 stride 2", 9, 11, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0},
      {"5x5 pad 2", 13, 10, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},
      {"5x5 stride 2", 14, 14, 5, 5, 2, 2, 1, 1, 2, 2, 1, 1},
      {"3x5", 9, 12, 3, 5, 1, 1, 1, 1, 1, 2, 1, 2},
      {"3x3 dilation 2", 12, 11, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
      {"3x3 dilation 2x1", 12, 11, 3, 3, 1, 1, 2, 1, 2, 1, 2, 1},
      {"3x3 stride 3", 16, 17, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1},
      {"3x3 stride 2x1", 13, 13, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1},
      {"3x3 stride 1x2", 13, 13, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1},
      {"3x3 pad top 0 left 2", 10, 10, 3, 3, 1, 1, 1, 1, 0, 2, 2, 0},
      {"3x3 stride 2 pad top 0 left 2", 11, 11, 3, 3, 2, 2, 1, 1, 0, 2, 2, 1},
      {"3x3 no pad", 8, 9, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},
      {"3x3 pad 2", 7, 7, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2},
      {"3x3 pad 2 stride 2", 7, 8, 3, 3, 2, 2, 1, 1, 2, 2, 2, 2},
      {"3x3 bottom right pad 3", 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3, 3},
      {"3x3 plane 1x2", 1, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {"7x1", 12, 5, 7, 1, 1, 1, 1, 1, 3, 0, 3, 0},
  };
  const int64_t channel_counts[] = {1, 7, 16, 17, 40};
  int variant = 0;
  for (const Case& k : cases) {
    for (int64_t channels : channel_counts) {
      DwConvNhwcF32Params p;
      p.in_h = k.in_h;
      p.in_w = k.in_w;
      p.channels = channels;
      p.kernel_h = k.kernel_h;
      p.kernel_w = k.kernel_w;
      p.stride_h = k.stride_h;
      p.stride_w = k.stride_w;
      p.dilation_h = k.dilation_h;
      p.dilation_w = k.dilation_w;
      p.pad_top = k.pad_top;
      p.pad_left = k.pad_left;
      p.out_h = (k.in_h + k.pad_top + k.pad_bottom - (k.kernel_h - 1) * k.dilation_h - 1) / k.stride_h + 1;
      p.out_w = (k.in_w + k.pad_left + k.pad_right - (k.kernel_w - 1) * k.dilation_w - 1) / k.stride_w + 1;
      ASSERT_TRUE(dwconv_nhwc_f32_supports(p)) << k.what;
      if (variant % 2 == 1) {
        p.output_min = 0.0f;
        p.output_max = 6.0f;
      }
      const Operands o = random_operands(p, rng);
      check_all(p, o, variant % 3 != 2, variant % 2 == 0, k.what);
      if (HasFatalFailure()) return;
      ++variant;
    }
  }
}

TEST_P(DwConvNhwcVariant, RandomWindowsMatchReference) {
  std::mt19937 rng(29);
  int checked = 0;
  for (int iteration = 0; iteration < 150; ++iteration) {
    DwConvNhwcF32Params p;
    // Every other iteration 3x3 (the unrolled loops where the strides and dilations allow).
    if (!random_window(rng, p, 12, 20, 5, iteration % 2 == 0 ? 3 : 0)) continue;
    p.channels = 1 + static_cast<int64_t>(rng() % 50);
    if (iteration % 3 == 0) {
      p.output_min = -0.5f;
      p.output_max = 0.5f;
    }
    const Operands o = random_operands(p, rng);
    check_all(p, o, iteration % 4 != 1, iteration % 5 < 2, "random " + std::to_string(iteration));
    if (HasFatalFailure()) return;
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

TEST_P(DwConvNhwcVariant, SubRangesWriteOnlyTheirOutputs) {
  std::mt19937 rng(41);
  for (int64_t stride : {1, 2}) {
    for (int64_t channels : {7, 40, 144}) {
      DwConvNhwcF32Params p = geometry_3x3(13, 11, channels, stride);
      p.output_min = 0.0f;
      p.output_max = 6.0f;
      const Operands o = random_operands(p, rng);
      // Ranges that start and end inside registers, take the first or last row, or are empty.
      const int64_t ranges[][4] = {{0, 1, 0, channels},
                                   {p.out_h - 1, p.out_h, 0, channels},
                                   {1, p.out_h - 1, 3, channels - 2},
                                   {2, 4, channels / 2, channels},
                                   {0, p.out_h, 0, 1},
                                   {0, p.out_h, channels - 1, channels},
                                   {3, 3, 0, channels},
                                   {0, p.out_h, 5, 5}};
      for (const auto& r : ranges) {
        check(p, o, true, true, r[0], r[1], r[2], r[3],
              "rows " + std::to_string(r[0]) + ".." + std::to_string(r[1]) + " channels " + std::to_string(r[2]) +
                  ".." + std::to_string(r[3]));
        if (HasFatalFailure()) return;
      }
    }
  }
  // The general loop too (5x5).
  DwConvNhwcF32Params p;
  p.in_h = p.in_w = 9;
  p.channels = 37;
  p.kernel_h = p.kernel_w = 5;
  p.pad_top = p.pad_left = 2;
  p.out_h = p.out_w = 9;
  const Operands o = random_operands(p, rng);
  check(p, o, true, true, 2, 7, 9, 30, "5x5 rows 2..7 channels 9..30");
}

TEST_P(DwConvNhwcVariant, NanPassesThroughClamp) {
  std::mt19937 rng(53);
  for (int64_t kernel : {3, 5}) {
    for (int64_t stride : {1, 2}) {
      for (int64_t channels : {17, 40}) {
        DwConvNhwcF32Params p = geometry_3x3(9, 10, channels, stride);
        p.kernel_h = p.kernel_w = kernel;
        p.pad_top = p.pad_left = kernel / 2;
        p.out_h = (p.in_h + 2 * p.pad_top - kernel) / stride + 1;
        p.out_w = (p.in_w + 2 * p.pad_left - kernel) / stride + 1;
        p.output_min = 0.0f;
        p.output_max = 6.0f;
        Operands o = random_operands(p, rng);
        // NaN in the input (corner, interior, last channel), in one bias and in one sum element.
        o.x[0] = std::nanf("");
        o.x[static_cast<size_t>((4 * p.in_w + 5) * channels + 3)] = std::nanf("");
        o.x[o.x.size() - 1] = std::nanf("");
        o.bias[static_cast<size_t>(channels - 2)] = std::nanf("");
        o.sum[static_cast<size_t>((p.out_w + 1) * channels + 9)] = std::nanf("");
        // The clamp would turn a NaN it dropped into 0 or 6: the reference keeps NaN, and check demands it.
        std::vector<float> y(static_cast<size_t>(p.out_h * p.out_w * channels), 0.0f);
        dwconv_nhwc_f32(p, o.x.data(), o.w.data(), o.bias.data(), o.sum.data(), y.data(), 0, p.out_h, 0, channels);
        EXPECT_TRUE(std::isnan(y[0])) << kernel << "x" << kernel << " stride " << stride;
        EXPECT_TRUE(std::isnan(y[static_cast<size_t>(channels - 2)]));
        check_all(p, o, true, true, "NaN");
        if (HasFatalFailure()) return;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllVariants, DwConvNhwcVariant,
                         ::testing::Values("f32_dwconv_nhwc__avx512", "f32_dwconv_nhwc__avx2",
                                           "f32_dwconv_nhwc__portable"),
                         [](const auto& info) { return std::string(info.param).substr(17); });

}  // namespace
}  // namespace tessera
