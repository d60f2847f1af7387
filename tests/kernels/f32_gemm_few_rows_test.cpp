// f32 GEMM with a plain A of a few rows whose stride aliases in L1 (rows a whole number of pages apart): read in
// place by the direct-A micro-kernels instead of packed, with the same bits as a pre-packed A, for every micro-kernel
// this CPU runs, on one thread and two (the batch-1 MLP layers).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/f32-gemm/gemm.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

std::vector<float> random_vector(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(F32GemmFewRowsTest, AliasingRowsReadInPlaceMatchPackedA) {
  ThreadPool pool(2);
  const int64_t k = 1024, n = 300;  // lda * 4 = 4096: every row on the same L1 sets
  const auto b = random_vector(static_cast<size_t>(k * n), 1);
  for (const std::string& name : gemm_f32_kernel_names()) {
    ASSERT_TRUE(gemm_f32_select_kernel(name));
    const PackedGemmF32 packed_b = pack_gemm_b_f32(false, k, n, b.data(), n);
    for (int64_t m = 1; m <= 6; ++m) {
      for (Parallelism* parallelism : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
        SCOPED_TRACE(name + " m " + std::to_string(m));
        const auto a = random_vector(static_cast<size_t>(m * k), 2);
        const PackedGemmF32 packed_a = pack_gemm_a_f32(false, m, k, a.data(), k);
        std::vector<float> plain(static_cast<size_t>(m * n)), packed(plain.size());
        gemm_f32_packed(m, n, k, 1.0f, GemmOperandF32{nullptr, a.data(), k, false}, GemmOperandF32{&packed_b}, 0.0f,
                        plain.data(), n, parallelism);
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
