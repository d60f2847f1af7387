// The streaming 3x3 f32-dwconv loop of the x86 variants, instantiated by f32-dwconv-avx512.cpp and
// f32-dwconv-avx2.cpp with their register traits (`Isa`, see f32-dwconv-direct-impl.h). Internal linkage only;
// include only from f32-dwconv-x86-select.h.
//
// A 3x3 kernel without dilation reads, for a register of outputs, three neighbouring columns of each of three
// input rows. direct_rows loads each of the nine taps on its own (unaligned, most crossing a cache line; two loads
// and a shuffle each at column stride 2), which leaves the loop bound by loads at twice the multiply-adds' cost.
// Here each input row is read once, one register after the other along the row, and the neighbouring columns are
// made from the registers already loaded with in-register shifts (align): per output register and input row one
// load and two shifts at column stride 1, two loads, the even/odd split and one shift at column stride 2. The
// multiply-adds run in the same order as direct_rows' (kernel row, then column), so both give the same bits.
// Columns outside [0, in_w) load as zero (masked loads), which is the padding, so any right padding works.
//
// `Isa` additionally provides: zero(); odd(a, b) (the odd lanes of the 2 * kLanes floats a:b); align<n>(hi, lo)
// (lanes lo[n..kLanes), hi[0..n): the register starting n floats into lo:hi).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/f32-dwconv/f32-dwconv.h"

namespace tessera::f32_dwconv {
namespace {

// True when stream_plane takes `p`: 3x3, no dilation, column stride 1 with left padding 0 or 1, or column stride 2
// with left padding 1 (any row stride, top and right padding).
inline bool stream_supports(const DwConv2dF32Params& p) {
  if (p.kernel_h != 3 || p.kernel_w != 3 || p.dilation_h != 1 || p.dilation_w != 1) return false;
  if (p.stride_w == 1) return p.pad_left == 0 || p.pad_left == 1;
  return p.stride_w == 2 && p.pad_left == 1;
}

// Input columns [c0, c0 + kLanes) of `row` (in_w floats); those at or past in_w read as zero. c0 >= 0.
template <typename Isa>
inline typename Isa::V load_columns(const float* row, int64_t c0, int64_t in_w) {
  constexpr int64_t L = Isa::kLanes;
  if (c0 + L <= in_w) return Isa::load(row + c0);
  if (c0 >= in_w) return Isa::zero();
  return Isa::load_masked(row + c0, Isa::range(0, static_cast<int>(in_w - c0)));
}

// One output row `oh` into y_row, over the kernel rows [kh_begin, kh_end) (all three when kWhole).
template <typename Isa, int kStrideW, int kPadLeft, bool kWhole>
void stream_row(const DwConv2dF32Params& p, const float* x, const typename Isa::V* wv, typename Isa::V b,
                typename Isa::V lo, typename Isa::V hi, int64_t oh, int64_t kh_begin, int64_t kh_end, float* y_row) {
  using V = typename Isa::V;
  constexpr int64_t L = Isa::kLanes;
  if (kWhole) {
    kh_begin = 0;
    kh_end = 3;
  }
  const int64_t in_w = p.in_w;
  const float* rows[3] = {x, x, x};
  for (int64_t kh = kh_begin; kh < kh_end; ++kh) rows[kh] = x + (oh * p.stride_h + kh - p.pad_top) * in_w;
  const int64_t registers = (p.out_w + L - 1) / L;
  // Column stride 1: prev/cur are the registers of input columns [(r - 1) L, r L) and [r L, (r + 1) L).
  // Column stride 2: prev holds the odd columns of register r - 1 (its last lane is column 2 r L - 1).
  V prev[3] = {Isa::zero(), Isa::zero(), Isa::zero()}, cur[3] = {Isa::zero(), Isa::zero(), Isa::zero()};
  for (int64_t kh = kh_begin; kh < kh_end && kStrideW == 1; ++kh) cur[kh] = load_columns<Isa>(rows[kh], 0, in_w);
  for (int64_t r = 0; r < registers; ++r) {
    V acc = b;
    for (int64_t kh = kh_begin; kh < kh_end; ++kh) {
      V t0, t1, t2;
      if (kStrideW == 1) {
        const V next = load_columns<Isa>(rows[kh], (r + 1) * L, in_w);
        if (kPadLeft == 1) {
          t0 = Isa::template align<L - 1>(cur[kh], prev[kh]);
          t1 = cur[kh];
          t2 = Isa::template align<1>(next, cur[kh]);
        } else {
          t0 = cur[kh];
          t1 = Isa::template align<1>(next, cur[kh]);
          t2 = Isa::template align<2>(next, cur[kh]);
        }
        prev[kh] = cur[kh];
        cur[kh] = next;
      } else {
        const V a0 = load_columns<Isa>(rows[kh], 2 * r * L, in_w);
        const V a1 = load_columns<Isa>(rows[kh], 2 * r * L + L, in_w);
        const V odd = Isa::odd(a0, a1);
        t0 = Isa::template align<L - 1>(odd, prev[kh]);  // columns 2 j - 1
        t1 = Isa::even(a0, a1);                          // 2 j
        t2 = odd;                                        // 2 j + 1
        prev[kh] = odd;
      }
      acc = Isa::fmadd(wv[kh * 3 + 0], t0, acc);
      acc = Isa::fmadd(wv[kh * 3 + 1], t1, acc);
      acc = Isa::fmadd(wv[kh * 3 + 2], t2, acc);
    }
    acc = Isa::clamp(acc, lo, hi);
    if (r * L + L <= p.out_w) {
      Isa::store(y_row + r * L, acc);
    } else {
      Isa::store_first(y_row + r * L, static_cast<int>(p.out_w - r * L), acc);
    }
  }
}

template <typename Isa, int kStrideW, int kPadLeft>
void stream_plane_of(const DwConv2dF32Params& p, const float* x, const float* w, float bias, float* y) {
  using V = typename Isa::V;
  V wv[9];
  for (int t = 0; t < 9; ++t) wv[t] = Isa::set1(w[t]);
  const V b = Isa::set1(bias), lo = Isa::set1(p.output_min), hi = Isa::set1(p.output_max);
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    const int64_t top = oh * p.stride_h - p.pad_top;
    const int64_t kh_begin = top >= 0 ? 0 : -top;
    const int64_t kh_end = std::min<int64_t>(3, std::max<int64_t>(0, p.in_h - top));
    float* y_row = y + oh * p.out_w;
    if (kh_begin == 0 && kh_end == 3) {
      stream_row<Isa, kStrideW, kPadLeft, true>(p, x, wv, b, lo, hi, oh, 0, 3, y_row);
    } else {
      stream_row<Isa, kStrideW, kPadLeft, false>(p, x, wv, b, lo, hi, oh, kh_begin, std::max(kh_begin, kh_end), y_row);
    }
  }
}

// y = dwconv(x) for one plane, in place. Requires stream_supports(p).
template <typename Isa>
void stream_plane(const DwConv2dF32Params& p, const float* x, const float* w, float bias, float* y) {
  if (p.stride_w == 2) return stream_plane_of<Isa, 2, 1>(p, x, w, bias, y);
  if (p.pad_left == 1) return stream_plane_of<Isa, 1, 1>(p, x, w, bias, y);
  return stream_plane_of<Isa, 1, 0>(p, x, w, bias, y);
}

}  // namespace
}  // namespace tessera::f32_dwconv
