// Tests of kernels/f32-sqdist: every variant this CPU can run against a double-precision loop, over row counts that
// leave every tile height (1-4 rows), column counts that leave partial panels, depths 0-70, column ranges that start
// inside B, transposed and strided outputs (nothing written outside the range), square roots, and NaN / infinity
// propagation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "base/error.h"
#include "kernel_variant_test.h"
#include "kernels/f32-sqdist/f32-sqdist.h"

namespace tessera {
namespace {

double reference(const float* a, const float* b, int64_t k) {
  double sum = 0;
  for (int64_t p = 0; p < k; ++p) {
    const double diff = static_cast<double>(a[p]) - b[p];
    sum += diff * diff;
  }
  return sum;
}

class SqdistVariant : public KernelVariantTest<sqdist_f32_kernel_names, sqdist_f32_select_kernel> {};

TEST_P(SqdistVariant, MatchesDoubleLoop) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  for (int iteration = 0; iteration < 120; ++iteration) {
    const int64_t m = 1 + rng() % 11, n = 1 + rng() % 70, k = rng() % 71;
    const int64_t lda = k + rng() % 3, ldb = k + rng() % 3;
    std::vector<float> a(static_cast<size_t>(m * lda + 1)), b(static_cast<size_t>(n * ldb + 1));
    for (float& v : a) v = uniform(rng);
    for (float& v : b) v = uniform(rng);
    const PackedSqdistB packed = pack_sqdist_b_f32(n, k, b.data(), ldb);
    // A column range from a panel boundary to the end, written transposed every other time.
    const int64_t j_begin = kSqdistPanel * static_cast<int64_t>(rng() % (1 + (n - 1) / kSqdistPanel));
    const bool transposed = iteration % 2 == 1;
    const int64_t d_row = transposed ? 1 : n + 2, d_col = transposed ? m + 1 : 1;
    const bool root = iteration % 3 == 0;
    std::vector<float> d(static_cast<size_t>(transposed ? n * d_col : m * d_row), -7.0f);
    sqdist_f32(m, a.data(), lda, packed, j_begin, n, d.data(), d_row, d_col, root);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const float got = d[static_cast<size_t>(i * d_row + j * d_col)];
        if (j < j_begin) {
          ASSERT_EQ(got, -7.0f) << "written outside the range at " << i << ", " << j;
          continue;
        }
        const double sum = reference(a.data() + i * lda, b.data() + j * ldb, k);
        const double expected = root ? std::sqrt(sum) : sum;
        ASSERT_NEAR(got, expected, 1e-5 * (1 + expected))
            << "iteration " << iteration << " (" << i << ", " << j << ") of " << m << "x" << n << "x" << k;
      }
    }
  }
}

TEST_P(SqdistVariant, PropagatesNanAndInfinity) {
  const int64_t k = 5;
  std::vector<float> a(2 * k, 1.0f), b(3 * k, 0.0f);
  a[2] = std::numeric_limits<float>::quiet_NaN();         // row 0: NaN everywhere
  b[1 * k + 4] = std::numeric_limits<float>::infinity();  // column 1: infinite for row 1
  const PackedSqdistB packed = pack_sqdist_b_f32(3, k, b.data(), k);
  std::vector<float> d(6);
  sqdist_f32(2, a.data(), k, packed, 0, 3, d.data(), 3, 1);
  for (int j = 0; j < 3; ++j) EXPECT_TRUE(std::isnan(d[j])) << j;
  EXPECT_EQ(d[3], 5.0f);
  EXPECT_TRUE(std::isinf(d[4]));
  EXPECT_EQ(d[5], 5.0f);
}

INSTANTIATE_TEST_SUITE_P(AllVariants, SqdistVariant,
                         ::testing::Values("f32_sqdist__avx512", "f32_sqdist__avx2", "f32_sqdist__portable"),
                         [](const auto& info) { return std::string(info.param).substr(12); });

TEST(SqdistTest, RejectsARangeThatStartsInsideAPanel) {
  std::vector<float> b(40 * 3, 1.0f), a(3, 0.0f), d(40);
  const PackedSqdistB packed = pack_sqdist_b_f32(40, 3, b.data(), 3);
  EXPECT_THROW(sqdist_f32(1, a.data(), 3, packed, 5, 40, d.data(), 40, 1), Error);
  EXPECT_THROW(sqdist_f32(1, a.data(), 3, packed, 0, 20, d.data(), 40, 1), Error);
  EXPECT_NO_THROW(sqdist_f32(1, a.data(), 3, packed, 16, 32, d.data(), 40, 1));
}

}  // namespace
}  // namespace tessera
