// Tests of kernels/q8-gemm: every variant this CPU can run against a scalar reference, bit for bit, on random
// odd sizes (k not a multiple of 4, n not a multiple of 16), all four signedness combinations, per-tensor and
// per-column zero points, extreme values with zero points at the ends of the range (no saturation anywhere),
// int32 and float outputs (with and without bias and per-column scales), lda > k, ldc > n, transposed B, and
// identical results on one thread and on several.
#include "kernels/q8-gemm/q8_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernel_variant_test.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

struct Case {
  int64_t m, n, k;
  bool a_signed, b_signed, trans_b;
  int64_t lda, ldb, ldc;
  std::vector<uint8_t> a, b;
  int32_t a_zp;
  std::vector<int32_t> b_zp;  // 1 or n
};

int32_t element(uint8_t byte, bool is_signed) {
  return is_signed ? static_cast<int32_t>(static_cast<int8_t>(byte)) : static_cast<int32_t>(byte);
}

// The exact sums, as int64 narrowed to int32 (they fit for these sizes).
std::vector<int32_t> reference(const Case& c) {
  std::vector<int32_t> s(static_cast<size_t>(c.m * c.n));
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      const int32_t zb = c.b_zp[c.b_zp.size() == 1 ? 0 : static_cast<size_t>(j)];
      int64_t sum = 0;
      for (int64_t p = 0; p < c.k; ++p) {
        const uint8_t bb =
            c.trans_b ? c.b[static_cast<size_t>(j * c.ldb + p)] : c.b[static_cast<size_t>(p * c.ldb + j)];
        sum += static_cast<int64_t>(element(c.a[static_cast<size_t>(i * c.lda + p)], c.a_signed) - c.a_zp) *
               (element(bb, c.b_signed) - zb);
      }
      s[static_cast<size_t>(i * c.n + j)] = static_cast<int32_t>(sum);
    }
  }
  return s;
}

// mode 0: uniform bytes and zero points; 1: only the two extreme values, zero points at the opposite ends.
Case random_case(std::mt19937& rng, int64_t m, int64_t n, int64_t k, bool a_signed, bool b_signed, bool trans_b,
                 bool per_column, int mode) {
  Case c{m,
         n,
         k,
         a_signed,
         b_signed,
         trans_b,
         k + static_cast<int64_t>(rng() % 3),
         0,
         n + static_cast<int64_t>(rng() % 2),
         {},
         {},
         0,
         {}};
  c.ldb = (trans_b ? k : n) + static_cast<int64_t>(rng() % 3);
  c.a.resize(static_cast<size_t>(std::max<int64_t>(m * c.lda, 1)));
  c.b.resize(static_cast<size_t>(std::max<int64_t>((trans_b ? n : k) * c.ldb, 1)));
  const auto lo = [](bool s) { return s ? -128 : 0; };
  const auto hi = [](bool s) { return s ? 127 : 255; };
  const auto byte = [&](bool s) -> uint8_t {
    if (mode == 1) return static_cast<uint8_t>((rng() % 2 == 0) ? lo(s) : hi(s));
    return static_cast<uint8_t>(rng());
  };
  for (uint8_t& v : c.a) v = byte(a_signed);
  for (uint8_t& v : c.b) v = byte(b_signed);
  const auto zero_point = [&](bool s) -> int32_t {
    if (mode == 1) return (rng() % 2 == 0) ? lo(s) : hi(s);
    return lo(s) + static_cast<int32_t>(rng() % 256);
  };
  c.a_zp = zero_point(a_signed);
  c.b_zp.resize(per_column ? static_cast<size_t>(n) : 1);
  for (int32_t& z : c.b_zp) z = zero_point(b_signed);
  return c;
}

PackedQ8GemmB pack(const Case& c) {
  return pack_q8_gemm_b(c.b_signed, c.trans_b, c.k, c.n, c.b.data(), c.ldb, c.b_zp.data(),
                        static_cast<int64_t>(c.b_zp.size()));
}

std::vector<int32_t> run_s32(const Case& c, const PackedQ8GemmB& b, Parallelism* parallelism) {
  std::vector<int32_t> out(static_cast<size_t>(std::max<int64_t>(c.m * c.ldc, 1)), 0x5A5A5A5A);
  Q8GemmOutput o;
  o.c_s32 = out.data();
  o.ldc = c.ldc;
  q8_gemm(c.m, c.n, c.k, c.a.data(), c.lda, c.a_signed, c.a_zp, b, o, parallelism);
  return out;
}

// The int32 sums of `c` on B packed as `b`, on the calling thread and on `pool`, equal the reference's.
void expect_reference_sums(const Case& c, const PackedQ8GemmB& b, ThreadPool& pool, int iteration) {
  const std::vector<int32_t> expected = reference(c);
  for (Parallelism* par : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
    const std::vector<int32_t> got = run_s32(c, b, par);
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        ASSERT_EQ(got[static_cast<size_t>(i * c.ldc + j)], expected[static_cast<size_t>(i * c.n + j)])
            << "iteration " << iteration << " at " << i << "," << j;
      }
    }
  }
}

class Q8GemmVariant : public KernelVariantTest<q8_gemm_kernel_names, q8_gemm_select_kernel> {};

TEST_P(Q8GemmVariant, Int32MatchesReference) {
  std::mt19937 rng(11);
  for (int iteration = 0; iteration < 400; ++iteration) {
    const int64_t m = 1 + static_cast<int64_t>(rng() % 70), n = 1 + static_cast<int64_t>(rng() % 70);
    const int64_t k = iteration % 7 == 0 ? static_cast<int64_t>(rng() % 3) : 1 + static_cast<int64_t>(rng() % 70);
    const bool a_signed = iteration & 1, b_signed = iteration & 2, trans_b = iteration & 4, per_column = iteration & 8;
    const int mode = iteration % 3 == 2 ? 1 : 0;
    const Case c = random_case(rng, m, n, k, a_signed, b_signed, trans_b, per_column, mode);
    const std::vector<int32_t> expected = reference(c);
    const std::vector<int32_t> got = run_s32(c, pack(c), nullptr);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        ASSERT_EQ(got[static_cast<size_t>(i * c.ldc + j)], expected[static_cast<size_t>(i * n + j)])
            << "at " << i << "," << j << " of " << m << "x" << n << "x" << k << " a_signed " << a_signed << " b_signed "
            << b_signed << " trans_b " << trans_b << " per_column " << per_column << " mode " << mode;
      }
      for (int64_t j = n; j < c.ldc; ++j) ASSERT_EQ(got[static_cast<size_t>(i * c.ldc + j)], 0x5A5A5A5A);
    }
  }
}

// The largest products everywhere: a long depth of (0 - 255) * (127 - -128) sums and (-128 - 127) * (-128 - 127).
// Row biases and the requantized 8-bit output: the same bytes as the int32 sums plus the bias followed by
// q8_requantize with each row's scale (float-valued scales, as QLinearConv's, and a few that are not).
TEST_P(Q8GemmVariant, RequantizedOutputMatchesSumsThenRequantize) {
  std::mt19937 rng(23);
  for (int iteration = 0; iteration < 120; ++iteration) {
    const int64_t m = 1 + static_cast<int64_t>(rng() % 40), n = 1 + static_cast<int64_t>(rng() % 90);
    const int64_t k = 1 + static_cast<int64_t>(rng() % 70);
    const bool a_signed = iteration & 1, b_signed = iteration & 2, out_signed = iteration & 4;
    const Case c = random_case(rng, m, n, k, a_signed, b_signed, false, false, 0);
    const PackedQ8GemmB b = pack(c);
    std::vector<int32_t> bias(static_cast<size_t>(m));
    std::vector<double> scales(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) {
      bias[static_cast<size_t>(i)] = static_cast<int32_t>(rng() % 20001) - 10000;
      const double scale =
          std::ldexp(1.0 + static_cast<double>(rng() % 1000) / 1000.0, -10 - static_cast<int>(rng() % 4));
      scales[static_cast<size_t>(i)] = iteration % 5 == 4 ? scale : static_cast<double>(static_cast<float>(scale));
    }
    const double zero_point =
        out_signed ? static_cast<double>(static_cast<int>(rng() % 256) - 128) : static_cast<double>(rng() % 256);
    // Expected: the int32 sums with the bias, requantized row by row.
    const std::vector<int32_t> sums = reference(c);
    std::vector<uint8_t> expected(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i) {
      std::vector<int32_t> row(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j) {
        row[static_cast<size_t>(j)] = static_cast<int32_t>(static_cast<uint32_t>(sums[static_cast<size_t>(i * n + j)]) +
                                                           static_cast<uint32_t>(bias[static_cast<size_t>(i)]));
      }
      q8_requantize(row.data(), n, &scales[static_cast<size_t>(i)], 0, zero_point, out_signed, expected.data() + i * n);
    }
    std::vector<uint8_t> got(static_cast<size_t>(m * c.ldc), 0xA5);
    Q8GemmOutput o;
    o.c_q8 = got.data();
    o.ldc = c.ldc;
    o.q8_signed = out_signed;
    o.row_scales = scales.data();
    o.q8_zero_point = zero_point;
    o.row_bias = bias.data();
    // Sums of at most 70 x 255 x 255 plus the bias: within 2^24, so small_sums may be claimed; with it, float scales
    // and whole 16-column tiles the AVX2 tiles requantize straight from their registers.
    o.q8_small_sums = iteration % 3 != 2;
    ThreadPool pool(2);
    q8_gemm(m, n, k, c.a.data(), c.lda, a_signed, c.a_zp, b, o, iteration % 2 ? &pool : nullptr);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        ASSERT_EQ(got[static_cast<size_t>(i * c.ldc + j)], expected[static_cast<size_t>(i * n + j)])
            << "at " << i << "," << j << " of " << m << "x" << n << "x" << k << " iteration " << iteration;
      }
      for (int64_t j = n; j < c.ldc; ++j) ASSERT_EQ(got[static_cast<size_t>(i * c.ldc + j)], 0xA5);
    }
    // The int32 output with row biases.
    std::vector<int32_t> with_bias(static_cast<size_t>(m * c.ldc));
    Q8GemmOutput s32;
    s32.c_s32 = with_bias.data();
    s32.ldc = c.ldc;
    s32.row_bias = bias.data();
    q8_gemm(m, n, k, c.a.data(), c.lda, a_signed, c.a_zp, b, s32, nullptr);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        ASSERT_EQ(static_cast<uint32_t>(with_bias[static_cast<size_t>(i * c.ldc + j)]),
                  static_cast<uint32_t>(sums[static_cast<size_t>(i * n + j)]) +
                      static_cast<uint32_t>(bias[static_cast<size_t>(i)]));
      }
    }
  }
  Q8GemmOutput bad;
  std::vector<uint8_t> out(4);
  const double scale = 1.0;
  bad.c_q8 = out.data();
  bad.ldc = 2;
  bad.row_scales = &scale;
  bad.q8_zero_point = 300;
  const std::vector<uint8_t> bytes(4, 1);
  const int32_t zp = 0;
  const PackedQ8GemmB b = pack_q8_gemm_b(false, false, 2, 2, bytes.data(), 2, &zp, 1);
  EXPECT_THROW(q8_gemm(2, 2, 2, bytes.data(), 2, false, 0, b, bad, nullptr), Error);
}

TEST_P(Q8GemmVariant, ExtremesDoNotSaturate) {
  for (const bool a_signed : {false, true}) {
    for (const bool b_signed : {false, true}) {
      for (const int corner : {0, 1, 2, 3}) {
        std::mt19937 rng(corner);
        Case c = random_case(rng, 9, 37, 1027, a_signed, b_signed, false, false, 1);
        const uint8_t a_byte = static_cast<uint8_t>(corner & 1 ? (a_signed ? 127 : 255) : (a_signed ? -128 : 0));
        const uint8_t b_byte = static_cast<uint8_t>(corner & 2 ? (b_signed ? 127 : 255) : (b_signed ? -128 : 0));
        std::fill(c.a.begin(), c.a.end(), a_byte);
        std::fill(c.b.begin(), c.b.end(), b_byte);
        c.a_zp = corner & 1 ? (a_signed ? -128 : 0) : (a_signed ? 127 : 255);
        c.b_zp = {corner & 2 ? (b_signed ? -128 : 0) : (b_signed ? 127 : 255)};
        const std::vector<int32_t> expected = reference(c);
        EXPECT_EQ(std::abs(expected[0]), 255 * 255 * 1027);
        const std::vector<int32_t> got = run_s32(c, pack(c), nullptr);
        for (int64_t i = 0; i < c.m; ++i) {
          for (int64_t j = 0; j < c.n; ++j) {
            ASSERT_EQ(got[static_cast<size_t>(i * c.ldc + j)], expected[static_cast<size_t>(i * c.n + j)])
                << a_signed << b_signed << corner;
          }
        }
      }
    }
  }
}

TEST_P(Q8GemmVariant, FloatOutputMatchesReference) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  for (int iteration = 0; iteration < 120; ++iteration) {
    const int64_t m = 1 + static_cast<int64_t>(rng() % 70), n = 1 + static_cast<int64_t>(rng() % 70);
    const int64_t k = 1 + static_cast<int64_t>(rng() % 70);
    const Case c = random_case(rng, m, n, k, iteration & 1, iteration & 2, iteration & 4, iteration & 8, 0);
    const bool per_column_scale = iteration & 16, with_bias = iteration & 32;
    std::vector<float> scales(per_column_scale ? static_cast<size_t>(n) : 1), bias(static_cast<size_t>(n));
    for (float& s : scales) s = uniform(rng) * 0.01f;
    for (float& v : bias) v = uniform(rng);
    const float a_scale = 0.0123f + uniform(rng) * 0.001f;
    std::vector<float> out(static_cast<size_t>(m * c.ldc), -7.0f);
    Q8GemmOutput o;
    o.c_f32 = out.data();
    o.ldc = c.ldc;
    o.a_scale = a_scale;
    o.b_scales = scales.data();
    o.b_scale_count = static_cast<int64_t>(scales.size());
    o.bias = with_bias ? bias.data() : nullptr;
    q8_gemm(m, n, k, c.a.data(), c.lda, c.a_signed, c.a_zp, pack(c), o, nullptr);
    const std::vector<int32_t> s = reference(c);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        volatile float v = static_cast<float>(s[static_cast<size_t>(i * n + j)]) * a_scale;
        v = v * scales[per_column_scale ? static_cast<size_t>(j) : 0];
        if (with_bias) v = v + bias[static_cast<size_t>(j)];
        const float got = out[static_cast<size_t>(i * c.ldc + j)];
        ASSERT_EQ(std::memcmp(&got, const_cast<const float*>(&v), sizeof got), 0)
            << got << " vs " << v << " at " << i << "," << j << " iteration " << iteration;
      }
    }
  }
}

TEST_P(Q8GemmVariant, ThreadsGiveTheSameBits) {
  ThreadPool pool(3);
  std::mt19937 rng(9);
  for (const auto& [m, n, k] : std::vector<std::array<int64_t, 3>>{
           {131, 77, 203}, {7, 300, 65}, {400, 33, 129}, {50, 70, 644}, {97, 90, 256}}) {
    // k a multiple of 4 with uint8 A: the VNNI kernel reads A in place (row sums past 64 bytes, masked tail); 256, a
    // multiple of 64: the AMX one too.
    const Case c = random_case(rng, m, n, k, k % 4 != 0, false, false, true, 0);
    const PackedQ8GemmB b = pack(c);
    const std::vector<int32_t> one = run_s32(c, b, nullptr);
    EXPECT_EQ(run_s32(c, b, &pool), one);
    const std::vector<int32_t> expected = reference(c);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        ASSERT_EQ(one[static_cast<size_t>(i * c.ldc + j)], expected[static_cast<size_t>(i * n + j)]);
      }
    }
  }
}

// uint8 A whose depth is a multiple of 64 (the AMX tiles read it in place, 16 rows per tile register) under row
// counts that end in every kind of partial strip, with int32, float and requantized outputs.
TEST_P(Q8GemmVariant, InPlaceAWithPartialStrips) {
  std::mt19937 rng(21);
  for (const int64_t m : {1, 8, 15, 16, 17, 31, 33, 70}) {
    for (const int64_t k : {64, 192}) {
      const int64_t n = 1 + static_cast<int64_t>(rng() % 50);
      const Case c = random_case(rng, m, n, k, false, m % 2 == 0, m % 3 == 0, m % 4 == 1, 0);
      const std::vector<int32_t> expected = reference(c);
      const std::vector<int32_t> got = run_s32(c, pack(c), nullptr);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          ASSERT_EQ(got[static_cast<size_t>(i * c.ldc + j)], expected[static_cast<size_t>(i * n + j)])
              << "at " << i << "," << j << " of " << m << "x" << n << "x" << k;
        }
      }
      std::vector<float> out(static_cast<size_t>(m * c.ldc));
      Q8GemmOutput o;
      o.c_f32 = out.data();
      o.ldc = c.ldc;
      o.a_scale = 0.5f;
      q8_gemm(m, n, k, c.a.data(), c.lda, c.a_signed, c.a_zp, pack(c), o, nullptr);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          ASSERT_EQ(out[static_cast<size_t>(i * c.ldc + j)],
                    static_cast<float>(expected[static_cast<size_t>(i * n + j)]) * 0.5f)
              << "at " << i << "," << j << " of " << m << "x" << n << "x" << k;
        }
      }
      std::vector<uint8_t> bytes(static_cast<size_t>(m * c.ldc));
      std::vector<double> row_scales(static_cast<size_t>(m));
      for (double& s : row_scales) s = 1.0 / (1000.0 + static_cast<double>(rng() % 4000));
      Q8GemmOutput q;
      q.c_q8 = bytes.data();
      q.ldc = c.ldc;
      q.row_scales = row_scales.data();
      q.q8_zero_point = 100;
      q8_gemm(m, n, k, c.a.data(), c.lda, c.a_signed, c.a_zp, pack(c), q, nullptr);
      for (int64_t i = 0; i < m; ++i) {
        std::vector<uint8_t> want(static_cast<size_t>(n));
        q8_requantize(expected.data() + i * n, n, &row_scales[static_cast<size_t>(i)], 0, 100, false, want.data());
        for (int64_t j = 0; j < n; ++j) {
          ASSERT_EQ(bytes[static_cast<size_t>(i * c.ldc + j)], want[static_cast<size_t>(j)])
              << "at " << i << "," << j << " of " << m << "x" << n << "x" << k;
        }
      }
    }
  }
}

// q8_requantize against std::nearbyint and a clamp, bit for bit: ties to even, saturation at both ends, huge
// products and scales, one scale and one per value, both output types.
TEST_P(Q8GemmVariant, RequantizeMatchesNearbyint) {
  std::mt19937 rng(12);
  std::vector<int32_t> values(777);
  std::vector<double> scales(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = i % 5 == 0 ? static_cast<int32_t>(rng()) : static_cast<int32_t>(rng() % 2001) - 1000;
    const double choices[] = {0.5, 0.25, 1.0 / 3, 0.1, 1e-7, 5e9, static_cast<float>(rng() % 1000) * 1e-3f};
    scales[i] = choices[rng() % 7];
  }
  for (const bool out_signed : {false, true}) {
    const double low = out_signed ? -128 : 0, high = out_signed ? 127 : 255;
    for (const double zero_point : {0.0, 5.0, low, high}) {
      for (const int64_t stride : {int64_t{0}, int64_t{1}}) {
        std::vector<uint8_t> out(values.size());
        q8_requantize(values.data(), static_cast<int64_t>(values.size()), scales.data(), stride, zero_point, out_signed,
                      out.data());
        for (size_t i = 0; i < values.size(); ++i) {
          const double want = std::clamp(std::nearbyint(values[i] * scales[i * stride]) + zero_point, low, high);
          const double got = out_signed ? static_cast<int8_t>(out[i]) : out[i];
          ASSERT_EQ(got, want) << values[i] << " * " << scales[i * stride] << " + " << zero_point;
        }
      }
    }
  }
}

// With a float scale (the QLinear operators round theirs to float) the x86 variants requantize in float: the same
// bytes as in double, products that land next to a halfway point included (a value chosen so v * s is within a few
// units of k + 0.5, for random float scales), and values around the +-2^24 boundary where float stops being exact.
TEST_P(Q8GemmVariant, RequantizeWithFloatScalesMatchesDouble) {
  std::mt19937 rng(31);
  std::uniform_real_distribution<float> log_scale(-14.0f, 1.0f);
  for (int round = 0; round < 200; ++round) {
    const double scale = static_cast<float>(std::exp2(log_scale(rng)));
    std::vector<int32_t> values(101);
    for (size_t i = 0; i < values.size(); ++i) {
      const double target = static_cast<double>(static_cast<int>(rng() % 400) - 200) + 0.5;
      values[i] = static_cast<int32_t>(std::llround(target / scale)) + static_cast<int32_t>(rng() % 5) - 2;
      if (i % 17 == 3) values[i] = (1 << 24) + static_cast<int32_t>(rng() % 5) - 2;
      if (i % 17 == 7) values[i] = -(1 << 24) + static_cast<int32_t>(rng() % 5) - 2;
      if (i % 29 == 11) values[i] = i % 2 ? INT32_MAX : INT32_MIN;
    }
    for (const bool out_signed : {false, true}) {
      const double low = out_signed ? -128 : 0, high = out_signed ? 127 : 255;
      const double zero_point = out_signed ? static_cast<double>(rng() % 11) - 5 : static_cast<double>(rng() % 11);
      std::vector<uint8_t> out(values.size());
      q8_requantize(values.data(), static_cast<int64_t>(values.size()), &scale, 0, zero_point, out_signed, out.data());
      for (size_t i = 0; i < values.size(); ++i) {
        const double want = std::clamp(std::nearbyint(values[i] * scale) + zero_point, low, high);
        const double got = out_signed ? static_cast<int8_t>(out[i]) : out[i];
        ASSERT_EQ(got, want) << values[i] << " * " << scale << " + " << zero_point << " on " << GetParam();
      }
    }
  }
}

// Moderate float scales (below 64, where the x86 variants round and saturate in the integer domain: int16 packs, a
// saturating zero-point addition, byte packs) against the double definition: products near +-32768 and beyond, where
// those saturations meet the zero point's extremes, halfway products, values near +-2^24 (checked and with
// small_sums), and counts that leave 16-value blocks, single registers and a scalar tail.
TEST_P(Q8GemmVariant, RequantizeModerateScalesSaturateLikeDouble) {
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> log_scale(-12.0f, 5.99f);
  for (int round = 0; round < 300; ++round) {
    const double scale = round % 50 == 0 ? static_cast<double>(63.99f) : static_cast<float>(std::exp2(log_scale(rng)));
    std::vector<int32_t> values(16 * 5 + 8 + 3);
    for (size_t i = 0; i < values.size(); ++i) {
      const double target = i % 3 == 0   ? static_cast<double>(static_cast<int>(rng() % 400) - 200) + 0.5
                            : i % 3 == 1 ? (rng() % 2 ? 1 : -1) * (32768.0 + static_cast<int>(rng() % 600) - 300)
                                         : static_cast<double>(static_cast<int>(rng() % 70000) - 35000);
      values[i] = static_cast<int32_t>(std::clamp(std::llround(target / scale), -(1LL << 24), 1LL << 24)) +
                  static_cast<int32_t>(rng() % 3) - 1;
      if (i % 19 == 4) values[i] = (i % 2 ? 1 : -1) * ((1 << 24) - static_cast<int32_t>(rng() % 2));
    }
    for (const bool out_signed : {false, true}) {
      const double low = out_signed ? -128 : 0, high = out_signed ? 127 : 255;
      for (const double zero_point : {low, high, out_signed ? 0.0 : 128.0}) {
        for (const bool small : {false, true}) {
          std::vector<uint8_t> out(values.size());
          q8_requantize(values.data(), static_cast<int64_t>(values.size()), &scale, 0, zero_point, out_signed,
                        out.data(), small);
          for (size_t i = 0; i < values.size(); ++i) {
            const double want = std::clamp(std::nearbyint(values[i] * scale) + zero_point, low, high);
            const double got = out_signed ? static_cast<int8_t>(out[i]) : out[i];
            ASSERT_EQ(got, want) << values[i] << " * " << scale << " + " << zero_point << " small " << small << " on "
                                 << GetParam();
          }
        }
      }
    }
  }
}

// q8_requantize_float_sums: the bytes of q8_requantize over int32(sum) + bias, the bias added with wrap-around,
// over several chunks and a tail, sums near +-2^24 and biases that wrap.
TEST_P(Q8GemmVariant, RequantizeFloatSumsMatchesInt32Path) {
  std::mt19937 rng(41);
  std::vector<float> sums(600);
  for (size_t i = 0; i < sums.size(); ++i) {
    sums[i] = static_cast<float>(static_cast<int32_t>(rng() % 4001) - 2000);
    if (i % 13 == 5) sums[i] = static_cast<float>((1 << 24) - static_cast<int32_t>(rng() % 3));
    if (i % 13 == 9) sums[i] = -static_cast<float>(1 << 24);
  }
  for (const int32_t bias : {0, 7, -123456, INT32_MAX, INT32_MIN + 5}) {
    for (const double scale : {0.01, static_cast<double>(0.0371f), 1.0 / 3, 2.0}) {
      for (const bool out_signed : {false, true}) {
        const double zero_point = out_signed ? -3 : 128;
        std::vector<int32_t> values(sums.size());
        for (size_t i = 0; i < sums.size(); ++i)
          values[i] =
              static_cast<int32_t>(static_cast<uint32_t>(static_cast<int32_t>(sums[i])) + static_cast<uint32_t>(bias));
        for (const int64_t count : {int64_t{600}, int64_t{257}, int64_t{15}}) {
          std::vector<uint8_t> want(sums.size(), 0x5A), got(sums.size(), 0x5A);
          q8_requantize(values.data(), count, &scale, 0, zero_point, out_signed, want.data());
          q8_requantize_float_sums(sums.data(), count, bias, scale, zero_point, out_signed, got.data());
          ASSERT_EQ(got, want) << "bias " << bias << " scale " << scale << " count " << count << " on " << GetParam();
        }
      }
    }
  }
}

// small_sums (values known to lie within +-2^24) skips only the range test: the same bytes as without it, for
// values up to the bound itself, products next to halfway points, float and non-float scales, both output types.
TEST_P(Q8GemmVariant, RequantizeSmallSumsMatchesChecked) {
  std::mt19937 rng(57);
  std::uniform_real_distribution<float> log_scale(-20.0f, 5.0f);
  for (int round = 0; round < 100; ++round) {
    const double scale = round % 5 == 4 ? 1.0 / 3 : static_cast<double>(static_cast<float>(std::exp2(log_scale(rng))));
    std::vector<int32_t> values(203);
    for (size_t i = 0; i < values.size(); ++i) {
      const double target = static_cast<double>(static_cast<int>(rng() % 400) - 200) + 0.5;
      values[i] = std::clamp<int32_t>(static_cast<int32_t>(std::llround(target / scale)), -(1 << 24), 1 << 24) +
                  static_cast<int32_t>(rng() % 3) - 1;
      values[i] = std::clamp(values[i], -(1 << 24), 1 << 24);
      if (i % 23 == 5) values[i] = i % 2 ? 1 << 24 : -(1 << 24);
    }
    std::vector<float> sums(values.size());
    for (size_t i = 0; i < values.size(); ++i) sums[i] = static_cast<float>(values[i]);
    for (const bool out_signed : {false, true}) {
      const double zero_point = out_signed ? -7 : 131;
      const int64_t count = static_cast<int64_t>(values.size());
      std::vector<uint8_t> checked(values.size()), small(values.size()), small_floats(values.size());
      q8_requantize(values.data(), count, &scale, 0, zero_point, out_signed, checked.data());
      q8_requantize(values.data(), count, &scale, 0, zero_point, out_signed, small.data(), true);
      q8_requantize_float_sums(sums.data(), count, 0, scale, zero_point, out_signed, small_floats.data(), true);
      ASSERT_EQ(small, checked) << "scale " << scale << " on " << GetParam();
      ASSERT_EQ(small_floats, checked) << "scale " << scale << " on " << GetParam();
    }
  }
}

// q8_requantize_float_sums_channels and q8_requantize_channels (int32 sums, strided rows): channels-last sums, a
// bias and a scale per channel, the bytes of q8_requantize channel by channel. Channel counts of whole registers and
// with tails (1, 8, 13, 16, 21, 64), float scales near halfway products, a non-float scale and a scale of 64 and more
// (the float path's limits), sums near
// +-2^24 and biases that wrap, with and without small_sums, both output types and a non-integer zero point.
TEST_P(Q8GemmVariant, RequantizeFloatSumsChannelsMatchesPerChannel) {
  std::mt19937 rng(73);
  std::uniform_real_distribution<float> log_scale(-14.0f, 1.0f);
  for (const int64_t channels : {int64_t{1}, int64_t{8}, int64_t{13}, int64_t{16}, int64_t{21}, int64_t{64}}) {
    for (int round = 0; round < 12; ++round) {
      const int64_t positions = 1 + static_cast<int64_t>(rng() % 40);
      const bool small = round % 2 == 0;
      std::vector<double> scales(static_cast<size_t>(channels));
      std::vector<int32_t> bias(static_cast<size_t>(channels));
      for (int64_t c = 0; c < channels; ++c) {
        scales[c] = static_cast<float>(std::exp2(log_scale(rng)));
        bias[c] = small ? static_cast<int32_t>(rng() % 2001) - 1000 : static_cast<int32_t>(rng());
      }
      if (round == 3) scales[0] = 1.0 / 3;          // not a float: the double path
      if (round == 5) scales[channels - 1] = 70.0;  // beyond the moderate float path
      std::vector<float> sums(static_cast<size_t>(positions * channels));
      for (int64_t i = 0; i < positions * channels; ++i) {
        const int64_t c = i % channels;
        // Products next to halfway points, and every fifth next to +-32768 (the int16 saturation of the moderate
        // AVX2 path, met by the zero point's extremes in rounds 9 and 11).
        const double target = i % 5 == 1 ? (rng() % 2 ? 1 : -1) * (32768.5 + static_cast<int>(rng() % 200) - 100)
                                         : static_cast<double>(static_cast<int>(rng() % 400) - 200) + 0.5;
        int64_t v = std::llround(target / scales[c]) - bias[c] + static_cast<int64_t>(rng() % 5) - 2;
        if (!small && i % 11 == 4) v = (1 << 24) + static_cast<int64_t>(rng() % 5);
        v = std::clamp<int64_t>(v, -(1 << 24) + 1000, (1 << 24) - 1000);
        sums[i] = static_cast<float>(v);
      }
      for (const bool out_signed : {false, true}) {
        const double zero_point = round == 7    ? 2.5
                                  : round == 9  ? (out_signed ? -128.0 : 0.0)
                                  : round == 11 ? (out_signed ? 127.0 : 255.0)
                                                : (out_signed ? -5.0 : 130.0);
        std::vector<uint8_t> got(sums.size(), 0x5A);
        q8_requantize_float_sums_channels(sums.data(), positions, channels, bias.data(), scales.data(), zero_point,
                                          out_signed, got.data(), small);
        for (int64_t c = 0; c < channels; ++c) {
          std::vector<int32_t> values(static_cast<size_t>(positions));
          for (int64_t p = 0; p < positions; ++p) {
            values[p] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<int32_t>(sums[p * channels + c])) +
                                             static_cast<uint32_t>(bias[c]));
          }
          std::vector<uint8_t> want(static_cast<size_t>(positions));
          q8_requantize(values.data(), positions, &scales[c], 0, zero_point, out_signed, want.data());
          for (int64_t p = 0; p < positions; ++p) {
            ASSERT_EQ(got[p * channels + c], want[p]) << "channel " << c << " of " << channels << ", position " << p
                                                      << ", scale " << scales[c] << " on " << GetParam();
          }
        }
        // q8_requantize_channels: the same sums as int32, rows apart by strides wider than the channels, the same
        // bytes, and nothing written between rows.
        const int64_t ld_sums = channels + 3, ld_out = channels + 5;
        std::vector<int32_t> strided(static_cast<size_t>(positions * ld_sums), 0x7FFFFFFF);
        for (int64_t p = 0; p < positions; ++p) {
          for (int64_t c = 0; c < channels; ++c)
            strided[p * ld_sums + c] = static_cast<int32_t>(sums[p * channels + c]);
        }
        std::vector<uint8_t> from_int32(static_cast<size_t>(positions * ld_out), 0x5A);
        q8_requantize_channels(strided.data(), positions, channels, ld_sums, bias.data(), scales.data(), zero_point,
                               out_signed, from_int32.data(), ld_out, small);
        for (int64_t p = 0; p < positions; ++p) {
          for (int64_t c = 0; c < ld_out; ++c) {
            ASSERT_EQ(from_int32[p * ld_out + c], c < channels ? got[p * channels + c] : 0x5A)
                << "int32 sums: channel " << c << " of " << channels << ", position " << p << " on " << GetParam();
          }
        }
        // Without a bias: as with zeros.
        std::vector<uint8_t> no_bias(sums.size()), zero_bias(sums.size());
        const std::vector<int32_t> zeros(static_cast<size_t>(channels), 0);
        q8_requantize_float_sums_channels(sums.data(), positions, channels, nullptr, scales.data(), zero_point,
                                          out_signed, no_bias.data(), false);
        q8_requantize_float_sums_channels(sums.data(), positions, channels, zeros.data(), scales.data(), zero_point,
                                          out_signed, zero_bias.data(), false);
        ASSERT_EQ(no_bias, zero_bias) << GetParam();
      }
    }
  }
}

TEST(Q8Gemm, RejectsMismatchesAndBadZeroPoints) {
  const std::vector<uint8_t> b(12, 1);
  const int32_t zp = 300;
  EXPECT_THROW(pack_q8_gemm_b(false, false, 3, 4, b.data(), 4, &zp, 1), Error);
  const int32_t ok = 3;
  EXPECT_THROW(pack_q8_gemm_b(false, false, 3, 4, b.data(), 4, &ok, 2), Error);
  const PackedQ8GemmB packed = pack_q8_gemm_b(false, false, 3, 4, b.data(), 4, &ok, 1);
  EXPECT_EQ(packed.depth(), 3);
  EXPECT_EQ(packed.columns(), 4);
  std::vector<int32_t> c(8);
  Q8GemmOutput o;
  o.c_s32 = c.data();
  o.ldc = 4;
  EXPECT_THROW(q8_gemm(2, 4, 5, b.data(), 5, false, 0, packed, o, nullptr), Error);
  EXPECT_THROW(q8_gemm(2, 4, 3, b.data(), 3, true, 200, packed, o, nullptr), Error);
  q8_gemm(2, 4, 3, b.data(), 3, false, 0, packed, o, nullptr);
  EXPECT_EQ(c, std::vector<int32_t>(8, -6));  // (1 - 0) * (1 - 3) * 3
}

// The CPUID choice packs and runs shallow GEMMs, and ones whose padding to whole depth tiles would add more than a
// quarter, on the next variant where the first pays off only on the others (the AMX tiles: depth >= 64), and the
// results are exact either way.
TEST(Q8Gemm, CpuidChoiceByDepth) {
  const std::vector<std::string> names = q8_gemm_kernel_names();
  const bool amx_first = names.front().find("amx") != std::string::npos;
  std::mt19937 rng(31);
  for (const int64_t k : {8, 32, 63, 64, 96, 147, 160, 255, 640}) {
    const bool on_amx = k >= 64 && k != 96 && k != 147;  // 96 pads to 128, 147 to 192: more than a quarter
    const std::string expected_kernel = amx_first && !on_amx ? names[1] : names[0];
    EXPECT_EQ(q8_gemm_kernel_name_for_depth(k), expected_kernel) << k;
    const Case c = random_case(rng, 37, 45, k, false, true, false, true, 0);
    const PackedQ8GemmB b = pack(c);
    EXPECT_EQ(b.kernel_name(), expected_kernel) << k;
    const std::vector<int32_t> expected = reference(c);
    const std::vector<int32_t> got = run_s32(c, b, nullptr);
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        ASSERT_EQ(got[static_cast<size_t>(i * c.ldc + j)], expected[static_cast<size_t>(i * c.n + j)]) << k;
      }
    }
  }
  if (!amx_first) GTEST_LOG_(INFO) << "no AMX tiles on this CPU: every depth runs on " << names.front();
}

// A column range (Q8GemmOutput::first_column / last_column, whole strips): those columns exactly, on one thread and
// on a pool, nothing written outside them; a range that is not whole strips is refused.
TEST_P(Q8GemmVariant, ColumnRange) {
  std::mt19937 rng(57);
  ThreadPool pool(3);
  for (const int64_t k : {24, 128, 200}) {
    const int64_t strip = q8_gemm_strip_columns(k);
    const int64_t n = 3 * strip + 5;
    const Case c = random_case(rng, 37, n, k, false, true, false, true, 0);
    const PackedQ8GemmB b = pack(c);
    const std::vector<int32_t> expected = reference(c);
    for (const auto& [first, last] :
         std::vector<std::pair<int64_t, int64_t>>{{0, strip}, {strip, 3 * strip}, {2 * strip, n}}) {
      for (Parallelism* par : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
        std::vector<int32_t> out(static_cast<size_t>(c.m * c.ldc), 0x5A5A5A5A);
        Q8GemmOutput o;
        o.c_s32 = out.data();
        o.ldc = c.ldc;
        o.first_column = first;
        o.last_column = last;
        q8_gemm(c.m, c.n, c.k, c.a.data(), c.lda, c.a_signed, c.a_zp, b, o, par);
        for (int64_t i = 0; i < c.m; ++i) {
          for (int64_t j = 0; j < c.ldc; ++j) {
            const int32_t got = out[static_cast<size_t>(i * c.ldc + j)];
            if (j >= first && j < last) {
              ASSERT_EQ(got, expected[static_cast<size_t>(i * c.n + j)]) << "k " << k << " at " << i << "," << j;
            } else {
              ASSERT_EQ(got, 0x5A5A5A5A) << "k " << k << " written outside the range at " << i << "," << j;
            }
          }
        }
      }
    }
    Q8GemmOutput bad;
    std::vector<int32_t> out(static_cast<size_t>(c.m * c.ldc));
    bad.c_s32 = out.data();
    bad.ldc = c.ldc;
    bad.first_column = 1;
    EXPECT_THROW(q8_gemm(c.m, c.n, c.k, c.a.data(), c.lda, c.a_signed, c.a_zp, b, bad, nullptr), Error);
  }
}

// q8_gemm_on_amx_is_small: only GEMMs the CPUID choice runs on the AMX tiles, and only below 2^24 multiply-adds.
// Where the AVX2 tile runs (no VNNI, or the AVX2 variant selected), a B whose bytes fit in 7 bits (int8 in
// [-64, 64], uint8 in [0, 128]: reduced-range weights) is packed for the vpmaddubsw tile, whose int16 pair sums
// then cannot saturate, and the sums stay exact at the extremes of A; one byte outside keeps the int16 tile.
TEST(Q8Gemm, NarrowBRunsOnTheB7TileExactly) {
  const std::vector<std::string> names = q8_gemm_kernel_names();
  if (std::find(names.begin(), names.end(), "q8_gemm_ukernel_4x16__avx2") == names.end()) {
    GTEST_SKIP() << "the CPU runs no AVX2 q8-gemm tile";
  }
  ASSERT_TRUE(q8_gemm_select_kernel("q8_gemm_ukernel_4x16__avx2"));
  std::mt19937 rng(77);
  ThreadPool pool(2);
  for (int iteration = 0; iteration < 48; ++iteration) {
    const bool a_signed = iteration & 1, b_signed = iteration & 2, trans_b = iteration & 4, extremes = iteration & 8;
    const bool outside = iteration % 16 >= 12;
    const int64_t m = 1 + static_cast<int64_t>(rng() % 40), n = 1 + static_cast<int64_t>(rng() % 50);
    // Every other depth a multiple of 4: uint8 A is then read in place (its row sums by vpsadbw), else packed.
    const int64_t k =
        iteration % 4 < 2 ? 4 * (1 + static_cast<int64_t>(rng() % 75)) : 1 + static_cast<int64_t>(rng() % 300);
    Case c = random_case(rng, m, n, k, a_signed, b_signed, trans_b, iteration & 16, 0);
    const int lo = b_signed ? -64 : 0, hi = b_signed ? 64 : 128;
    for (uint8_t& v : c.b)
      v = static_cast<uint8_t>(extremes ? (rng() % 2 ? lo : hi) : lo + static_cast<int>(rng() % 129));
    if (extremes) {
      std::fill(c.a.begin(), c.a.end(), static_cast<uint8_t>(a_signed ? 127 : 255));
      c.a_zp = a_signed ? -128 : 0;
    }
    if (outside) c.b[c.b.size() / 2] = static_cast<uint8_t>(b_signed ? -65 : 129);
    // The byte past the matrix (random_case's padding) must not matter: only op(B)'s own bytes are looked at.
    const PackedQ8GemmB b = pack(c);
    const bool in_matrix = (c.trans_b ? c.b.size() / 2 % c.ldb < static_cast<size_t>(c.k)
                                      : c.b.size() / 2 % c.ldb < static_cast<size_t>(c.n)) &&
                           c.b.size() / 2 / c.ldb < static_cast<size_t>(c.trans_b ? c.n : c.k);
    EXPECT_STREQ(b.kernel_name(), outside && in_matrix ? "q8_gemm_ukernel_4x16__avx2" : "q8_gemm_b7_ukernel_4x16__avx2")
        << iteration;
    EXPECT_TRUE(q8_gemm_runs_packed(b));
    ASSERT_NO_FATAL_FAILURE(expect_reference_sums(c, b, pool, iteration));
  }
  q8_gemm_select_kernel("");
}

// An A whose A' (uint8 A, int8 A + 128) lies in [0, 128] (reduced-range weights shifted into uint8) under any B:
// pack_q8_gemm_b_for_narrow_a takes the vpmaddubsw tile the other way round, exact at the extremes (A' = 128 against
// B' = -128 and 127), bit for bit against the reference; an A' of 129 is refused rather than saturated.
TEST(Q8Gemm, NarrowARunsOnTheA7TileExactly) {
  const std::vector<std::string> names = q8_gemm_kernel_names();
  if (std::find(names.begin(), names.end(), "q8_gemm_ukernel_4x16__avx2") == names.end()) {
    GTEST_SKIP() << "the CPU runs no AVX2 q8-gemm tile";
  }
  ASSERT_TRUE(q8_gemm_select_kernel("q8_gemm_ukernel_4x16__avx2"));
  EXPECT_TRUE(q8_gemm_has_narrow_a_kernel(64));
  std::mt19937 rng(78);
  ThreadPool pool(2);
  for (int iteration = 0; iteration < 32; ++iteration) {
    const bool a_signed = iteration & 1, b_signed = iteration & 2, trans_b = iteration & 4, extremes = iteration & 8;
    const int64_t m = 1 + static_cast<int64_t>(rng() % 40), n = 1 + static_cast<int64_t>(rng() % 50);
    // Every other depth a multiple of 4: uint8 A is then read in place (its row sums by vpsadbw), else packed.
    const int64_t k =
        iteration % 4 < 2 ? 4 * (1 + static_cast<int64_t>(rng() % 75)) : 1 + static_cast<int64_t>(rng() % 300);
    Case c = random_case(rng, m, n, k, a_signed, b_signed, trans_b, iteration & 16, 0);
    // A' in [0, 128]: uint8 A itself, int8 A = A' - 128 in [-128, 0].
    for (uint8_t& v : c.a) {
      const int a_prime = extremes ? (rng() % 2 ? 0 : 128) : static_cast<int>(rng() % 129);
      v = static_cast<uint8_t>(a_signed ? a_prime - 128 : a_prime);
    }
    if (extremes) {
      // B' = -128 or 127: int8 B as it is, uint8 B less 128.
      for (uint8_t& v : c.b) v = static_cast<uint8_t>(rng() % 2 ? (b_signed ? 0x80 : 0x00) : (b_signed ? 0x7F : 0xFF));
    }
    const PackedQ8GemmB b = pack_q8_gemm_b_for_narrow_a(c.b_signed, c.trans_b, c.k, c.n, c.b.data(), c.ldb,
                                                        c.b_zp.data(), static_cast<int64_t>(c.b_zp.size()));
    EXPECT_STREQ(b.kernel_name(), "q8_gemm_a7_ukernel_4x16__avx2") << iteration;
    EXPECT_TRUE(q8_gemm_runs_packed(b));
    ASSERT_NO_FATAL_FAILURE(expect_reference_sums(c, b, pool, iteration));
    if (iteration == 0) {
      c.a[0] = static_cast<uint8_t>(a_signed ? 1 : 129);  // A' = 129
      try {
        run_s32(c, b, nullptr);
        ADD_FAILURE() << "an A' of 129 ran on the narrow-A tile";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      }
    }
  }
  q8_gemm_select_kernel("");
}

// Where the AVX2 tile runs, a B whose zero points are int8's 0 or uint8's 128 (symmetric weights) is packed as 8-bit
// B - zb and widened in the tile (q8_gemm_b8_ukernel_4x16__avx2): exact at the extremes of A and B, bit for bit
// against the reference; one column with another zero point keeps the int16 tile, a 7-bit B the vpmaddubsw one.
TEST(Q8Gemm, CentredBRunsOnTheByteBTileExactly) {
  const std::vector<std::string> names = q8_gemm_kernel_names();
  if (std::find(names.begin(), names.end(), "q8_gemm_ukernel_4x16__avx2") == names.end()) {
    GTEST_SKIP() << "the CPU runs no AVX2 q8-gemm tile";
  }
  ASSERT_TRUE(q8_gemm_select_kernel("q8_gemm_ukernel_4x16__avx2"));
  std::mt19937 rng(79);
  ThreadPool pool(2);
  for (int iteration = 0; iteration < 48; ++iteration) {
    const bool a_signed = iteration & 1, b_signed = iteration & 2, trans_b = iteration & 4, extremes = iteration & 8;
    const bool off_centre = iteration % 16 >= 12, per_column = iteration & 16;
    // Rows 1-4 (the GEMV-like products this tile is for) on every fourth case, up to 40 on the others.
    const int64_t m = 1 + static_cast<int64_t>(rng() % (iteration % 4 == 0 ? 4 : 40));
    const int64_t n = 1 + static_cast<int64_t>(rng() % 50), k = 1 + static_cast<int64_t>(rng() % 300);
    Case c = random_case(rng, m, n, k, a_signed, b_signed, trans_b, per_column, extremes ? 1 : 0);
    const int32_t centre = b_signed ? 0 : 128;
    std::fill(c.b_zp.begin(), c.b_zp.end(), centre);
    // A byte beyond 7 bits, so the vpmaddubsw tile never takes it.
    c.b[0] = static_cast<uint8_t>(b_signed ? -128 : 0);
    if (off_centre) c.b_zp.back() = centre + 1;
    const PackedQ8GemmB b = pack(c);
    EXPECT_STREQ(b.kernel_name(), off_centre ? "q8_gemm_ukernel_4x16__avx2" : "q8_gemm_b8_ukernel_4x16__avx2")
        << iteration;
    EXPECT_EQ(q8_gemm_packed_for_byte_b(b), !off_centre);
    EXPECT_TRUE(q8_gemm_runs_packed(b));
    ASSERT_NO_FATAL_FAILURE(expect_reference_sums(c, b, pool, iteration));
  }
  // A 7-bit B with zero point 0 still goes to the vpmaddubsw tile.
  Case c = random_case(rng, 3, 20, 64, false, true, false, false, 0);
  for (uint8_t& v : c.b) v = static_cast<uint8_t>(static_cast<int>(rng() % 129) - 64);
  c.b_zp = {0};
  EXPECT_STREQ(pack(c).kernel_name(), "q8_gemm_b7_ukernel_4x16__avx2");
  q8_gemm_select_kernel("");
}

TEST(Q8Gemm, SmallAmxGemms) {
  const bool amx = std::string(q8_gemm_kernel_name_for_depth(576)).find("__amx") != std::string::npos;
  EXPECT_EQ(q8_gemm_on_amx_is_small(196, 96, 576), amx);  // 10.8M multiply-adds
  EXPECT_FALSE(q8_gemm_on_amx_is_small(3136, 64, 576));   // 116M
  EXPECT_FALSE(q8_gemm_on_amx_is_small(196, 96, 32));     // depth 32: not on the AMX tiles
  EXPECT_EQ(q8_gemm_on_amx_is_small(1, 1000, 1280), amx);
}

INSTANTIATE_TEST_SUITE_P(AllVariants, Q8GemmVariant,
                         ::testing::Values("q8_gemm_ukernel_32x32__amx", "q8_gemm_ukernel_8x32__avx512vnni",
                                           "q8_gemm_ukernel_6x16__avxvnni", "q8_gemm_ukernel_4x16__avx2",
                                           "q8_gemm_ukernel_4x8__portable"),
                         [](const auto& info) {
                           const std::string name = info.param;
                           return name.substr(name.rfind('_') + 1);
                         });

}  // namespace
}  // namespace tessera
