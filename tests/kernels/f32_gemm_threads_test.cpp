// The f32 GEMM split over threads (column pieces claimed by whichever thread is free, a page-aliased A packed once
// for all of them; row pieces where A is the larger operand and nothing is packed per piece) gives the bits of one thread, for every micro-kernel this CPU runs: A read in place, packed first,
// and too large to pack first; B pre-packed and plain; with a bias and a rows_activation epilogue.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "../passes/pass_test_util.h"
#include "gemm_test_util.h"
#include "kernels/f32-gemm/gemm.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using gemm_test::square_rows;
using pass_test::random_floats;

std::vector<float> run(int64_t m, int64_t n, int64_t k, const Tensor& a, const Tensor& b, bool packed_b,
                       const float* bias, Parallelism* parallelism) {
  const PackedGemmF32 packed = pack_gemm_b_f32(false, k, n, b.data<float>(), n);
  GemmEpilogueF32 epilogue;
  epilogue.column_bias = bias;
  epilogue.rows_activation = square_rows;
  std::vector<float> c(static_cast<size_t>(m * n));
  gemm_f32_packed(m, n, k, 1.0f, GemmOperandF32{nullptr, a.data<float>(), k, false},
                  packed_b ? GemmOperandF32{&packed} : GemmOperandF32{nullptr, b.data<float>(), n, false}, 0.0f,
                  c.data(), n, parallelism, &epilogue);
  return c;
}

TEST(F32GemmThreadsTest, PiecesGiveTheBitsOfOneThread) {
  ThreadPool two(2), three(3);
  struct Shape {
    int64_t m, n, k;
  };
  // K = 700: A read in place; K = 1024 (rows a page apart): packed first (45 rows) or per block (300 rows); K = 70
  // with more rows than columns: A read in place, split in row pieces when B is pre-packed.
  for (const Shape& s : {Shape{45, 300, 700}, Shape{45, 300, 1024}, Shape{300, 200, 1024}, Shape{420, 300, 70}}) {
    const Tensor a = random_floats({s.m, s.k}, 1), b = random_floats({s.k, s.n}, 2), bias = random_floats({s.n}, 3);
    for (const std::string& name : gemm_f32_kernel_names()) {
      ASSERT_TRUE(gemm_f32_select_kernel(name));
      for (bool packed_b : {true, false}) {
        SCOPED_TRACE(name + " " + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) +
                     (packed_b ? " packed B" : " plain B"));
        const std::vector<float> one = run(s.m, s.n, s.k, a, b, packed_b, bias.data<float>(), nullptr);
        for (Parallelism* pool : {static_cast<Parallelism*>(&two), static_cast<Parallelism*>(&three)}) {
          const std::vector<float> many = run(s.m, s.n, s.k, a, b, packed_b, bias.data<float>(), pool);
          EXPECT_EQ(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)), 0);
        }
      }
    }
  }
  gemm_f32_select_kernel("");
}

}  // namespace
}  // namespace tessera
