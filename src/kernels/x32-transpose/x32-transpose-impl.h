// The x32-transpose loop over register tiles, instantiated by the AVX-512 and AVX2 files over their register
// traits T: kLanes; V; zero(); load(p) / store(p, v) of kLanes elements; load_n(p, n) (lanes >= n zero) /
// store_n(p, v, n) of the first n (0 < n <= kLanes; the other lanes are neither read nor written, nor can they
// fault); transpose(V (&r)[kLanes]) (r[j] lane i <- r[i] lane j). Internal linkage only; include only from those
// files.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/x32-transpose/x32-transpose-table.h"

namespace tessera::x32_transpose {
namespace {

// Rows of src per pass over the block's columns: the source lines of one pass (one per row, kLanes elements each)
// stay in L1 for the next column tile of the same rows.
constexpr int64_t kRowBlock = 256;

// Edge tiles of at most this many source rows are copied element by element: cheaper than a full register
// transpose and kLanes masked stores of a few elements each.
constexpr int kScalarEdgeRows = 4;

// One kLanes x kLanes tile, all of it inside the block.
template <typename T>
inline void tile_full(const uint32_t* src, int64_t src_ld, uint32_t* dst, int64_t dst_ld) {
  typename T::V r[T::kLanes];
  for (int i = 0; i < T::kLanes; ++i) r[i] = T::load(src + i * src_ld);
  T::transpose(r);
  for (int j = 0; j < T::kLanes; ++j) T::store(dst + j * dst_ld, r[j]);
}

// The tile's first nr rows and nc columns (nr, nc in [1, kLanes]): masked loads, masked stores, and only the rows
// that exist on either side; element by element for at most kScalarEdgeRows rows.
template <typename T>
inline void tile_edge(const uint32_t* src, int64_t src_ld, uint32_t* dst, int64_t dst_ld, int nr, int nc) {
  if (nr <= kScalarEdgeRows) {
    for (int j = 0; j < nc; ++j) {
      for (int i = 0; i < nr; ++i) dst[j * dst_ld + i] = src[i * src_ld + j];
    }
    return;
  }
  typename T::V r[T::kLanes];
  for (int i = 0; i < T::kLanes; ++i) r[i] = i < nr ? T::load_n(src + i * src_ld, nc) : T::zero();
  T::transpose(r);
  for (int j = 0; j < nc; ++j) T::store_n(dst + j * dst_ld, r[j], nr);
}

template <typename T>
void transpose(const uint32_t* src, int64_t src_ld, uint32_t* dst, int64_t dst_ld, int64_t rows, int64_t cols) {
  constexpr int64_t L = T::kLanes;
  for (int64_t b0 = 0; b0 < rows; b0 += kRowBlock) {
    const int64_t b1 = std::min(rows, b0 + kRowBlock);
    for (int64_t j0 = 0; j0 < cols; j0 += L) {
      const int nc = static_cast<int>(std::min(L, cols - j0));
      const uint32_t* s = src + b0 * src_ld + j0;
      uint32_t* d = dst + j0 * dst_ld + b0;
      int64_t i0 = b0;
      if (nc == L) {
        for (; i0 + L <= b1; i0 += L, s += L * src_ld, d += L) tile_full<T>(s, src_ld, d, dst_ld);
      }
      for (; i0 < b1; i0 += L, s += L * src_ld, d += L) {
        tile_edge<T>(s, src_ld, d, dst_ld, static_cast<int>(std::min(L, b1 - i0)), nc);
      }
    }
  }
}

}  // namespace
}  // namespace tessera::x32_transpose
