// f32 GEMM with a plain A under a wide C (at least 8192 columns, as a language model's vocabulary head): A is packed
// once and shared by every column block rather than read in place, with the same bits as a pre-packed A and the
// reference's values, for every micro-kernel this CPU runs, on one thread and two.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../passes/pass_test_util.h"
#include "kernels/f32-gemm/gemm.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// For every micro-kernel this CPU runs, on one thread and two: C = A (plain, m x k, leading dimension lda) x B
// equals, bit for bit, the same product from a pre-packed A, and the reference's values within 1e-3.
void expect_plain_a_matches_packed_a(const std::vector<int64_t>& ms, int64_t k, int64_t n, int64_t lda) {
  ThreadPool pool(2);
  const Tensor b = random_floats({k, n}, 3);
  for (int64_t m : ms) {
    const Tensor a = random_floats({m, lda}, 4);
    std::vector<double> want(static_cast<size_t>(m * n), 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t p = 0; p < k; ++p)
        for (int64_t j = 0; j < n; ++j)
          want[static_cast<size_t>(i * n + j)] +=
              static_cast<double>(a.data<float>()[i * lda + p]) * b.data<float>()[p * n + j];
    for (const std::string& name : gemm_f32_kernel_names()) {
      ASSERT_TRUE(gemm_f32_select_kernel(name));
      const PackedGemmF32 packed_b = pack_gemm_b_f32(false, k, n, b.data<float>(), n);
      const PackedGemmF32 packed_a = pack_gemm_a_f32(false, m, k, a.data<float>(), lda);
      for (Parallelism* parallelism : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
        SCOPED_TRACE(name + " m " + std::to_string(m) + (parallelism ? " two threads" : " one thread"));
        std::vector<float> plain(static_cast<size_t>(m * n)), packed(plain.size());
        gemm_f32_packed(m, n, k, 1.0f, GemmOperandF32{nullptr, a.data<float>(), lda, false}, GemmOperandF32{&packed_b},
                        0.0f, plain.data(), n, parallelism);
        gemm_f32_packed(m, n, k, 1.0f, GemmOperandF32{&packed_a}, GemmOperandF32{&packed_b}, 0.0f, packed.data(), n,
                        parallelism);
        EXPECT_EQ(std::memcmp(plain.data(), packed.data(), plain.size() * sizeof(float)), 0);
        double worst = 0.0;
        for (size_t i = 0; i < plain.size(); ++i) worst = std::max(worst, std::abs(plain[i] - want[i]));
        EXPECT_LT(worst, 1e-3);
      }
    }
  }
  gemm_f32_select_kernel("");
}

TEST(F32GemmWideTest, PlainAUnderWideCMatchesPackedAAndTheReference) {
  // odd sizes: partial strips, depth and column tiles
  expect_plain_a_matches_packed_a({5, 13, 30}, 70, 8205, 77);
}

// A plain A whose rows alias in L1 (lda 1024 floats: packed, not read in place) and whose depth slices are too
// large for L2 (540 rows), under more columns than one column block of any kernel: packed whole once rather than
// again for every column block (as a batch-8 FFN or vocabulary head).
TEST(F32GemmWideTest, LargePlainAUnderSeveralColumnBlocksMatchesPackedA) {
  expect_plain_a_matches_packed_a({540}, 1000, 1100, 1024);
}

}  // namespace
}  // namespace tessera
