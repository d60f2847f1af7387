// Tests of kernels/f32-dwconv: every variant this CPU can run against a direct double-precision loop, over
// strides, dilations, paddings, kernel sizes and odd widths (row tails shorter than one block), and the clamp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernel_variant_test.h"
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

// Runs `count` random channels of geometry `p` through dwconv2d_f32_channels (all in one call) and dwconv2d_f32 (one
// plane per call) and checks both against the reference within `tolerance`; `what` names the case in failures.
void check_channels(const DwConv2dF32Params& p, int64_t count, float input_scale, float tolerance, std::mt19937& rng,
                    const std::string& what) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const int64_t taps = p.kernel_h * p.kernel_w, plane = p.in_h * p.in_w, size = p.out_h * p.out_w;
  std::vector<float> x(static_cast<size_t>(count * plane)), w(static_cast<size_t>(count * taps));
  std::vector<float> bias(static_cast<size_t>(count));
  for (float& v : x) v = input_scale * uniform(rng);
  for (float& v : w) v = uniform(rng);
  for (float& v : bias) v = uniform(rng);
  std::vector<const float*> planes(static_cast<size_t>(count));
  for (int64_t c = 0; c < count; ++c) planes[static_cast<size_t>(c)] = x.data() + c * plane;
  std::vector<float> scratch(
      static_cast<size_t>(std::max(dwconv2d_f32_channels_scratch_floats(p), dwconv2d_f32_scratch_floats(p))));
  std::vector<float> together(static_cast<size_t>(count * size), std::nanf(""));
  dwconv2d_f32_channels(p, count, planes.data(), w.data(), bias.data(), together.data(), scratch.data());
  for (int64_t c = 0; c < count; ++c) {
    const std::vector<float> input(x.begin() + c * plane, x.begin() + (c + 1) * plane);
    const std::vector<float> kernel(w.begin() + c * taps, w.begin() + (c + 1) * taps);
    const std::vector<float> expected = reference(p, input, kernel, bias[static_cast<size_t>(c)]);
    std::vector<float> alone(static_cast<size_t>(size), std::nanf(""));
    dwconv2d_f32(p, input.data(), kernel.data(), bias[static_cast<size_t>(c)], alone.data(), scratch.data());
    for (int64_t i = 0; i < size; ++i) {
      ASSERT_NEAR(together[static_cast<size_t>(c * size + i)], expected[static_cast<size_t>(i)], tolerance)
          << what << " channel " << c << " element " << i;
      ASSERT_NEAR(alone[static_cast<size_t>(i)], expected[static_cast<size_t>(i)], tolerance)
          << what << " one plane, element " << i;
    }
  }
}

class DwConvVariant : public KernelVariantTest<dwconv2d_f32_kernel_names, dwconv2d_f32_select_kernel> {};

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

// The geometries the x86 variants read in place (flat planes at unit strides and equal widths, rows at column
// strides 1 and 2, masked at the edges), as networks use them: MobileNet's 3x3 pad-1 layers at every plane size
// and stride, a 5x5 pad-2 one, a dilated one, and odd sizes whose rows end inside a register. Many channels per
// call, as the Conv kernel passes them, and one plane per call.
TEST_P(DwConvVariant, NetworkShapesMatchDirectLoop) {
  struct Shape {
    int64_t size, kernel, stride, dilation, pad;
  };
  const Shape shapes[] = {{7, 3, 1, 1, 1},  {14, 3, 1, 1, 1},  {14, 3, 2, 1, 1},  {28, 3, 1, 1, 1}, {28, 3, 2, 1, 1},
                          {56, 3, 2, 1, 1}, {112, 3, 1, 1, 1}, {112, 3, 2, 1, 1}, {33, 3, 1, 1, 1}, {33, 3, 2, 1, 1},
                          {19, 5, 1, 1, 2}, {19, 5, 2, 1, 2},  {17, 3, 1, 2, 2},  {40, 3, 2, 2, 2}, {5, 3, 1, 1, 1},
                          {3, 3, 2, 1, 1},  {1, 3, 1, 1, 1},   {64, 3, 1, 1, 0},  {31, 1, 1, 1, 0}};
  std::mt19937 rng(5);
  for (const Shape& s : shapes) {
    DwConv2dF32Params p;
    p.in_h = p.in_w = s.size;
    p.kernel_h = p.kernel_w = s.kernel;
    p.stride_h = p.stride_w = s.stride;
    p.dilation_h = p.dilation_w = s.dilation;
    p.pad_top = p.pad_left = s.pad;
    p.out_h = p.out_w = (s.size + 2 * s.pad - (s.kernel - 1) * s.dilation - 1) / s.stride + 1;
    p.output_min = 0.0f;
    p.output_max = 6.0f;
    ASSERT_NO_FATAL_FAILURE(check_channels(p, 37, 4.0f, 1e-4f, rng,
                                           std::to_string(s.size) + "x" + std::to_string(s.size) + " k" +
                                               std::to_string(s.kernel) + " s" + std::to_string(s.stride) + " d" +
                                               std::to_string(s.dilation) + " on " + GetParam()));
  }
}

// The streaming 3x3 loop's geometries (column stride 1 with left padding 0 or 1, column stride 2 with left padding
// 1): every row stride and top padding it takes, right padding from none to two columns, and widths around one and
// two registers of each variant (rows ending inside a register, in_w odd at stride 2), one plane and many per call.
TEST_P(DwConvVariant, StreamingGeometriesMatchDirectLoop) {
  std::mt19937 rng(23);
  int64_t checked = 0;
  for (int64_t stride_w : {1, 2}) {
    for (int64_t pad_left : {0, 1}) {
      if (stride_w == 2 && pad_left == 0) continue;
      for (int64_t in_w : {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64}) {
        for (int64_t pad_right : {0, 1, 2}) {
          const int64_t stride_h = 1 + (in_w + pad_right) % 3, pad_top = (in_w + stride_w) % 3;
          DwConv2dF32Params p;
          p.in_w = in_w;
          p.in_h = 3 + in_w % 5;
          p.kernel_h = p.kernel_w = 3;
          p.stride_w = stride_w;
          p.stride_h = stride_h;
          p.pad_left = pad_left;
          p.pad_top = pad_top;
          const int64_t span_w = in_w + pad_left + pad_right, span_h = p.in_h + pad_top + 1;
          if (span_w < 3 || span_h < 3) continue;
          p.out_w = (span_w - 3) / stride_w + 1;
          p.out_h = (span_h - 3) / stride_h + 1;
          if (checked % 2 == 0) {
            p.output_min = -0.5f;
            p.output_max = 0.75f;
          }
          ASSERT_NO_FATAL_FAILURE(check_channels(
              p, 5, 1.0f, 1e-5f, rng,
              "in " + std::to_string(p.in_h) + "x" + std::to_string(in_w) + " s " + std::to_string(stride_h) + "x" +
                  std::to_string(stride_w) + " pads " + std::to_string(pad_top) + "," + std::to_string(pad_left) + "," +
                  std::to_string(pad_right) + " on " + GetParam()));
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 80);
}

// A NaN input stays NaN through the fused clamp (Relu/Clip propagate NaN), on every path.
TEST_P(DwConvVariant, NaNPassesTheClamp) {
  for (int64_t size : {7, 30, 80}) {
    for (int64_t stride : {1, 2}) {
      DwConv2dF32Params p;
      p.in_h = p.in_w = size;
      p.kernel_h = p.kernel_w = 3;
      p.stride_h = p.stride_w = stride;
      p.pad_top = p.pad_left = 1;
      p.out_h = p.out_w = (size - 1) / stride + 1;
      p.output_min = 0.0f;
      p.output_max = 6.0f;
      std::vector<float> x(static_cast<size_t>(size * size), 1.0f);
      x[static_cast<size_t>(size + 1)] = std::nanf("");  // row 1, column 1: read by output (0, 0) at any stride
      const float w[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
      const float* planes[1] = {x.data()};
      std::vector<float> scratch(
          static_cast<size_t>(std::max(dwconv2d_f32_channels_scratch_floats(p), dwconv2d_f32_scratch_floats(p))));
      std::vector<float> y(static_cast<size_t>(p.out_h * p.out_w), 0.0f);
      dwconv2d_f32_channels(p, 1, planes, w, nullptr, y.data(), scratch.data());
      EXPECT_TRUE(std::isnan(y[0])) << size << " stride " << stride << " on " << GetParam();
      const std::vector<float> expected = reference(p, x, std::vector<float>(w, w + 9), 0.0f);
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_EQ(std::isnan(y[i]), std::isnan(expected[i])) << size << " stride " << stride << " element " << i;
        if (!std::isnan(y[i])) {
          ASSERT_FLOAT_EQ(y[i], expected[i]) << size << " stride " << stride << " element " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllVariants, DwConvVariant,
                         ::testing::Values("f32_dwconv__avx512", "f32_dwconv__avx2", "f32_dwconv__portable"),
                         [](const auto& info) { return std::string(info.param).substr(12); });

}  // namespace
}  // namespace tessera
