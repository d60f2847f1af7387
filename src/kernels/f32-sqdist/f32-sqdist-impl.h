// The f32-sqdist tiles, instantiated by each ISA file (f32-sqdist-avx512.cpp, ...). Internal linkage only; include
// only from those files.
#pragma once

#include <algorithm>
#include <cmath>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "kernels/f32-sqdist/f32-sqdist-table.h"
#include "kernels/simd_vec.h"

namespace tessera::f32_sqdist {
namespace {

using simd::kLanes;
using simd::Vec;
constexpr int kVecs = static_cast<int>(kSqdistPanel) / kLanes;  // registers per panel row
constexpr int kMaxRows = 4;                                     // rows of A per tile
static_assert(kVecs * kLanes == kSqdistPanel);

// The square root of every lane (one vsqrtps; IEEE-exact, as std::sqrt).
inline Vec sqrt_lanes(Vec v) {
#if defined(__AVX512F__)
  return reinterpret_cast<Vec>(_mm512_sqrt_ps(reinterpret_cast<__m512>(v)));
#elif defined(__AVX2__)
  return reinterpret_cast<Vec>(_mm256_sqrt_ps(reinterpret_cast<__m256>(v)));
#elif defined(__SSE2__)
  return reinterpret_cast<Vec>(_mm_sqrt_ps(reinterpret_cast<__m128>(v)));
#else
  for (int l = 0; l < kLanes; ++l) v[l] = std::sqrt(v[l]);
  return v;
#endif
}

// Rows [i, i + Rows) of A against one panel: Rows x kSqdistPanel sums in registers, one broadcast of A's element
// and one load of the panel's step per depth step; with `root`, their square roots are stored.
template <int Rows>
void tile(int64_t i, int64_t k, const float* a, int64_t lda, const float* panel, int64_t j0, int64_t columns, float* d,
          int64_t d_row, int64_t d_col, bool root) {
  Vec acc[Rows][kVecs];
  for (int r = 0; r < Rows; ++r) {
    for (int v = 0; v < kVecs; ++v) acc[r][v] = Vec{};
  }
  const float* rows[Rows];
  for (int r = 0; r < Rows; ++r) rows[r] = a + (i + r) * lda;
  for (int64_t p = 0; p < k; ++p) {
    Vec b[kVecs];
    for (int v = 0; v < kVecs; ++v) b[v] = simd::load(panel + p * kSqdistPanel + v * kLanes);
    for (int r = 0; r < Rows; ++r) {
      const float value = rows[r][p];
      for (int v = 0; v < kVecs; ++v) {
        const Vec diff = value - b[v];
        acc[r][v] += diff * diff;
      }
    }
  }
  if (root) {
    for (int r = 0; r < Rows; ++r) {
      for (int v = 0; v < kVecs; ++v) acc[r][v] = sqrt_lanes(acc[r][v]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    float* out = d + (i + r) * d_row + j0 * d_col;
    if (d_col == 1 && columns == kSqdistPanel) {
      for (int v = 0; v < kVecs; ++v) simd::store(out + v * kLanes, acc[r][v]);
    } else {
      alignas(64) float sums[kSqdistPanel];
      for (int v = 0; v < kVecs; ++v) simd::store(sums + v * kLanes, acc[r][v]);
      for (int64_t j = 0; j < columns; ++j) out[j * d_col] = sums[j];
    }
  }
}

void sqdist(int64_t m, const float* a, int64_t lda, const PackedSqdistB& b, int64_t panel_begin, int64_t panel_end,
            float* d, int64_t d_row, int64_t d_col, bool root) {
  const int64_t k = b.depth;
  for (int64_t q = panel_begin; q < panel_end; ++q) {
    const float* panel = b.panels.data() + q * k * kSqdistPanel;
    const int64_t j0 = q * kSqdistPanel;
    const int64_t columns = std::min<int64_t>(kSqdistPanel, b.rows - j0);
    int64_t i = 0;
    for (; i + kMaxRows <= m; i += kMaxRows) tile<kMaxRows>(i, k, a, lda, panel, j0, columns, d, d_row, d_col, root);
    switch (m - i) {
      case 3:
        tile<3>(i, k, a, lda, panel, j0, columns, d, d_row, d_col, root);
        break;
      case 2:
        tile<2>(i, k, a, lda, panel, j0, columns, d, d_row, d_col, root);
        break;
      case 1:
        tile<1>(i, k, a, lda, panel, j0, columns, d, d_row, d_col, root);
        break;
      default:
        break;
    }
  }
}

}  // namespace
}  // namespace tessera::f32_sqdist
