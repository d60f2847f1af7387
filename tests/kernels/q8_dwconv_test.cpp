// Tests of kernels/q8-dwconv: every variant this CPU can run against a direct int64 loop (wrapped to int32), over
// random 3x3 geometries (row strides 1-3, column strides 1 and 2, pads up to 2, widths that leave partial blocks),
// int8 and uint8 planes with zero points at their extremes, weights of +-255 and biases that wrap, and MobileNetV2's
// depthwise shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernel_variant_test.h"
#include "kernels/q8-dwconv/q8-dwconv.h"
#include "random_window.h"

namespace tessera {
namespace {

std::vector<int32_t> reference(const Window2d& p, const std::vector<uint8_t>& x, bool x_signed, int32_t zero_point,
                               const std::vector<int16_t>& w, int32_t bias) {
  std::vector<int32_t> y(static_cast<size_t>(p.out_h * p.out_w));
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      int64_t sum = bias;
      for (int64_t kh = 0; kh < 3; ++kh) {
        for (int64_t kw = 0; kw < 3; ++kw) {
          const int64_t ih = oh * p.stride_h + kh - p.pad_top, iw = ow * p.stride_w + kw - p.pad_left;
          if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
          const uint8_t byte = x[static_cast<size_t>(ih * p.in_w + iw)];
          const int32_t value = x_signed ? static_cast<int8_t>(byte) : byte;
          sum += static_cast<int64_t>(w[static_cast<size_t>(kh * 3 + kw)]) * (value - zero_point);
        }
      }
      y[static_cast<size_t>(oh * p.out_w + ow)] = static_cast<int32_t>(static_cast<uint32_t>(sum));
    }
  }
  return y;
}

// Runs one random plane of geometry `p` through q8_dwconv3x3 and compares with the reference.
void expect_reference(std::mt19937& rng, const Window2d& p, bool extremes, const std::string& what) {
  ASSERT_TRUE(q8_dwconv3x3_supports(p)) << what;
  const bool x_signed = rng() % 2 != 0;
  std::vector<uint8_t> x(static_cast<size_t>(p.in_h * p.in_w));
  for (uint8_t& v : x) v = static_cast<uint8_t>(extremes ? (rng() % 2 ? 0x00 : 0xFF) : rng());
  if (extremes && x_signed)
    for (uint8_t& v : x) v = v == 0 ? 0x80 : 0x7F;  // int8 -128 and 127
  const int32_t low = x_signed ? -128 : 0, high = x_signed ? 127 : 255;
  const int32_t zero_point = extremes ? (rng() % 2 ? low : high) : low + static_cast<int32_t>(rng() % 256);
  std::vector<int16_t> w(9);
  for (int16_t& v : w)
    v = static_cast<int16_t>(extremes ? (rng() % 2 ? 255 : -255) : static_cast<int>(rng() % 511) - 255);
  const int32_t bias =
      rng() % 4 == 0 ? INT32_MAX - static_cast<int32_t>(rng() % 1000) : static_cast<int32_t>(rng() % 20001) - 10000;
  std::vector<uint8_t> scratch(static_cast<size_t>(q8_dwconv3x3_scratch_bytes(p)));
  std::vector<int32_t> got(static_cast<size_t>(p.out_h * p.out_w) + 1, 0x5A5A5A5A);
  q8_dwconv3x3(p, x.data(), x_signed, zero_point, w.data(), bias, got.data(), scratch.data());
  const std::vector<int32_t> want = reference(p, x, x_signed, zero_point, w, bias);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << what << " at " << i;
  EXPECT_EQ(got.back(), 0x5A5A5A5A) << what << ": wrote past the sums";
}

// A random 3x3 window of unit dilation over an input of at most max_h x max_w (strides from random_window, column
// strides 1 or 2; pads up to 2 on every side, the bottom and right ones drawn here for dilation 1, since
// random_window may have drawn 2); false when the kernel does not fit the padded input.
bool random_3x3_window(std::mt19937& rng, Window2d& p, int64_t max_h, int64_t max_w) {
  if (!random_window(rng, p, max_h, max_w, 3, 3, 2)) return false;
  p.dilation_h = p.dilation_w = 1;
  const int64_t pad_bottom = static_cast<int64_t>(rng() % 3), pad_right = static_cast<int64_t>(rng() % 3);
  if (p.in_h + p.pad_top + pad_bottom < 3 || p.in_w + p.pad_left + pad_right < 3) return false;
  p.out_h = (p.in_h + p.pad_top + pad_bottom - 3) / p.stride_h + 1;
  p.out_w = (p.in_w + p.pad_left + pad_right - 3) / p.stride_w + 1;
  return true;
}

class Q8DwConvVariant : public KernelVariantTest<q8_dwconv3x3_kernel_names, q8_dwconv3x3_select_kernel> {};

TEST_P(Q8DwConvVariant, RandomGeometriesMatchDirectLoop) {
  std::mt19937 rng(2024);
  int cases = 0;
  for (int attempt = 0; cases < 300 && attempt < 3000; ++attempt) {
    Window2d p;
    if (!random_3x3_window(rng, p, 20, 75)) continue;
    ASSERT_NO_FATAL_FAILURE(expect_reference(rng, p, cases % 5 == 0, "case " + std::to_string(cases)));
    ++cases;
  }
  EXPECT_GE(cases, 300);
}

TEST_P(Q8DwConvVariant, NetworkShapesMatchDirectLoop) {
  std::mt19937 rng(7);
  // MobileNetV2's depthwise planes (pads 1): 112 and 56 wide at strides 1 and 2, 28, 14 and 7.
  for (const int64_t size : {112, 56, 28, 14, 7}) {
    for (const int64_t stride : {1, 2}) {
      Window2d p;
      p.in_h = p.in_w = size;
      p.kernel_h = p.kernel_w = 3;
      p.stride_h = p.stride_w = stride;
      p.pad_top = p.pad_left = 1;
      p.out_h = p.out_w = (size + 2 - 3) / stride + 1;
      ASSERT_NO_FATAL_FAILURE(
          expect_reference(rng, p, false, std::to_string(size) + " stride " + std::to_string(stride)));
      ASSERT_NO_FATAL_FAILURE(expect_reference(rng, p, true, std::to_string(size) + " extremes"));
    }
  }
}

// The channels-last form: random small geometries and channel counts (tails of a register group included), the
// padded block built as the caller does (the zero point's byte around the input, random bytes past the channels),
// against the direct loop over the padded block; sums past the channels must be 0.
TEST_P(Q8DwConvVariant, ChannelsLastMatchesDirectLoop) {
  std::mt19937 rng(99);
  int cases = 0;
  for (int attempt = 0; cases < 120 && attempt < 2000; ++attempt) {
    Window2d p;
    if (!random_3x3_window(rng, p, 16, 16)) continue;
    const int64_t channels = 1 + static_cast<int64_t>(rng() % 70), ld = (channels + 31) / 32 * 32;
    const bool x_signed = rng() % 2 != 0;
    const uint8_t zero_point = static_cast<uint8_t>(rng());
    const int64_t rows = (p.out_h - 1) * p.stride_h + 3, cols = (p.out_w - 1) * p.stride_w + 3;
    std::vector<uint8_t> x(static_cast<size_t>(rows * cols * ld));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t iy = r - p.pad_top, ix = c - p.pad_left;
        const bool inside = iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w;
        for (int64_t k = 0; k < ld; ++k)
          x[static_cast<size_t>((r * cols + c) * ld + k)] =
              k < channels && !inside ? zero_point : static_cast<uint8_t>(rng());
      }
    }
    std::vector<int16_t> w(static_cast<size_t>(channels * 9));
    for (int16_t& v : w)
      v = static_cast<int16_t>(cases % 7 == 0 ? (rng() % 2 ? 255 : -255) : static_cast<int>(rng() % 511) - 255);
    std::vector<uint8_t> scratch(static_cast<size_t>(q8_dwconv3x3_nhwc_scratch_bytes(ld)));
    std::vector<int32_t> got(static_cast<size_t>(p.out_h * p.out_w * ld) + 1, 0x5A5A5A5A);
    q8_dwconv3x3_nhwc(p, channels, ld, x.data(), x_signed, w.data(), got.data(), scratch.data());
    for (int64_t oy = 0; oy < p.out_h; ++oy) {
      for (int64_t ox = 0; ox < p.out_w; ++ox) {
        for (int64_t k = 0; k < ld; ++k) {
          int64_t want = 0;
          for (int64_t tap = 0; k < channels && tap < 9; ++tap) {
            const uint8_t byte =
                x[static_cast<size_t>(((oy * p.stride_h + tap / 3) * cols + ox * p.stride_w + tap % 3) * ld + k)];
            want += static_cast<int64_t>(w[static_cast<size_t>(k * 9 + tap)]) *
                    (x_signed ? static_cast<int8_t>(byte) : byte);
          }
          ASSERT_EQ(got[static_cast<size_t>((oy * p.out_w + ox) * ld + k)], static_cast<int32_t>(want))
              << "case " << cases << " at " << oy << "," << ox << " channel " << k << " of " << channels;
        }
      }
    }
    EXPECT_EQ(got.back(), 0x5A5A5A5A) << "case " << cases << ": wrote past the sums";
    ++cases;
  }
  EXPECT_GE(cases, 120);
}

TEST(Q8DwConv, SupportsOnlyThreeByThreeUnitDilationNarrowColumnStrides) {
  Window2d p;
  p.in_h = p.in_w = 8;
  p.kernel_h = p.kernel_w = 3;
  p.out_h = p.out_w = 6;
  EXPECT_TRUE(q8_dwconv3x3_supports(p));
  Window2d q = p;
  q.kernel_w = 5;
  EXPECT_FALSE(q8_dwconv3x3_supports(q));
  q = p;
  q.dilation_h = 2;
  EXPECT_FALSE(q8_dwconv3x3_supports(q));
  q = p;
  q.stride_w = 3;
  EXPECT_FALSE(q8_dwconv3x3_supports(q));
  q = p;
  q.stride_h = 3;
  EXPECT_TRUE(q8_dwconv3x3_supports(q));
}

INSTANTIATE_TEST_SUITE_P(AllVariants, Q8DwConvVariant,
                         ::testing::Values("q8_dwconv3x3__avx512", "q8_dwconv3x3__avx2", "q8_dwconv3x3__portable"),
                         [](const auto& info) { return std::string(info.param).substr(14); });

}  // namespace
}  // namespace tessera
