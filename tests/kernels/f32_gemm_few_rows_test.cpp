// f32 GEMM with a plain A of a few rows whose stride aliases in L1 (rows a whole number of pages apart): read in
// place by the direct-A micro-kernels instead of packed, with the same bits as a pre-packed A, for every micro-kernel
// this CPU runs, on one thread and two (the batch-1 MLP layers).
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

TEST(F32GemmFewRowsTest, AliasingRowsReadInPlaceMatchPackedA) {
  ThreadPool pool(2);
  const int64_t k = 1024, n = 300;  // lda * 4 = 4096: every row on the same L1 sets
  const Tensor b = random_floats({k, n}, 1);
  for (const std::string& name : gemm_f32_kernel_names()) {
    ASSERT_TRUE(gemm_f32_select_kernel(name));
    const PackedGemmF32 packed_b = pack_gemm_b_f32(false, k, n, b.data<float>(), n);
    for (int64_t m = 1; m <= 6; ++m) {
      for (Parallelism* parallelism : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
        SCOPED_TRACE(name + " m " + std::to_string(m));
        const Tensor a = random_floats({m, k}, 2);
        const PackedGemmF32 packed_a = pack_gemm_a_f32(false, m, k, a.data<float>(), k);
        std::vector<float> plain(static_cast<size_t>(m * n)), packed(plain.size());
        gemm_f32_packed(m, n, k, 1.0f, GemmOperandF32{nullptr, a.data<float>(), k, false}, GemmOperandF32{&packed_b},
                        0.0f, plain.data(), n, parallelism);
        gemm_f32_packed(m, n, k, 1.0f, GemmOperandF32{&packed_a}, GemmOperandF32{&packed_b}, 0.0f, packed.data(), n,
                        parallelism);
        EXPECT_EQ(std::memcmp(plain.data(), packed.data(), plain.size() * sizeof(float)), 0);
      }
    }
  }
  gemm_f32_select_kernel("");
}

}  // namespace
}  // namespace tessera
