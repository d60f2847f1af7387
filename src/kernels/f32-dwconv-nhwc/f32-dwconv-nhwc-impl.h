// The f32-dwconv-nhwc loops, written once over an ISA traits type and instantiated by each per-ISA file
// (f32-dwconv-nhwc-avx512.cpp, ...). Include only from those files, and instantiate only with traits types declared
// in an anonymous namespace there, so every instantiation has internal linkage and no code compiled with one file's
// -m flags can be shared with another file.
//
// An Isa traits type provides: Vec, kLanes, zero(), set1(float), load(const float*), store(float*, Vec),
// add(Vec, Vec), min(Vec, Vec), max(Vec, Vec) (x86's operand order: the second operand when either is NaN),
// fma(a, b, c) = a * b + c; Mask, first(int n) (lanes [0, n) on), load_masked(const float*, Mask) (the off lanes
// zero and never read), store_masked(float*, Mask, Vec) (the off lanes never written); and the blocking of the 3x3
// loops: kVectors (registers of channels per block: its 9 weight vectors each stay in registers along a row),
// kPixelsStride1 and kPixelsStride2 (interior outputs per step at column stride 1 and 2, sharing input loads).
//
// Every output is bias (+ sum), then one fma per tap in the order kh outer, kw inner, then the clamp, in every
// path and variant, so variants differ only where an fma is a multiply and an add (portable).
//
// 3x3 kernels at column stride 1 or 2 (MobileNetV2's depthwise layers) take unrolled loops: per block of channels
// (32 on AVX-512), row after row, the block's weights, bias and clamp bounds stay in registers while the row's
// outputs are walked: the interior ones (every tap inside x) kPixels at a time without bounds checks, the border
// columns one at a time with their kernel columns checked, and rows with one kernel row of padding through their
// own instantiation. Zen 4, one thread, 64-byte-aligned tensors, AVX-512: 2 registers per block with 4 (stride 1) /
// 2 (stride 2) outputs per step measured within noise of 1 register with 4-8 outputs and of 2 with 2-4 outputs;
// prefetching the next rows of large planes (144 x 56x56) cost more than it gained. Unaligned tensors (every
// register load split over two cache lines) ran 1.5x slower. Other geometries take one loop (row_general).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc-table.h"

namespace tessera::f32_dwconv_nhwc {
// Internal linkage for everything here, so each ISA file keeps its own copy (see the top of the file).
namespace {

template <typename Isa, bool kMasked>
inline typename Isa::Vec load_lanes(const float* p, typename Isa::Mask m) {
  if constexpr (kMasked) {
    return Isa::load_masked(p, m);
  } else {
    return Isa::load(p);
  }
}

template <typename Isa, bool kMasked>
inline void store_lanes(float* p, typename Isa::Mask m, typename Isa::Vec v) {
  if constexpr (kMasked) {
    Isa::store_masked(p, m, v);
  } else {
    Isa::store(p, v);
  }
}

// Output columns whose every kernel column lies inside x: [lo, hi) (hi >= lo; both within [0, out_w]).
struct Interior {
  int64_t lo, hi;
};

inline Interior interior_columns(const DwConvNhwcF32Params& p) {
  const int64_t span = (p.kernel_w - 1) * p.dilation_w;  // iw0 + span <= in_w - 1
  Interior cols;
  cols.lo = std::min((p.pad_left + p.stride_w - 1) / p.stride_w, p.out_w);
  const int64_t last = p.in_w - 1 - span + p.pad_left;  // ow * stride_w <= last
  cols.hi = std::clamp<int64_t>(last < 0 ? 0 : last / p.stride_w + 1, cols.lo, p.out_w);
  return cols;
}

// The 3x3 loops' block state: the weights of the valid kernel rows, the bias and the clamp bounds, in registers.
template <typename Isa, int kNv>
struct Block3x3 {
  using Vec = typename Isa::Vec;
  Vec w[3][3][kNv];
  Vec bias[kNv];
  Vec lo, hi;
};

// kPixels neighbouring interior outputs (columns ow.. ow + kPixels - 1 of one row, every tap inside x) of one channel
// block: each input pixel of the kernel rows [kKhLo, kKhHi) is loaded once and fed to every output it reaches.
// rows[kh] is input row ih0 + kh at the block's first channel; iw0 the first output's first input column; sum_px
// and y_px the first output's pixel at the block's first channel (sum_px null: no sum).
template <typename Isa, int kStride, int kNv, bool kMasked, int kKhLo, int kKhHi, int kPixels>
inline void interior_step(const Block3x3<Isa, kNv>& b, const float* const* rows, int64_t iw0, int64_t c,
                          const float* sum_px, float* y_px, typename Isa::Mask m) {
  using Vec = typename Isa::Vec;
  constexpr int kL = Isa::kLanes;
  Vec acc[kPixels][kNv];
#pragma GCC unroll 8
  for (int q = 0; q < kPixels; ++q) {
#pragma GCC unroll 4
    for (int v = 0; v < kNv; ++v) {
      acc[q][v] =
          sum_px != nullptr ? Isa::add(b.bias[v], load_lanes<Isa, kMasked>(sum_px + q * c + v * kL, m)) : b.bias[v];
    }
  }
#pragma GCC unroll 3
  for (int kh = kKhLo; kh < kKhHi; ++kh) {
    const float* r = rows[kh] + iw0 * c;
#pragma GCC unroll 16
    for (int j = 0; j < (kPixels - 1) * kStride + 3; ++j) {
#pragma GCC unroll 4
      for (int v = 0; v < kNv; ++v) {
        const Vec xv = load_lanes<Isa, kMasked>(r + j * c + v * kL, m);
#pragma GCC unroll 8
        for (int q = 0; q < kPixels; ++q) {
          const int kw = j - q * kStride;
          if (kw >= 0 && kw < 3) acc[q][v] = Isa::fma(xv, b.w[kh][kw][v], acc[q][v]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int q = 0; q < kPixels; ++q) {
#pragma GCC unroll 4
    for (int v = 0; v < kNv; ++v) {
      // acc second: min / max return their second operand when either is NaN, so NaN passes through.
      store_lanes<Isa, kMasked>(y_px + q * c + v * kL, m, Isa::min(b.hi, Isa::max(b.lo, acc[q][v])));
    }
  }
}

// One output of one channel block with its kernel columns checked against the row (the left and right borders).
template <typename Isa, int kNv, bool kMasked, int kKhLo, int kKhHi>
inline void border_pixel(const DwConvNhwcF32Params& p, const Block3x3<Isa, kNv>& b, const float* const* rows,
                         int64_t iw0, int64_t c, const float* sum_px, float* y_px, typename Isa::Mask m) {
  using Vec = typename Isa::Vec;
  constexpr int kL = Isa::kLanes;
  Vec acc[kNv];
#pragma GCC unroll 4
  for (int v = 0; v < kNv; ++v) {
    acc[v] = sum_px != nullptr ? Isa::add(b.bias[v], load_lanes<Isa, kMasked>(sum_px + v * kL, m)) : b.bias[v];
  }
#pragma GCC unroll 3
  for (int kh = kKhLo; kh < kKhHi; ++kh) {
#pragma GCC unroll 3
    for (int kw = 0; kw < 3; ++kw) {
      const int64_t iw = iw0 + kw;
      if (iw < 0 || iw >= p.in_w) continue;
      const float* px = rows[kh] + iw * c;
#pragma GCC unroll 4
      for (int v = 0; v < kNv; ++v) acc[v] = Isa::fma(load_lanes<Isa, kMasked>(px + v * kL, m), b.w[kh][kw][v], acc[v]);
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < kNv; ++v) store_lanes<Isa, kMasked>(y_px + v * kL, m, Isa::min(b.hi, Isa::max(b.lo, acc[v])));
}

// One output row of a 3x3, dilation-1 convolution at column stride kStride over one block of kNv registers of
// channels (kMasked: one register, only the lanes of `m` read or written), with kernel rows [kKhLo, kKhHi) inside x
// (the others all padding). rows[kh] is input row ih0 + kh, w, bias (may be null), sum_row (may be null) and y_row
// the weights, bias, sum row and output row, all at the block's first channel.
template <typename Isa, int kStride, int kNv, bool kMasked, int kKhLo, int kKhHi>
void row_3x3(const DwConvNhwcF32Params& p, const Interior& cols, const float* const* rows, const float* w,
             const float* bias, const float* sum_row, float* y_row, typename Isa::Mask m) {
  constexpr int kL = Isa::kLanes;
  constexpr int kPixels = kStride == 1 ? Isa::kPixelsStride1 : Isa::kPixelsStride2;
  const int64_t c = p.channels;
  Block3x3<Isa, kNv> b;
#pragma GCC unroll 3
  for (int kh = 0; kh < 3; ++kh) {
#pragma GCC unroll 3
    for (int kw = 0; kw < 3; ++kw) {
#pragma GCC unroll 4
      for (int v = 0; v < kNv; ++v) {
        // Rows of padding never use their weights (and the compiler drops these loads).
        b.w[kh][kw][v] =
            kh >= kKhLo && kh < kKhHi ? load_lanes<Isa, kMasked>(w + (kh * 3 + kw) * c + v * kL, m) : Isa::zero();
      }
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < kNv; ++v) b.bias[v] = bias != nullptr ? load_lanes<Isa, kMasked>(bias + v * kL, m) : Isa::zero();
  b.lo = Isa::set1(p.output_min);
  b.hi = Isa::set1(p.output_max);
  const auto sum_at = [&](int64_t ow) { return sum_row != nullptr ? sum_row + ow * c : nullptr; };
  int64_t ow = 0;
  for (; ow < cols.lo; ++ow) {
    border_pixel<Isa, kNv, kMasked, kKhLo, kKhHi>(p, b, rows, ow * kStride - p.pad_left, c, sum_at(ow), y_row + ow * c,
                                                  m);
  }
  for (; ow + kPixels <= cols.hi; ow += kPixels) {
    interior_step<Isa, kStride, kNv, kMasked, kKhLo, kKhHi, kPixels>(b, rows, ow * kStride - p.pad_left, c, sum_at(ow),
                                                                     y_row + ow * c, m);
  }
  for (; ow < cols.hi; ++ow) {
    interior_step<Isa, kStride, kNv, kMasked, kKhLo, kKhHi, 1>(b, rows, ow * kStride - p.pad_left, c, sum_at(ow),
                                                               y_row + ow * c, m);
  }
  for (; ow < p.out_w; ++ow) {
    border_pixel<Isa, kNv, kMasked, kKhLo, kKhHi>(p, b, rows, ow * kStride - p.pad_left, c, sum_at(ow), y_row + ow * c,
                                                  m);
  }
}

// Any geometry, one output row: per output, the kernel rows and columns inside x found once, then per register of
// channels (masked at the tail) one fma per tap, weights from memory.
template <typename Isa>
void row_general(const DwConvNhwcF32Params& p, const float* x, const float* w, const float* bias, const float* sum_row,
                 float* y_row, int64_t ih0, int64_t channel_begin, int64_t channel_end) {
  using Vec = typename Isa::Vec;
  constexpr int kL = Isa::kLanes;
  const int64_t c = p.channels;
  // Taps k with 0 <= start + k * dilation < size: [first, end) within [0, kernel).
  const auto taps = [](int64_t start, int64_t dilation, int64_t size, int64_t kernel, int64_t& first, int64_t& end) {
    first = std::min(start >= 0 ? 0 : (-start + dilation - 1) / dilation, kernel);
    end = std::clamp<int64_t>(size - start <= 0 ? 0 : (size - start + dilation - 1) / dilation, first, kernel);
  };
  int64_t kh_first, kh_end;
  taps(ih0, p.dilation_h, p.in_h, p.kernel_h, kh_first, kh_end);
  const Vec lo = Isa::set1(p.output_min), hi = Isa::set1(p.output_max);
  const auto block = [&]<bool kMasked>(int64_t iw0, int64_t kw_first, int64_t kw_end, int64_t ow, int64_t ch,
                                       typename Isa::Mask m) {
    Vec acc = bias != nullptr ? load_lanes<Isa, kMasked>(bias + ch, m) : Isa::zero();
    if (sum_row != nullptr) acc = Isa::add(acc, load_lanes<Isa, kMasked>(sum_row + ow * c + ch, m));
    for (int64_t kh = kh_first; kh < kh_end; ++kh) {
      const float* row = x + (ih0 + kh * p.dilation_h) * p.in_w * c + ch;
      const float* wk = w + kh * p.kernel_w * c + ch;
      for (int64_t kw = kw_first; kw < kw_end; ++kw) {
        acc = Isa::fma(load_lanes<Isa, kMasked>(row + (iw0 + kw * p.dilation_w) * c, m),
                       load_lanes<Isa, kMasked>(wk + kw * c, m), acc);
      }
    }
    store_lanes<Isa, kMasked>(y_row + ow * c + ch, m, Isa::min(hi, Isa::max(lo, acc)));
  };
  const int64_t tail = (channel_end - channel_begin) % kL;
  const typename Isa::Mask tail_mask = Isa::first(static_cast<int>(tail));
  for (int64_t ow = 0; ow < p.out_w; ++ow) {
    const int64_t iw0 = ow * p.stride_w - p.pad_left;
    int64_t kw_first, kw_end;
    taps(iw0, p.dilation_w, p.in_w, p.kernel_w, kw_first, kw_end);
    int64_t ch = channel_begin;
    for (; ch + kL <= channel_end; ch += kL) {
      block.template operator()<false>(iw0, kw_first, kw_end, ow, ch, typename Isa::Mask{});
    }
    if (ch < channel_end) block.template operator()<true>(iw0, kw_first, kw_end, ow, ch, tail_mask);
  }
}

// Output rows [row_begin, row_end) of the 3x3 loops for one block of kNv registers of channels [ch, ch_end)
// (kMasked: one register, lanes `m`), row after row, so the block's three input rows stay in L1 from one output row to
// the next. Rows with more than one kernel row of padding (or none inside x) go through the general loop.
template <typename Isa, int kStride, int kNv, bool kMasked>
void block_rows_3x3(const DwConvNhwcF32Params& p, const Interior& cols, const float* x, const float* w,
                    const float* bias, const float* sum, float* y, int64_t row_begin, int64_t row_end, int64_t ch,
                    int64_t ch_end, typename Isa::Mask m) {
  const int64_t c = p.channels;
  const float* w_ch = w + ch;
  const float* bias_ch = bias != nullptr ? bias + ch : nullptr;
  for (int64_t oh = row_begin; oh < row_end; ++oh) {
    const int64_t ih0 = oh * p.stride_h - p.pad_top;
    const float* sum_row = sum != nullptr ? sum + oh * p.out_w * c + ch : nullptr;
    float* y_row = y + oh * p.out_w * c + ch;
    const int64_t kh_lo = std::clamp<int64_t>(-ih0, 0, 3), kh_hi = std::clamp<int64_t>(p.in_h - ih0, 0, 3);
    const float* rows[3];
    for (int kh = 0; kh < 3; ++kh) rows[kh] = kh >= kh_lo && kh < kh_hi ? x + (ih0 + kh) * p.in_w * c + ch : nullptr;
    if (kh_lo == 0 && kh_hi == 3) {
      row_3x3<Isa, kStride, kNv, kMasked, 0, 3>(p, cols, rows, w_ch, bias_ch, sum_row, y_row, m);
    } else if (kh_lo == 1 && kh_hi == 3) {
      row_3x3<Isa, kStride, kNv, kMasked, 1, 3>(p, cols, rows, w_ch, bias_ch, sum_row, y_row, m);
    } else if (kh_lo == 0 && kh_hi == 2) {
      row_3x3<Isa, kStride, kNv, kMasked, 0, 2>(p, cols, rows, w_ch, bias_ch, sum_row, y_row, m);
    } else {
      row_general<Isa>(p, x, w, bias, sum != nullptr ? sum + oh * p.out_w * c : nullptr, y + oh * p.out_w * c, ih0, ch,
                       ch_end);
    }
  }
}

// The 3x3 loops over channels [channel_begin, channel_end): blocks of kVectors registers, then single registers,
// then one masked register for the tail.
template <typename Isa, int kStride>
void channels_3x3(const DwConvNhwcF32Params& p, const float* x, const float* w, const float* bias, const float* sum,
                  float* y, int64_t row_begin, int64_t row_end, int64_t channel_begin, int64_t channel_end) {
  constexpr int kL = Isa::kLanes;
  constexpr int kNv = Isa::kVectors;
  const Interior cols = interior_columns(p);
  int64_t ch = channel_begin;
  for (; ch + kNv * kL <= channel_end; ch += kNv * kL) {
    block_rows_3x3<Isa, kStride, kNv, false>(p, cols, x, w, bias, sum, y, row_begin, row_end, ch, ch + kNv * kL,
                                             typename Isa::Mask{});
  }
  if constexpr (kNv > 1) {
    for (; ch + kL <= channel_end; ch += kL) {
      block_rows_3x3<Isa, kStride, 1, false>(p, cols, x, w, bias, sum, y, row_begin, row_end, ch, ch + kL,
                                             typename Isa::Mask{});
    }
  }
  if (ch < channel_end) {
    block_rows_3x3<Isa, kStride, 1, true>(p, cols, x, w, bias, sum, y, row_begin, row_end, ch, channel_end,
                                          Isa::first(static_cast<int>(channel_end - ch)));
  }
}

// DwConvNhwcFn: the 3x3 loops for 3x3, dilation-1 kernels at column stride 1 or 2 (any row stride and pads), the
// general loop otherwise.
template <typename Isa>
void dwconv_nhwc(const DwConvNhwcF32Params& p, const float* x, const float* w, const float* bias, const float* sum,
                 float* y, int64_t row_begin, int64_t row_end, int64_t channel_begin, int64_t channel_end) {
  if (p.kernel_h == 3 && p.kernel_w == 3 && p.dilation_h == 1 && p.dilation_w == 1) {
    if (p.stride_w == 1)
      return channels_3x3<Isa, 1>(p, x, w, bias, sum, y, row_begin, row_end, channel_begin, channel_end);
    if (p.stride_w == 2)
      return channels_3x3<Isa, 2>(p, x, w, bias, sum, y, row_begin, row_end, channel_begin, channel_end);
  }
  const int64_t c = p.channels;
  for (int64_t oh = row_begin; oh < row_end; ++oh) {
    row_general<Isa>(p, x, w, bias, sum != nullptr ? sum + oh * p.out_w * c : nullptr, y + oh * p.out_w * c,
                     oh * p.stride_h - p.pad_top, channel_begin, channel_end);
  }
}

}  // namespace
}  // namespace tessera::f32_dwconv_nhwc
