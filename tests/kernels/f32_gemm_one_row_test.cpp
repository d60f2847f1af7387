// f32 GEMM of one row of C over packed B panels (a batch-1 classifier): the panels run side by side
// (UkernelSet::row_panels) with the same bits as the one-row tile computes them, which here is the first row of a
// two-row product: whole groups of panels, a half group and a single one, two depth blocks, alpha, beta and every
// epilogue term, A plain or packed, one thread and two, for every micro-kernel this CPU runs.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "../passes/pass_test_util.h"
#include "kernels/f32-gemm/gemm.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using pass_test::random_floats;

TEST(F32GemmOneRowTest, PanelsSideBySideGiveTheBitsOfTheTileRow) {
  ThreadPool pool(2);
  const int64_t k = 300;
  const Tensor a = random_floats({2, k}, 1);
  const Tensor row_bias = random_floats({2}, 3);
  for (const std::string& name : gemm_f32_kernel_names()) {
    ASSERT_TRUE(gemm_f32_select_kernel(name));
    const int64_t nr = gemm_f32_tile().columns;
    for (const int64_t n : {nr * 10 + 5, nr * 3, nr - 3}) {
      const Tensor b = random_floats({k, n}, 2);
      const Tensor column_bias = random_floats({n}, 4);
      const Tensor sum = random_floats({2, n}, 5);
      const Tensor c0 = random_floats({2, n}, 6);
      const PackedGemmF32 packed_b = pack_gemm_b_f32(false, k, n, b.data<float>(), n);
      GemmEpilogueF32 epilogue;
      epilogue.row_bias = row_bias.data<float>();
      epilogue.column_bias = column_bias.data<float>();
      epilogue.sum = sum.data<float>();
      epilogue.sum_ld = n;
      epilogue.min = -2.5f;
      epilogue.max = 3.0f;
      for (bool packed_a : {false, true}) {
        for (Parallelism* parallelism : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
          SCOPED_TRACE(name + " n " + std::to_string(n) + (packed_a ? " packed A" : " plain A") +
                       (parallelism ? " two threads" : " one thread"));
          std::vector<float> one(c0.data<float>(), c0.data<float>() + n);
          std::vector<float> two(c0.data<float>(), c0.data<float>() + 2 * n);
          const PackedGemmF32 a1 = pack_gemm_a_f32(false, 1, k, a.data<float>(), k);
          const PackedGemmF32 a2 = pack_gemm_a_f32(false, 2, k, a.data<float>(), k);
          const GemmOperandF32 one_a = packed_a ? GemmOperandF32{&a1} : GemmOperandF32{nullptr, a.data<float>(), k};
          const GemmOperandF32 two_a = packed_a ? GemmOperandF32{&a2} : GemmOperandF32{nullptr, a.data<float>(), k};
          gemm_f32_packed(1, n, k, 1.5f, one_a, GemmOperandF32{&packed_b}, 0.5f, one.data(), n, parallelism, &epilogue);
          gemm_f32_packed(2, n, k, 1.5f, two_a, GemmOperandF32{&packed_b}, 0.5f, two.data(), n, parallelism, &epilogue);
          EXPECT_EQ(std::memcmp(one.data(), two.data(), static_cast<size_t>(n) * sizeof(float)), 0);
          // And the values: the clamp of 1.5 a b + 0.5 c + biases + sum, within float rounding.
          for (int64_t j = 0; j < n; ++j) {
            double r = 0;
            for (int64_t p = 0; p < k; ++p) r += double(a.data<float>()[p]) * b.data<float>()[p * n + j];
            r = 1.5 * r + 0.5 * c0.data<float>()[j] + row_bias.data<float>()[0] + column_bias.data<float>()[j] +
                sum.data<float>()[j];
            r = r < -2.5 ? -2.5 : (r > 3.0 ? 3.0 : r);
            ASSERT_NEAR(one[static_cast<size_t>(j)], r, 1e-3) << "column " << j;
          }
        }
      }
    }
  }
  gemm_f32_select_kernel("");
}

}  // namespace
}  // namespace tessera
