// The f32-maxpool loop, instantiated by each ISA file (f32-maxpool-avx512.cpp, ...). Internal linkage only;
// include only from those files.
#pragma once

#include <algorithm>
#include <limits>

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

// row[pad_left + iw] = max over the window's input rows of x[ih][iw] (vertical step); -inf around it.
void pool_rows(const MaxPool2dF32Params& p, const float* x, int64_t oh, float* row, int64_t row_floats) {
  constexpr float kLowest = -std::numeric_limits<float>::infinity();
  std::fill(row, row + p.pad_left, kLowest);
  std::fill(row + p.pad_left + p.in_w, row + row_floats, kLowest);
  float* out = row + p.pad_left;
  int64_t first = -1;
  for (int64_t k = 0; k < p.kernel_h; ++k) {
    const int64_t ih = oh * p.stride_h + k * p.dilation_h - p.pad_top;
    if (ih < 0 || ih >= p.in_h) continue;
    const float* src = x + ih * p.in_w;
    if (first < 0) {
      std::copy(src, src + p.in_w, out);
      first = ih;
      continue;
    }
    int64_t j = 0;
    for (; j + kLanes <= p.in_w; j += kLanes) store(out + j, nan_max(load(out + j), load(src + j)));
    if (j < p.in_w) {
      // The last partial register: the input's tail padded with -inf (its row may end the plane), and the row
      // buffer's slack past in_w already holds -inf, which the max keeps.
      float tail[kLanes];
      std::fill(std::copy(src + j, src + p.in_w, tail), tail + kLanes, kLowest);
      store(out + j, nan_max(load(out + j), load(tail)));
    }
  }
  if (first < 0) std::fill(out, out + p.in_w, kLowest);
}

// y[ow] = max over the window's columns of row (horizontal step), whole registers of outputs at a time (the row
// buffer's -inf slack covers the last register's reads).
void pool_columns(const MaxPool2dF32Params& p, const float* row, float* y) {
  const int64_t full = p.out_w / kLanes * kLanes;
  alignas(64) float tail[kLanes];
  for (int64_t ow = 0; ow < p.out_w; ow += kLanes) {
    const float* base = row + ow * p.stride_w;
    Vec acc;
    if (p.stride_w == 1) {
      acc = load(base);
      for (int64_t k = 1; k < p.kernel_w; ++k) acc = nan_max(acc, load(base + k * p.dilation_w));
    } else if (p.stride_w == 2) {
      acc = simd::even_lanes(base);
      for (int64_t k = 1; k < p.kernel_w; ++k) acc = nan_max(acc, simd::even_lanes(base + k * p.dilation_w));
    } else {
      float lanes[kLanes];
      for (int l = 0; l < kLanes; ++l) {
        float m = base[l * p.stride_w];
        for (int64_t k = 1; k < p.kernel_w; ++k) m = nan_max(m, base[l * p.stride_w + k * p.dilation_w]);
        lanes[l] = m;
      }
      acc = load(lanes);
    }
    if (ow < full) {
      store(y + ow, acc);
    } else {
      store(tail, acc);
      std::copy(tail, tail + (p.out_w - ow), y + ow);
    }
  }
}

void maxpool(const MaxPool2dF32Params& p, const float* x, float* y, float* scratch) {
  const int64_t row_floats = row_buffer_floats(p);
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    pool_rows(p, x, oh, scratch, row_floats);
    pool_columns(p, scratch, y + oh * p.out_w);
  }
}

}  // namespace
}  // namespace tessera::f32_maxpool
