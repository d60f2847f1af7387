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

TEST(F32GemmWideTest, PlainAUnderWideCMatchesPackedAAndTheReference) {
  ThreadPool pool(2);
  const int64_t k = 70, n = 8205, lda = 77;  // odd sizes: partial strips, depth and column tiles
  const Tensor b = random_floats({k, n}, 3);
  for (const std::string& name : gemm_f32_kernel_names()) {
    ASSERT_TRUE(gemm_f32_select_kernel(name));
    const PackedGemmF32 packed_b = pack_gemm_b_f32(false, k, n, b.data<float>(), n);
    for (int64_t m : {5, 13, 30}) {
      const Tensor a = random_floats({m, lda}, 4);
      const PackedGemmF32 packed_a = pack_gemm_a_f32(false, m, k, a.data<float>(), lda);
      std::vector<double> want(static_cast<size_t>(m * n), 0.0);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t p = 0; p < k; ++p)
          for (int64_t j = 0; j < n; ++j)
            want[static_cast<size_t>(i * n + j)] +=
                static_cast<double>(a.data<float>()[i * lda + p]) * b.data<float>()[p * n + j];
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

}  // namespace
}  // namespace tessera
