// Tests of kernels/bf16-gemm: every variant this CPU can run (the others are skipped, naming the variant) against
// a double-precision reference on random odd sizes (m, n, k not multiples of the tiles; k odd and even), bfloat16
// and float32 A, plain and transposed B packed from bfloat16 or float32, lda > k, ldc > n (the padding never
// written), alpha, a column bias, the clamp and a rows activation; identical results on one thread and on several;
// the rounding loop bit for bit against float_to_bfloat16; A packed once and B packed per call into a caller's
// buffer (the convolutions' operands) with a row bias and a sum tile, and made panel by panel (bf16_gemm_b_panels,
// the same bits); B strips packed straight from a convolution's bfloat16 image, and from B given transposed, bit for
// bit as from float32 rows.
#include "kernels/bf16-gemm/bf16_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/float_types.h"
#include "gemm_test_util.h"
#include "kernel_variant_test.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

constexpr float kSentinel = -12345.0f;

struct Case {
  int64_t m, n, k, lda, ldb, ldc;
  bool trans_b, a_f32, b_f32;
  std::vector<uint16_t> a, b;   // bfloat16 operands (used when not *_f32)
  std::vector<float> a32, b32;  // float32 operands (used when *_f32)
  std::vector<float> bias;      // n values or empty
  float alpha = 1.0f;
  float min = -std::numeric_limits<float>::infinity(), max = std::numeric_limits<float>::infinity();
};

// A value of A or B as the kernel sees it: bfloat16, or float32 rounded to bfloat16.
double a_value(const Case& c, int64_t i, int64_t p) {
  const size_t at = static_cast<size_t>(i * c.lda + p);
  return bfloat16_to_float(c.a_f32 ? float_to_bfloat16(c.a32[at]) : c.a[at]);
}
double b_value(const Case& c, int64_t p, int64_t j) {
  const size_t at = static_cast<size_t>(c.trans_b ? j * c.ldb + p : p * c.ldb + j);
  return bfloat16_to_float(c.b_f32 ? float_to_bfloat16(c.b32[at]) : c.b[at]);
}

Case random_case(std::mt19937& rng, int64_t m, int64_t n, int64_t k, bool trans_b, bool a_f32, bool b_f32) {
  Case c{m, n, k, k + static_cast<int64_t>(rng() % 3), 0, n + static_cast<int64_t>(rng() % 3), trans_b, a_f32, b_f32};
  c.ldb = (trans_b ? k : n) + static_cast<int64_t>(rng() % 3);
  std::uniform_real_distribution<float> value(-2.0f, 2.0f);
  const size_t a_size = static_cast<size_t>(m * c.lda), b_size = static_cast<size_t>((trans_b ? n : k) * c.ldb);
  for (size_t i = 0; i < a_size; ++i) {
    c.a32.push_back(value(rng));
    c.a.push_back(float_to_bfloat16(value(rng)));
  }
  for (size_t i = 0; i < b_size; ++i) {
    c.b32.push_back(value(rng));
    c.b.push_back(float_to_bfloat16(value(rng)));
  }
  if (rng() % 2 == 0) {
    for (int64_t j = 0; j < n; ++j) c.bias.push_back(value(rng));
  }
  if (rng() % 3 == 0) c.alpha = value(rng);
  if (rng() % 3 == 0) {
    c.min = -1.0f;
    c.max = 1.5f;
  }
  return c;
}

PackedBf16GemmB pack(const Case& c) {
  return c.b_f32 ? pack_bf16_gemm_b_f32(c.trans_b, c.k, c.n, c.b32.data(), c.ldb)
                 : pack_bf16_gemm_b(c.trans_b, c.k, c.n, c.b.data(), c.ldb);
}

std::vector<float> run(const Case& c, const PackedBf16GemmB& b, Parallelism* parallelism,
                       Bf16GemmRowsActivation activation = nullptr) {
  std::vector<float> out(static_cast<size_t>(std::max<int64_t>(c.m * c.ldc, 1)), kSentinel);
  Bf16GemmA a;
  if (c.a_f32) {
    a.f32 = c.a32.data();
  } else {
    a.bf16 = c.a.data();
  }
  a.ld = c.lda;
  Bf16GemmEpilogue epilogue;
  epilogue.alpha = c.alpha;
  epilogue.column_bias = c.bias.empty() ? nullptr : c.bias.data();
  epilogue.min = c.min;
  epilogue.max = c.max;
  epilogue.rows_activation = activation;
  bf16_gemm(c.m, c.n, c.k, a, b, out.data(), c.ldc, epilogue, parallelism);
  return out;
}

// Checks every element against the double reference within float32 accumulation error (k roundings of sums
// bounded by sum |a b|), and that the ldc padding is untouched.
void expect_matches_reference(const Case& c, const std::vector<float>& out, bool squared) {
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.ldc; ++j) {
      const float got = out[static_cast<size_t>(i * c.ldc + j)];
      if (j >= c.n) {
        ASSERT_EQ(got, kSentinel) << "padding written at " << i << "," << j;
        continue;
      }
      double sum = 0.0, magnitude = 0.0;
      for (int64_t p = 0; p < c.k; ++p) {
        const double product = a_value(c, i, p) * b_value(c, p, j);
        sum += product;
        magnitude += std::fabs(product);
      }
      const double bias = c.bias.empty() ? 0.0 : c.bias[static_cast<size_t>(j)];
      double expected =
          std::clamp(static_cast<double>(c.alpha) * sum + bias, static_cast<double>(c.min), static_cast<double>(c.max));
      double tolerance = (static_cast<double>(c.k) + 2.0) * std::ldexp(1.0, -23) *
                         (std::fabs(c.alpha) * magnitude + std::fabs(bias) + 1e-30);
      if (squared) {
        tolerance *= 2.0 * std::fabs(expected) + 1.0;
        expected *= expected;
      }
      ASSERT_NEAR(got, expected, tolerance) << "C[" << i << "][" << j << "] m=" << c.m << " n=" << c.n << " k=" << c.k
                                            << " trans_b=" << c.trans_b << " a_f32=" << c.a_f32;
    }
  }
}

class Bf16GemmVariant : public KernelVariantTest<bf16_gemm_kernel_names, bf16_gemm_select_kernel> {};

TEST_P(Bf16GemmVariant, MatchesDoubleReference) {
  std::mt19937 rng(17);
  for (int iteration = 0; iteration < 150; ++iteration) {
    const int64_t m = 1 + static_cast<int64_t>(rng() % 37);
    const int64_t n = 1 + static_cast<int64_t>(rng() % 75);
    const int64_t k = 1 + static_cast<int64_t>(rng() % 97);
    const Case c = random_case(rng, m, n, k, rng() % 2 == 0, rng() % 2 == 0, rng() % 2 == 0);
    const PackedBf16GemmB b = pack(c);
    EXPECT_STREQ(b.kernel_name(), GetParam().c_str());
    expect_matches_reference(c, run(c, b, nullptr), false);
    if (HasFatalFailure()) return;
  }
}

TEST_P(Bf16GemmVariant, LargeOddSizesAndRowsActivation) {
  std::mt19937 rng(23);
  const Case c = random_case(rng, 131, 203, 517, false, false, false);
  const PackedBf16GemmB b = pack(c);
  expect_matches_reference(c, run(c, b, nullptr, gemm_test::square_rows), true);
}

TEST_P(Bf16GemmVariant, SameBitsOnOneThreadAndSeveral) {
  std::mt19937 rng(29);
  ThreadPool pool(3);
  for (int iteration = 0; iteration < 6; ++iteration) {
    const Case c = random_case(rng, 50 + static_cast<int64_t>(rng() % 100), 40 + static_cast<int64_t>(rng() % 90),
                               60 + static_cast<int64_t>(rng() % 200), rng() % 2 == 0, rng() % 2 == 0, false);
    const PackedBf16GemmB b = pack(c);
    const std::vector<float> serial = run(c, b, nullptr), threaded = run(c, b, &pool);
    ASSERT_EQ(0, std::memcmp(serial.data(), threaded.data(), serial.size() * sizeof(float)));
  }
}

TEST_P(Bf16GemmVariant, PackedAPerCallBRowBiasAndSum) {
  std::mt19937 rng(31);
  ThreadPool pool(3);
  std::uniform_real_distribution<float> value(-2.0f, 2.0f);
  for (int iteration = 0; iteration < 40; ++iteration) {
    const int64_t m = 1 + static_cast<int64_t>(rng() % 70), n = 1 + static_cast<int64_t>(rng() % 90);
    const int64_t k = 1 + static_cast<int64_t>(rng() % 130);
    Case c = random_case(rng, m, n, k, false, rng() % 2 == 0, true);
    // B packed per call: the same strips as packed once.
    std::vector<uint16_t> buffer(static_cast<size_t>(bf16_gemm_packed_b_elements(k, n)) + 32);
    uint16_t* aligned = reinterpret_cast<uint16_t*>((reinterpret_cast<uintptr_t>(buffer.data()) + 63) / 64 * 64);
    const PackedBf16GemmB once = pack(c);
    const PackedBf16GemmB per_call =
        pack_bf16_gemm_b_f32_into(k, n, c.b32.data(), c.ldb, aligned, iteration % 2 ? &pool : nullptr);
    ASSERT_EQ(0, std::memcmp(run(c, once, nullptr).data(), run(c, per_call, nullptr).data(),
                             static_cast<size_t>(m * c.ldc) * sizeof(float)));
    // A packed once, a row bias and a sum tile (rows sum_ld apart), the clamp after them.
    const PackedBf16GemmA packed_a = c.a_f32 ? pack_bf16_gemm_a_any(true, m, k, c.a32.data(), c.lda)
                                             : pack_bf16_gemm_a_any(false, m, k, c.a.data(), c.lda);
    std::vector<float> row_bias, sum;
    const int64_t sum_ld = n + static_cast<int64_t>(rng() % 3);
    for (int64_t i = 0; i < m; ++i) row_bias.push_back(value(rng));
    for (int64_t i = 0; i < m * sum_ld; ++i) sum.push_back(value(rng));
    Bf16GemmA a;
    a.packed = &packed_a;
    Bf16GemmEpilogue epilogue;
    epilogue.alpha = c.alpha;
    epilogue.column_bias = c.bias.empty() ? nullptr : c.bias.data();
    epilogue.row_bias = row_bias.data();
    epilogue.sum = sum.data();
    epilogue.sum_ld = sum_ld;
    epilogue.min = c.min;
    epilogue.max = c.max;
    std::vector<float> out(static_cast<size_t>(m * c.ldc), kSentinel);
    bf16_gemm(m, n, k, a, per_call, out.data(), c.ldc, epilogue, iteration % 3 ? &pool : nullptr);
    // B made panel by panel and multiplied right away: the same bits.
    const int64_t strip = bf16_gemm_b_strip_columns(), panel = strip * (1 + iteration % 3);
    std::vector<float> panels_out(out.size(), kSentinel);
    bf16_gemm_b_panels(
        m, n, k, packed_a, panel,
        [&](int64_t j0, int64_t cols, uint16_t* strips) {
          for (int64_t j = 0; j < cols; j += strip) {
            pack_bf16_gemm_b_f32_strip(k, cols, j, std::min(strip, cols - j), c.b32.data() + j0 + j, c.ldb, strips);
          }
        },
        panels_out.data(), c.ldc, epilogue, iteration % 2 ? &pool : nullptr);
    ASSERT_EQ(0, std::memcmp(out.data(), panels_out.data(), out.size() * sizeof(float)));
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < c.ldc; ++j) {
        const float got = out[static_cast<size_t>(i * c.ldc + j)];
        if (j >= n) {
          ASSERT_EQ(got, kSentinel);
          continue;
        }
        double dot = 0.0, magnitude = 0.0;
        for (int64_t p = 0; p < k; ++p) {
          dot += a_value(c, i, p) * b_value(c, p, j);
          magnitude += std::fabs(a_value(c, i, p) * b_value(c, p, j));
        }
        const double added = (c.bias.empty() ? 0.0 : c.bias[static_cast<size_t>(j)]) +
                             row_bias[static_cast<size_t>(i)] + sum[static_cast<size_t>(i * sum_ld + j)];
        const double expected = std::clamp(static_cast<double>(c.alpha) * dot + added, static_cast<double>(c.min),
                                           static_cast<double>(c.max));
        ASSERT_NEAR(got, expected,
                    (static_cast<double>(k) + 4.0) * std::ldexp(1.0, -23) *
                        (std::fabs(c.alpha) * magnitude + std::fabs(added) + 1e-30))
            << "C[" << i << "][" << j << "] m=" << m << " n=" << n << " k=" << k;
      }
    }
  }
  // Packed A of another shape is refused.
  const std::vector<float> a32(6, 1.0f);
  const PackedBf16GemmA small = pack_bf16_gemm_a_any(true, 2, 3, a32.data(), 3);
  const PackedBf16GemmB b = pack_bf16_gemm_b_f32(false, 3, 2, a32.data(), 2);
  Bf16GemmA a;
  a.packed = &small;
  std::vector<float> out(8);
  EXPECT_THROW(bf16_gemm(3, 2, 3, a, b, out.data(), 2, {}, nullptr), Error);
}

TEST_P(Bf16GemmVariant, RoundingMatchesFloatToBfloat16) {
  std::vector<float> values = {0.0f,
                               -0.0f,
                               1.0f,
                               1.00390625f,
                               1.01171875f,
                               1.0f + 0x1p-8f,
                               3.4e38f,
                               -3.4e38f,
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::quiet_NaN(),
                               std::numeric_limits<float>::denorm_min(),
                               1e-40f,
                               -1e-40f};
  std::mt19937 rng(31);
  for (int i = 0; i < 1000; ++i) {
    const uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, sizeof f);
    values.push_back(f);
  }
  std::vector<uint16_t> out(values.size());
  bf16_round_f32(values.data(), static_cast<int64_t>(values.size()), out.data());
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(out[i], float_to_bfloat16(values[i])) << values[i];
}

// A 2-D convolution's geometry for the im2col strips below.
struct Im2colCase {
  int64_t channels, in_h, in_w, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
};

// The strips packed straight from a Bf16Im2colImage (laid out here by the header's contract) against the strips
// pack_bf16_gemm_b_f32_strip packs from the im2col matrix's float32 rows (a naive im2col of the same values), bit
// for bit: odd depths, strides, dilations, uneven pads, outputs one column wide (a run per strip column), strips
// starting mid-row, NaN, infinities and denormals among the values. Variants without the straight packing skip.
TEST_P(Bf16GemmVariant, Im2colStripsMatchFloat32Packing) {
  if (!bf16_gemm_packs_im2col()) GTEST_SKIP() << GetParam() << " packs no im2col strips";
  const std::vector<Im2colCase> cases = {
      {3, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   {5, 13, 15, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {3, 20, 18, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},  {4, 12, 12, 3, 3, 1, 1, 2, 2, 2, 0, 1, 2},
      {2, 17, 1, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0},   {7, 10, 29, 2, 5, 3, 3, 1, 2, 0, 2, 1, 3},
      {33, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {2, 6, 40, 1, 3, 1, 2, 1, 3, 0, 0, 0, 4},
  };
  std::mt19937 rng(41);
  std::uniform_real_distribution<float> value(-2.0f, 2.0f);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 1e-40f, -0.0f};
  for (const Im2colCase& c : cases) {
    SCOPED_TRACE("case " + std::to_string(&c - cases.data()));
    const int64_t out_h = (c.in_h + c.pad_top + c.pad_bottom - ((c.kernel_h - 1) * c.dilation_h + 1)) / c.stride_h + 1;
    const int64_t out_w = (c.in_w + c.pad_left + c.pad_right - ((c.kernel_w - 1) * c.dilation_w + 1)) / c.stride_w + 1;
    const int64_t n = out_h * out_w, k = c.channels * c.kernel_h * c.kernel_w;
    std::vector<float> x(static_cast<size_t>(c.channels * c.in_h * c.in_w));
    for (float& v : x) v = value(rng);
    for (size_t i = 0; i < std::size(specials); ++i) x[(i * 7919) % x.size()] = specials[i];
    // The im2col matrix, k x n, zero in the padding.
    std::vector<float> col(static_cast<size_t>(k * n));
    for (int64_t r = 0; r < k; ++r) {
      const int64_t ch = r / (c.kernel_h * c.kernel_w), kh = r / c.kernel_w % c.kernel_h, kw = r % c.kernel_w;
      for (int64_t p = 0; p < n; ++p) {
        const int64_t ih = p / out_w * c.stride_h + kh * c.dilation_h - c.pad_top;
        const int64_t iw = p % out_w * c.stride_w + kw * c.dilation_w - c.pad_left;
        const bool inside = ih >= 0 && ih < c.in_h && iw >= 0 && iw < c.in_w;
        col[static_cast<size_t>(r * n + p)] = inside ? x[static_cast<size_t>((ch * c.in_h + ih) * c.in_w + iw)] : 0.0f;
      }
    }
    // The image: padded rows as far as the outputs read, columns split into stride_w phases.
    Bf16Im2colImage image;
    image.channels = c.channels;
    image.kernel_h = c.kernel_h;
    image.kernel_w = c.kernel_w;
    image.stride_h = c.stride_h;
    image.stride_w = c.stride_w;
    image.dilation_h = c.dilation_h;
    image.dilation_w = c.dilation_w;
    image.out_w = out_w;
    const int64_t rows = (out_h - 1) * c.stride_h + (c.kernel_h - 1) * c.dilation_h + 1;
    const int64_t columns = (out_w - 1) * c.stride_w + (c.kernel_w - 1) * c.dilation_w + 1;
    image.phase_width = (columns + c.stride_w - 1) / c.stride_w;
    image.row_pitch = c.stride_w * image.phase_width;
    image.plane_pitch = rows * image.row_pitch;
    std::vector<uint16_t> data(static_cast<size_t>(c.channels * image.plane_pitch), 0);
    for (int64_t ch = 0; ch < c.channels; ++ch) {
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t col_x = 0; col_x < columns; ++col_x) {
          const int64_t ih = r - c.pad_top, iw = col_x - c.pad_left;
          if (ih < 0 || ih >= c.in_h || iw < 0 || iw >= c.in_w) continue;
          data[static_cast<size_t>(ch * image.plane_pitch + r * image.row_pitch +
                                   col_x % c.stride_w * image.phase_width + col_x / c.stride_w)] =
              float_to_bfloat16(x[static_cast<size_t>((ch * c.in_h + ih) * c.in_w + iw)]);
        }
      }
    }
    image.data = data.data();
    const int64_t nr = bf16_gemm_b_strip_columns(), strip_elements = bf16_gemm_packed_b_elements(k, 1);
    std::vector<uint16_t> expected(static_cast<size_t>(bf16_gemm_packed_b_elements(k, n)), 0x5555);
    std::vector<uint16_t> got(expected.size(), 0xAAAA);
    for (int64_t j0 = 0; j0 < n; j0 += nr) {
      const int64_t cols = std::min(nr, n - j0);
      pack_bf16_gemm_b_f32_strip(k, n, j0, cols, col.data() + j0, n, expected.data());
      pack_bf16_gemm_b_im2col_strip(image, j0, cols, got.data() + j0 / nr * strip_elements);
    }
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "element " << i;
  }
  Bf16Im2colImage bad;
  bad.out_w = 0;
  std::vector<uint16_t> strip(static_cast<size_t>(bf16_gemm_packed_b_elements(1, 1)));
  EXPECT_THROW(pack_bf16_gemm_b_im2col_strip(bad, 0, 1, strip.data()), Error);
}

// B given transposed (column j's values contiguous, a channels-last image's positions): the strips of
// pack_bf16_gemm_b_f32_transposed_strip against those pack_bf16_gemm_b_f32_strip packs from B itself, bit for bit,
// for odd and even depths, partial last strips and special values.
TEST_P(Bf16GemmVariant, TransposedStripsMatchStrips) {
  std::mt19937 rng(43);
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  for (const int64_t k : {1, 2, 7, 64, 81, 320}) {
    const int64_t n = 2 * bf16_gemm_b_strip_columns() + 5, ldb = k + 3;
    std::vector<float> bt(static_cast<size_t>(n * ldb)), b(static_cast<size_t>(k * n));
    for (float& v : bt) v = value(rng);
    bt[0] = std::numeric_limits<float>::quiet_NaN();
    bt[static_cast<size_t>(ldb)] = 1e-40f;
    for (int64_t p = 0; p < k; ++p) {
      for (int64_t j = 0; j < n; ++j) b[static_cast<size_t>(p * n + j)] = bt[static_cast<size_t>(j * ldb + p)];
    }
    const int64_t nr = bf16_gemm_b_strip_columns(), strip_elements = bf16_gemm_packed_b_elements(k, 1);
    std::vector<uint16_t> expected(static_cast<size_t>(bf16_gemm_packed_b_elements(k, n)), 0x1111);
    std::vector<uint16_t> got(expected.size(), 0x2222);
    for (int64_t j0 = 0; j0 < n; j0 += nr) {
      const int64_t cols = std::min(nr, n - j0);
      pack_bf16_gemm_b_f32_strip(k, n, j0, cols, b.data() + j0, n, expected.data());
      pack_bf16_gemm_b_f32_transposed_strip(k, j0, cols, bt.data(), ldb, got.data() + j0 / nr * strip_elements);
    }
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "k " << k << " element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(AllVariants, Bf16GemmVariant,
                         ::testing::Values("bf16_gemm_ukernel_32x32__amx", "bf16_gemm_ukernel_14x32__avx512bf16",
                                           "bf16_gemm_ukernel_12x32__avx512",
                                           "bf16_gemm_ukernel_4x16__avx2", "bf16_gemm_ukernel_4x8__portable"),
                         [](const auto& info) {
                           const std::string name = info.param;
                           return name.substr(name.rfind('_') + 1);
                         });

TEST(Bf16Gemm, RefusesMismatchedOperands) {
  const std::vector<uint16_t> b(12, 0x3F80);
  const PackedBf16GemmB packed = pack_bf16_gemm_b(false, 3, 4, b.data(), 4);
  std::vector<float> c(8);
  const std::vector<uint16_t> a(6, 0x3F80);
  Bf16GemmA op;
  op.bf16 = a.data();
  op.ld = 3;
  EXPECT_THROW(bf16_gemm(2, 4, 2, op, packed, c.data(), 4, {}, nullptr), Error);
  op.ld = 2;
  EXPECT_THROW(bf16_gemm(2, 4, 3, op, packed, c.data(), 4, {}, nullptr), Error);  // lda < k
  Bf16GemmA none;
  none.ld = 3;
  EXPECT_THROW(bf16_gemm(2, 4, 3, none, packed, c.data(), 4, {}, nullptr), Error);
  op.ld = 3;
  bf16_gemm(2, 4, 3, op, packed, c.data(), 4, {}, nullptr);
  EXPECT_EQ(c, std::vector<float>(8, 3.0f));
}

TEST(Bf16Gemm, PackedBForAnotherKernelIsRefused) {
  const auto names = bf16_gemm_kernel_names();
  if (names.size() < 2) GTEST_SKIP() << "only " << names.front() << " runs on this CPU";
  const std::vector<uint16_t> b(4, 0x3F80), a(2, 0x3F80);
  ASSERT_TRUE(bf16_gemm_select_kernel(names[1]));
  const PackedBf16GemmB packed = pack_bf16_gemm_b(false, 2, 2, b.data(), 2);
  bf16_gemm_select_kernel("");
  std::vector<float> c(2);
  Bf16GemmA op;
  op.bf16 = a.data();
  op.ld = 2;
  EXPECT_THROW(bf16_gemm(1, 2, 2, op, packed, c.data(), 2, {}, nullptr), Error);
}

}  // namespace
}  // namespace tessera
