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
// Interior output rows go two at a time (stream_row_pair): their input rows overlap and their two accumulation
// chains hide each other's multiply-add latency (Zen 3, AVX2, one plane: 112x112 6.00 -> 5.07 us, 56x56 1.65 ->
// 1.36 us, 112x112 at stride 2 2.55 -> 1.87 us with the split loads and the unchecked interior).
//
// `Isa` additionally provides: zero(); odd(a, b) (the odd lanes of the 2 * kLanes floats a:b); align<n>(hi, lo)
// (lanes lo[n..kLanes), hi[0..n): the register starting n floats into lo:hi); split_columns(p, even, odd) (the even
// and the odd floats of p[0, 2 * kLanes), all readable: even(load(p), load(p + kLanes)) and odd(...) or cheaper).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

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

// Register r's three kernel-column taps (t0, t1, t2) of one input row `row`, advancing that row's stream state:
// at column stride 1 prev / cur are the registers of input columns [(r - 1) L, r L) and [r L, (r + 1) L) (cur must
// hold register 0 before r = 0); at column stride 2 prev holds the odd columns of register r - 1 (its last lane is
// column 2 r L - 1; zero before r = 0). kInside: the caller knows the register's input columns lie inside the row
// (column stride 2: 2 (r + 1) L <= in_w), so no edge check.
template <typename Isa, int kStrideW, int kPadLeft, bool kInside = false>
inline void row_taps(const float* row, int64_t r, int64_t in_w, typename Isa::V& prev, typename Isa::V& cur,
                     typename Isa::V& t0, typename Isa::V& t1, typename Isa::V& t2) {
  using V = typename Isa::V;
  constexpr int64_t L = Isa::kLanes;
  if (kStrideW == 1) {
    const V next = load_columns<Isa>(row, (r + 1) * L, in_w);
    if (kPadLeft == 1) {
      t0 = Isa::template align<L - 1>(cur, prev);
      t1 = cur;
      t2 = Isa::template align<1>(next, cur);
    } else {
      t0 = cur;
      t1 = Isa::template align<1>(next, cur);
      t2 = Isa::template align<2>(next, cur);
    }
    prev = cur;
    cur = next;
  } else {
    const int64_t c0 = 2 * r * L;
    V even, odd;
    if (kInside || c0 + 2 * L <= in_w) {
      Isa::split_columns(row + c0, even, odd);
    } else {
      const V a0 = load_columns<Isa>(row, c0, in_w);
      const V a1 = load_columns<Isa>(row, c0 + L, in_w);
      even = Isa::even(a0, a1);
      odd = Isa::odd(a0, a1);
    }
    t0 = Isa::template align<L - 1>(odd, prev);  // columns 2 j - 1
    t1 = even;                                   // 2 j
    t2 = odd;                                    // 2 j + 1
    prev = odd;
  }
}

// Stores register r of an output row (the lanes past out_w left alone).
template <typename Isa>
inline void store_register(const DwConv2dF32Params& p, float* y_row, int64_t r, typename Isa::V acc) {
  constexpr int64_t L = Isa::kLanes;
  if (r * L + L <= p.out_w) {
    Isa::store(y_row + r * L, acc);
  } else {
    Isa::store_first(y_row + r * L, static_cast<int>(p.out_w - r * L), acc);
  }
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
  V prev[3] = {Isa::zero(), Isa::zero(), Isa::zero()}, cur[3] = {Isa::zero(), Isa::zero(), Isa::zero()};
  for (int64_t kh = kh_begin; kh < kh_end && kStrideW == 1; ++kh) cur[kh] = load_columns<Isa>(rows[kh], 0, in_w);
  for (int64_t r = 0; r < registers; ++r) {
    V acc = b;
    for (int64_t kh = kh_begin; kh < kh_end; ++kh) {
      V t0, t1, t2;
      row_taps<Isa, kStrideW, kPadLeft>(rows[kh], r, in_w, prev[kh], cur[kh], t0, t1, t2);
      acc = Isa::fmadd(wv[kh * 3 + 0], t0, acc);
      acc = Isa::fmadd(wv[kh * 3 + 1], t1, acc);
      acc = Isa::fmadd(wv[kh * 3 + 2], t2, acc);
    }
    store_register<Isa>(p, y_row, r, Isa::clamp(acc, lo, hi));
  }
}

// Output rows oh and oh + 1, both with all three kernel rows inside the input, in one pass (kStrideH = the row
// stride, 1 or 2). One row alone is one chain of nine dependent multiply-adds per register, which bounds the loop
// by their latency (Zen 3, AVX2: ~26 cycles per register at column stride 2); two rows are two chains to overlap,
// and their input rows overlap (oh + 1's first is oh's kStrideH-th), so each shared row's taps are made once. Each
// output sums in the same order as stream_row's: the same bits.
template <typename Isa, int kStrideW, int kPadLeft, int kStrideH>
void stream_row_pair(const DwConv2dF32Params& p, const float* x, const typename Isa::V* wv, typename Isa::V b,
                     typename Isa::V lo, typename Isa::V hi, int64_t oh, float* y_row) {
  using V = typename Isa::V;
  constexpr int64_t L = Isa::kLanes;
  constexpr int kRows = 3 + kStrideH;  // input rows oh * kStrideH - pad_top + [0, kRows)
  const int64_t in_w = p.in_w;
  const float* rows[kRows];
  V prev[kRows], cur[kRows];
#pragma GCC unroll 8
  for (int j = 0; j < kRows; ++j) {
    rows[j] = x + (oh * kStrideH - p.pad_top + j) * in_w;
    prev[j] = Isa::zero();
    cur[j] = kStrideW == 1 ? load_columns<Isa>(rows[j], 0, in_w) : Isa::zero();
  }
  float* y_next = y_row + p.out_w;
  const auto step = [&](int64_t r, auto inside) __attribute__((always_inline)) {
    V acc0 = b, acc1 = b;
#pragma GCC unroll 8
    for (int j = 0; j < kRows; ++j) {
      V t0, t1, t2;
      row_taps<Isa, kStrideW, kPadLeft, decltype(inside)::value>(rows[j], r, in_w, prev[j], cur[j], t0, t1, t2);
      if (j < 3) {
        acc0 = Isa::fmadd(wv[j * 3 + 0], t0, acc0);
        acc0 = Isa::fmadd(wv[j * 3 + 1], t1, acc0);
        acc0 = Isa::fmadd(wv[j * 3 + 2], t2, acc0);
      }
      if (j >= kStrideH) {
        acc1 = Isa::fmadd(wv[(j - kStrideH) * 3 + 0], t0, acc1);
        acc1 = Isa::fmadd(wv[(j - kStrideH) * 3 + 1], t1, acc1);
        acc1 = Isa::fmadd(wv[(j - kStrideH) * 3 + 2], t2, acc1);
      }
    }
    acc0 = Isa::clamp(acc0, lo, hi);
    acc1 = Isa::clamp(acc1, lo, hi);
    if (decltype(inside)::value) {
      Isa::store(y_row + r * L, acc0);
      Isa::store(y_next + r * L, acc1);
    } else {
      store_register<Isa>(p, y_row, r, acc0);
      store_register<Isa>(p, y_next, r, acc1);
    }
  };
  // At column stride 2, the registers whose loads and stores are all whole run without edge checks (Zen 3, AVX2,
  // one 112x112 plane: 2.29 -> 1.85 us); at column stride 1 the same split measured 5% slower (5.04 -> 5.30 us).
  const int64_t registers = (p.out_w + L - 1) / L;
  const int64_t inside = kStrideW == 2 ? std::min(p.out_w / L, in_w / (2 * L)) : 0;
  int64_t r = 0;
  for (; r < inside; ++r) step(r, std::true_type());
  for (; r < registers; ++r) step(r, std::false_type());
}

// True when output row oh has all three kernel rows inside the input.
inline bool whole_row(const DwConv2dF32Params& p, int64_t oh) {
  const int64_t top = oh * p.stride_h - p.pad_top;
  return top >= 0 && top + 3 <= p.in_h;
}

template <typename Isa, int kStrideW, int kPadLeft>
void stream_plane_of(const DwConv2dF32Params& p, const float* x, const float* w, float bias, float* y) {
  using V = typename Isa::V;
  V wv[9];
  for (int t = 0; t < 9; ++t) wv[t] = Isa::set1(w[t]);
  const V b = Isa::set1(bias), lo = Isa::set1(p.output_min), hi = Isa::set1(p.output_max);
  const bool pairs = p.stride_h == 1 || p.stride_h == 2;
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    float* y_row = y + oh * p.out_w;
    if (pairs && oh + 1 < p.out_h && whole_row(p, oh) && whole_row(p, oh + 1)) {
      if (p.stride_h == 1) {
        stream_row_pair<Isa, kStrideW, kPadLeft, 1>(p, x, wv, b, lo, hi, oh, y_row);
      } else {
        stream_row_pair<Isa, kStrideW, kPadLeft, 2>(p, x, wv, b, lo, hi, oh, y_row);
      }
      ++oh;
      continue;
    }
    const int64_t top = oh * p.stride_h - p.pad_top;
    const int64_t kh_begin = top >= 0 ? 0 : -top;
    const int64_t kh_end = std::min<int64_t>(3, std::max<int64_t>(0, p.in_h - top));
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
