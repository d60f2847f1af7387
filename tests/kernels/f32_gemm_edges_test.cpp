// f32 GEMM tiles cut by the edges of C: every width of a last column strip and every height of a last row strip,
// stored plain and transposed, leave the floats of C's rows past n (plain) or past m (transposed) as they were and
// match the reference: the partial-register stores (Avx2FloatOps::store_n: 4-, 2- and 1-float pieces) write exactly
// the lanes asked for. A is read in place, or packed (rows a page apart: the six-row strips packed four depth steps
// at a time, with a tail of one). Every micro-kernel this CPU runs.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "../passes/pass_test_util.h"
#include "kernels/f32-gemm/gemm.h"

namespace tessera {
namespace {

using pass_test::random_floats;

TEST(F32GemmEdgesTest, PartialTilesWriteOnlyTheirElements) {
  constexpr float kSentinel = -12345.5f;
  const int64_t k = 37;
  for (const std::string& name : gemm_f32_kernel_names()) {
    ASSERT_TRUE(gemm_f32_select_kernel(name));
    const int64_t nr = gemm_f32_tile().columns;
    for (bool transposed : {false, true}) {
      for (int64_t lda : {k, int64_t{1024}}) {
        for (int64_t m : {int64_t{1}, int64_t{5}, int64_t{7}, int64_t{13}}) {
          for (int64_t n = 1; n <= nr + 9; ++n) {
            SCOPED_TRACE(name + " m " + std::to_string(m) + " n " + std::to_string(n) + " lda " + std::to_string(lda) +
                         (transposed ? " transposed" : " plain"));
            const Tensor a = random_floats({m, lda}, 1);
            const Tensor b = random_floats({k, n}, 2);
            const Tensor bias = random_floats({n}, 3);
            // Plain: m rows of ldc = n + 5; transposed: n rows of ldc = m + 5 (element (i, j) at c[j * ldc + i]).
            const int64_t ldc = (transposed ? m : n) + 5, rows = transposed ? n : m;
            std::vector<float> c(static_cast<size_t>(rows * ldc), kSentinel);
            GemmEpilogueF32 epilogue;
            epilogue.column_bias = bias.data<float>();
            epilogue.store_transposed = transposed;
            gemm_f32_packed(m, n, k, 1.0f, GemmOperandF32{nullptr, a.data<float>(), lda},
                            GemmOperandF32{nullptr, b.data<float>(), n}, 0.0f, c.data(), ldc, nullptr, &epilogue);
            for (int64_t r = 0; r < rows; ++r) {
              for (int64_t t = 0; t < ldc; ++t) {
                const float got = c[static_cast<size_t>(r * ldc + t)];
                const int64_t i = transposed ? t : r, j = transposed ? r : t;
                if (t >= (transposed ? m : n)) {
                  ASSERT_EQ(got, kSentinel) << "written past the edge at row " << r << " column " << t;
                  continue;
                }
                double want = bias.data<float>()[j];
                for (int64_t p = 0; p < k; ++p)
                  want += double(a.data<float>()[i * lda + p]) * b.data<float>()[p * n + j];
                ASSERT_NEAR(got, want, 1e-4 * (1.0 + std::fabs(want))) << "element (" << i << ", " << j << ")";
              }
            }
          }
        }
      }
    }
  }
  gemm_f32_select_kernel("");
}

}  // namespace
}  // namespace tessera
