// The f32-maxpool loop, instantiated by each ISA file (f32-maxpool-avx512.cpp, ...). Internal linkage only;
// include only from those files.
#pragma once

#include <algorithm>
#include <limits>
#include <type_traits>

#include "kernels/f32-maxpool/f32-maxpool-table.h"
#include "kernels/simd_vec.h"

namespace tessera::f32_maxpool {
namespace {

using simd::kLanes;
using simd::load;
using simd::store;
using simd::Vec;
static_assert(kLanes <= kMaxLanes);

// max(acc, v) lane by lane, where a NaN in either wins (as the scalar pool: a NaN v replaces acc, a NaN acc stays).
inline Vec nan_max(Vec acc, Vec v) { return (v > acc) | (v != v) ? v : acc; }
inline float nan_max(float acc, float v) { return (v > acc || v != v) ? v : acc; }

// Fills the row buffer's borders (left padding, and from the end of the input's columns to the end) with -inf,
// once per plane: pool_rows writes only the columns in between.
void fill_row_borders(const MaxPool2dF32Params& p, float* row, int64_t row_floats) {
  constexpr float kLowest = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < p.pad_left; ++j) row[j] = kLowest;
  for (int64_t j = p.pad_left + p.in_w; j < row_floats; ++j) row[j] = kLowest;
}

// row[pad_left + iw] = max over the window's input rows of x[ih][iw] (vertical step), one pass over the columns
// with the rows combined in registers. Short rows (a few registers) make library calls and extra passes cost more
// than the work, so there are none.
void pool_rows(const MaxPool2dF32Params& p, const float* x, int64_t oh, float* row) {
  constexpr float kLowest = -std::numeric_limits<float>::infinity();
  const float* rows[kMaxWindowRows];
  int64_t count = 0;
  for (int64_t k = 0; k < p.kernel_h && count < kMaxWindowRows; ++k) {
    const int64_t ih = oh * p.stride_h + k * p.dilation_h - p.pad_top;
    if (ih >= 0 && ih < p.in_h) rows[count++] = x + ih * p.in_w;
  }
  float* out = row + p.pad_left;
  if (count == 0) {
    for (int64_t j = 0; j < p.in_w; ++j) out[j] = kLowest;
    return;
  }
  // kRows = the window's row count when it is 2 or 3 (the loop over rows unrolled: with a run-time count its
  // control cost about as much as the maxima), else 0 (any count).
  const auto pass = [&](auto rows_tag) {
    constexpr int kRows = decltype(rows_tag)::value;
    const auto columns = [&](int64_t j) {
      Vec v = load(rows[0] + j);
      if constexpr (kRows > 0) {
        for (int r = 1; r < kRows; ++r) v = nan_max(v, load(rows[r] + j));
      } else {
        for (int64_t r = 1; r < count; ++r) v = nan_max(v, load(rows[r] + j));
      }
      store(out + j, v);
    };
    int64_t j = 0;
    for (; j + kLanes <= p.in_w; j += kLanes) columns(j);
    if (j < p.in_w) columns(p.in_w - kLanes);  // the tail as one register overlapping the last: same values rewritten
  };
  if (p.in_w >= kLanes) {
    if (count == 3)
      pass(std::integral_constant<int, 3>{});
    else if (count == 2)
      pass(std::integral_constant<int, 2>{});
    else
      pass(std::integral_constant<int, 0>{});
  } else {
    for (int64_t j = 0; j < p.in_w; ++j) {
      float v = rows[0][j];
      for (int64_t r = 1; r < count; ++r) v = nan_max(v, rows[r][j]);
      out[j] = v;
    }
  }
}

// The max over the window's columns of row for one output column (the scalar form of pool_columns).
inline float pool_column(const MaxPool2dF32Params& p, const float* row, int64_t ow) {
  const float* base = row + ow * p.stride_w;
  float m = base[0];
  for (int64_t k = 1; k < p.kernel_w; ++k) m = nan_max(m, base[k * p.dilation_w]);
  return m;
}

// One register of outputs from `row` at column stride 2 / any stride (outputs 0..kLanes-1).
inline Vec column_max2(const MaxPool2dF32Params& p, const float* row) {
  Vec acc = simd::even_lanes(row);
  for (int64_t k = 1; k < p.kernel_w; ++k) acc = nan_max(acc, simd::even_lanes(row + k * p.dilation_w));
  return acc;
}
inline Vec column_max_any(const MaxPool2dF32Params& p, const float* row) {
  float lanes[kLanes];
  for (int l = 0; l < kLanes; ++l) lanes[l] = pool_column(p, row, l);
  return load(lanes);
}

// y[ow] = max over the window's columns of row (horizontal step), whole registers of outputs at a time (the row
// buffer's -inf slack covers their reads). Rows narrower than a register are written as a whole register when
// `room` (floats writable from y) allows: the spill lands on the next output rows, computed after; otherwise one
// by one.
void pool_columns(const MaxPool2dF32Params& p, const float* row, float* y, int64_t room) {
  const int64_t full = p.out_w / kLanes * kLanes;
  for (int64_t block = 0; block < full + (full < p.out_w && p.out_w >= kLanes ? kLanes : 0); block += kLanes) {
    // Past the whole registers, one more overlapping the last: the tail's outputs, the others rewritten as they were.
    const int64_t ow = std::min(block, p.out_w - kLanes);
    const float* base = row + ow * p.stride_w;
    Vec acc;
    if (p.stride_w == 2 && p.kernel_w == 3 && p.dilation_w == 1) {  // the common 3x3/2 pool, unrolled
      acc = nan_max(nan_max(simd::even_lanes(base), simd::even_lanes(base + 1)), simd::even_lanes(base + 2));
    } else if (p.stride_w == 1) {
      acc = load(base);
      for (int64_t k = 1; k < p.kernel_w; ++k) acc = nan_max(acc, load(base + k * p.dilation_w));
    } else if (p.stride_w == 2) {
      acc = simd::even_lanes(base);
      for (int64_t k = 1; k < p.kernel_w; ++k) acc = nan_max(acc, simd::even_lanes(base + k * p.dilation_w));
    } else {
      float lanes[kLanes];
      for (int l = 0; l < kLanes; ++l) lanes[l] = pool_column(p, row, ow + l);
      acc = load(lanes);
    }
    store(y + ow, acc);
  }
  if (p.out_w < kLanes) {
    if (room >= kLanes) {
      store(y, p.stride_w == 2 ? column_max2(p, row) : column_max_any(p, row));
    } else {
      for (int64_t ow = 0; ow < p.out_w; ++ow) y[ow] = pool_column(p, row, ow);
    }
  }
}

void maxpool(const MaxPool2dF32Params& p, const float* x, float* y, float* scratch) {
  fill_row_borders(p, scratch, row_buffer_floats(p));
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    pool_rows(p, x, oh, scratch);
    pool_columns(p, scratch, y + oh * p.out_w, (p.out_h - oh) * p.out_w);
  }
}

// out[oh][ow][c] = max over the window of in[ih][iw][c], kMaxPoolChannelBlock channels per position (whole
// registers), taps outside the plane skipped (-inf for a window with none).
void maxpool_interleaved(const MaxPool2dF32Params& p, const float* in, float* out) {
  constexpr int64_t kBlock = kMaxPoolChannelBlock;
  constexpr int kVectors = static_cast<int>(kBlock / kLanes);
  static_assert(kBlock % kLanes == 0);
  constexpr float kLowest = -std::numeric_limits<float>::infinity();
  Vec lowest;
  for (int l = 0; l < kLanes; ++l) lowest[l] = kLowest;
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    const int64_t h0 = oh * p.stride_h - p.pad_top;
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      const int64_t w0 = ow * p.stride_w - p.pad_left;
      Vec acc[kVectors];
      for (Vec& a : acc) a = lowest;
      for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
        const int64_t ih = h0 + kh * p.dilation_h;
        if (ih < 0 || ih >= p.in_h) continue;
        for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
          const int64_t iw = w0 + kw * p.dilation_w;
          if (iw < 0 || iw >= p.in_w) continue;
          const float* v = in + (ih * p.in_w + iw) * kBlock;
          for (int k = 0; k < kVectors; ++k) acc[k] = nan_max(acc[k], load(v + k * kLanes));
        }
      }
      float* o = out + (oh * p.out_w + ow) * kBlock;
      for (int k = 0; k < kVectors; ++k) store(o + k * kLanes, acc[k]);
    }
  }
}

}  // namespace
}  // namespace tessera::f32_maxpool
