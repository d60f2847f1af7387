// Helpers shared by the f32 GEMM tests.
#pragma once

#include <cstdint>

namespace tessera::gemm_test {

// A GemmRowsActivationF32 for tests: squares each element of the block in place.
inline void square_rows(float* c, int64_t rows, int64_t cols, int64_t ldc) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) c[i * ldc + j] *= c[i * ldc + j];
  }
}

}  // namespace tessera::gemm_test
