// Portable x32-transpose (the project's default flags): a scalar loop over square blocks small enough that the
// block's source rows and destination rows both stay in L1.
#include <algorithm>

#include "kernels/x32-transpose/x32-transpose-table.h"

namespace tessera::x32_transpose {
namespace {

constexpr int64_t kBlock = 16;

void transpose(const uint32_t* src, int64_t src_ld, uint32_t* dst, int64_t dst_ld, int64_t rows, int64_t cols) {
  for (int64_t i0 = 0; i0 < rows; i0 += kBlock) {
    const int64_t i1 = std::min(rows, i0 + kBlock);
    for (int64_t j0 = 0; j0 < cols; j0 += kBlock) {
      const int64_t j1 = std::min(cols, j0 + kBlock);
      for (int64_t j = j0; j < j1; ++j) {
        uint32_t* d = dst + j * dst_ld;
        const uint32_t* s = src + j;
        for (int64_t i = i0; i < i1; ++i) d[i] = s[i * src_ld];
      }
    }
  }
}

}  // namespace

const TransposeSet kPortableSet = {"x32_transpose__portable", transpose};

}  // namespace tessera::x32_transpose
