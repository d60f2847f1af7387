// f32 GEMM with a plain, non-transposed B read in place by the direct-B micro-kernels (depth up to 512, up to 1024
// rows of A; the next panel prefetched as each one runs) gives the bits of the same product with B pre-packed, for
// every micro-kernel this CPU runs, on one thread and two: whole and partial last panels, rows on both sides of
// the in-place bound, a fused epilogue with a sum.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "../passes/pass_test_util.h"
#include "kernels/f32-gemm/gemm.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using pass_test::random_floats;

TEST(F32GemmPlainBTest, InPlaceMatchesPackedB) {
  ThreadPool pool(2);
  struct Shape {
    int64_t m, n, k;
  };
  // n = 100: three whole 32-column panels and a partial one (AVX-512), six and a partial (AVX2). m = 1024 is the
  // last row count read in place; 1025 packs B.
  const std::vector<Shape> shapes = {{64, 100, 256}, {300, 100, 64}, {1024, 40, 33}, {1025, 40, 33}, {130, 3136, 20}};
  for (const std::string& name : gemm_f32_kernel_names()) {
    ASSERT_TRUE(gemm_f32_select_kernel(name));
    for (const Shape& s : shapes) {
      const Tensor a = random_floats({s.m, s.k}, 1);
      const Tensor b = random_floats({s.k, s.n}, 2);
      const Tensor sum = random_floats({s.m, s.n}, 3);
      const Tensor bias = random_floats({s.m}, 4);
      const PackedGemmF32 packed_a = pack_gemm_a_f32(false, s.m, s.k, a.data<float>(), s.k);
      const PackedGemmF32 packed_b = pack_gemm_b_f32(false, s.k, s.n, b.data<float>(), s.n);
      GemmEpilogueF32 epilogue;
      epilogue.row_bias = bias.data<float>();
      epilogue.sum = sum.data<float>();
      epilogue.sum_ld = s.n;
      epilogue.min = 0.0f;
      for (Parallelism* parallelism : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
        SCOPED_TRACE(name + " m " + std::to_string(s.m) + " n " + std::to_string(s.n) + " k " + std::to_string(s.k));
        std::vector<float> plain(static_cast<size_t>(s.m * s.n)), packed(plain.size());
        gemm_f32_packed(s.m, s.n, s.k, 1.0f, GemmOperandF32{&packed_a}, GemmOperandF32{nullptr, b.data<float>(), s.n},
                        0.0f, plain.data(), s.n, parallelism, &epilogue);
        gemm_f32_packed(s.m, s.n, s.k, 1.0f, GemmOperandF32{&packed_a}, GemmOperandF32{&packed_b}, 0.0f,
                        packed.data(), s.n, parallelism, &epilogue);
        EXPECT_EQ(std::memcmp(plain.data(), packed.data(), plain.size() * sizeof(float)), 0);
        // And the values: row 0, column n - 1 (the partial panel's last column) by hand.
        double ref = bias.data<float>()[0] + sum.data<float>()[s.n - 1];
        for (int64_t p = 0; p < s.k; ++p) {
          ref += static_cast<double>(a.data<float>()[p]) * b.data<float>()[p * s.n + s.n - 1];
        }
        EXPECT_NEAR(plain[static_cast<size_t>(s.n - 1)], std::max(ref, 0.0), 1e-3);
      }
    }
  }
  gemm_f32_select_kernel("");
}

}  // namespace
}  // namespace tessera
