// The direct f32-dwconv loops of the x86 variants, instantiated by f32-dwconv-avx512.cpp and f32-dwconv-avx2.cpp
// with their register traits (`Isa`, below). Internal linkage only; include only from those files.
//
// Unlike the phase-split loops of f32-dwconv-impl.h, these read the input planes in place: every kernel tap is one
// register load (two and an even-lane shuffle at column stride 2) straight from the input row, with masked loads
// where the window hangs over the plane's edge (masked-off lanes read as zero and never fault), so nothing is
// copied or zero-filled first. Two shapes:
//   - rows (column stride 1 or 2, any kernel, stride, dilation and padding): registers run along each output row;
//   - flat (stride 1 both ways and out_w == in_w, small planes): registers run along the flattened plane, so a
//     7x7 or 14x14 plane fills whole registers; each tap is then a constant shift of the flat index, with a
//     per-register mask for the lanes whose tap falls in the padding. The masks depend only on the geometry, so
//     one call computes them once for all its channels.
//
// `Isa` provides: kLanes; V (a register of floats) and M (a lane mask); set1, fmadd(a, b, c) = a * b + c,
// clamp(v, lo, hi); load, load_masked(p, m), store, store_first(p, n, v) (lanes [0, n)); range(lo, hi) (lanes
// [lo, hi) on; lo < hi), none() (no lane); mask_bits(bits) (lane i on where bit i is set; bits < 2^kLanes); even(a, b)
// (the even lanes of the 2 * kLanes floats a:b).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/f32-dwconv/f32-dwconv.h"

namespace tessera::f32_dwconv {
namespace {

// Most registers per output row whose loads need masks (the row's first and last ones, where the window hangs over
// the padding) that direct_rows takes, and most kernel columns.
inline constexpr int64_t kRowsMaxEdgeRegisters = 8;
inline constexpr int64_t kRowsMaxKernelW = 16;

// Where each register of an output row reads: registers [interior_begin, interior_end) read every kernel column
// whole (plain loads); the others, `edges` of them, read with the masks in `masks` (per edge register and kernel
// column: the first and, at column stride 2, the second load's mask). The same for every row and channel.
template <typename Isa>
struct RowGeometry {
  int64_t registers = 0;  // per output row: ceil(out_w / kLanes)
  int64_t interior_begin = 0, interior_end = 0;
  int64_t edges = 0;
  int64_t edge_register[kRowsMaxEdgeRegisters] = {};
  typename Isa::M masks[kRowsMaxEdgeRegisters][kRowsMaxKernelW][2];
};

// The mask of input columns [c0, c0 + kLanes) inside [0, in_w); none() when no column is.
template <typename Isa>
inline typename Isa::M column_mask(int64_t c0, int64_t in_w) {
  constexpr int64_t L = Isa::kLanes;
  const int64_t lo = std::max<int64_t>(0, -c0), hi = std::min<int64_t>(L, in_w - c0);
  return lo < hi ? Isa::range(static_cast<int>(lo), static_cast<int>(hi)) : Isa::none();
}

// Fills `g` for `p`; false when the geometry is outside direct_rows' bounds (column stride 1 or 2, at most
// kRowsMaxKernelW kernel columns, at most kRowsMaxEdgeRegisters edge registers per row).
template <typename Isa>
bool row_geometry(const DwConv2dF32Params& p, RowGeometry<Isa>& g) {
  constexpr int64_t L = Isa::kLanes;
  if ((p.stride_w != 1 && p.stride_w != 2) || p.kernel_w > kRowsMaxKernelW) return false;
  const int64_t span = L * p.stride_w;  // input columns one register's loads cover
  g.registers = (p.out_w + L - 1) / L;
  // Register r is interior when it holds kLanes outputs and its loads [r span + kw d - pad, + span) stay in the
  // row for kw = 0 and kw = kernel_w - 1.
  const int64_t last_shift = (p.kernel_w - 1) * p.dilation_w - p.pad_left;
  g.interior_begin = (p.pad_left + span - 1) / span;
  const int64_t room = p.in_w - last_shift - span;  // r span <= room
  g.interior_end = room < 0 ? 0 : std::min(room / span + 1, p.out_w / L);
  if (g.interior_end < g.interior_begin) g.interior_begin = g.interior_end = 0;
  g.edges = 0;
  for (int64_t r = 0; r < g.registers; ++r) {
    if (r >= g.interior_begin && r < g.interior_end) continue;
    if (g.edges == kRowsMaxEdgeRegisters) return false;
    g.edge_register[g.edges] = r;
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const int64_t c0 = r * span + kw * p.dilation_w - p.pad_left;
      g.masks[g.edges][kw][0] = column_mask<Isa>(c0, p.in_w);
      g.masks[g.edges][kw][1] = column_mask<Isa>(c0 + L, p.in_w);
    }
    ++g.edges;
  }
  return true;
}

// One register of outputs of row oh from column ow0, accumulated over the taps of the rows [kh_begin, kh_end) in
// registers; `edge` indexes the masks of an edge register, -1 for an interior one (plain loads).
// kWholeKernel: every kernel row is inside the plane (kh_begin = 0, kh_end = kernel_h), so with a fixed kTaps the
// tap loops unroll completely and the weights stay in registers.
template <typename Isa, int kStrideW, int kTaps, bool kWholeKernel>
inline typename Isa::V rows_register(const DwConv2dF32Params& p, const RowGeometry<Isa>& g, const float* x,
                                     const typename Isa::V* wv, typename Isa::V acc, int64_t oh, int64_t kh_begin,
                                     int64_t kh_end, int64_t ow0, int64_t edge) {
  constexpr int64_t L = Isa::kLanes;
  const int64_t kernel_w = kTaps == 9 ? 3 : p.kernel_w;
  if (kWholeKernel) {
    kh_begin = 0;
    kh_end = kTaps == 9 ? 3 : p.kernel_h;
  }
  const float* base = x + (oh * p.stride_h - p.pad_top) * p.in_w + ow0 * kStrideW - p.pad_left;
  for (int64_t kh = kh_begin; kh < kh_end; ++kh) {
    const float* row = base + kh * p.dilation_h * p.in_w;
    for (int64_t kw = 0; kw < kernel_w; ++kw) {
      const float* source = row + kw * p.dilation_w;
      typename Isa::V value;
      if (edge < 0) {
        value = kStrideW == 1 ? Isa::load(source) : Isa::even(Isa::load(source), Isa::load(source + L));
      } else if (kStrideW == 1) {
        value = Isa::load_masked(source, g.masks[edge][kw][0]);
      } else {
        value = Isa::even(Isa::load_masked(source, g.masks[edge][kw][0]),
                          Isa::load_masked(source + L, g.masks[edge][kw][1]));
      }
      acc = Isa::fmadd(wv[kh * kernel_w + kw], value, acc);
    }
  }
  return acc;
}

template <typename Isa, int kStrideW, int kTaps>
void rows_plane(const DwConv2dF32Params& p, const RowGeometry<Isa>& g, const float* x, const float* w, float bias,
                float* y) {
  using V = typename Isa::V;
  constexpr int64_t L = Isa::kLanes;
  const int64_t taps = p.kernel_h * p.kernel_w;
  V wv[kTaps > 0 ? kTaps : kDwConvMaxTaps];
  for (int64_t t = 0; t < taps; ++t) wv[t] = Isa::set1(w[t]);
  const V b = Isa::set1(bias), lo = Isa::set1(p.output_min), hi = Isa::set1(p.output_max);
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    // Kernel rows inside the plane: 0 <= oh stride_h + kh dilation_h - pad_top < in_h.
    const int64_t top = oh * p.stride_h - p.pad_top;
    const int64_t kh_begin = top >= 0 ? 0 : (-top + p.dilation_h - 1) / p.dilation_h;
    const int64_t kh_end = std::min(p.kernel_h, p.in_h - top <= 0 ? 0 : (p.in_h - top - 1) / p.dilation_h + 1);
    float* y_row = y + oh * p.out_w;
    const bool whole = kh_begin == 0 && kh_end == p.kernel_h;
    for (int64_t r = g.interior_begin; r < g.interior_end; ++r) {
      const V acc = whole ? rows_register<Isa, kStrideW, kTaps, true>(p, g, x, wv, b, oh, 0, 0, r * L, -1)
                          : rows_register<Isa, kStrideW, kTaps, false>(p, g, x, wv, b, oh, kh_begin, kh_end, r * L, -1);
      Isa::store(y_row + r * L, Isa::clamp(acc, lo, hi));
    }
    for (int64_t e = 0; e < g.edges; ++e) {
      const int64_t r = g.edge_register[e];
      const V acc =
          Isa::clamp(whole ? rows_register<Isa, kStrideW, kTaps, true>(p, g, x, wv, b, oh, 0, 0, r * L, e)
                           : rows_register<Isa, kStrideW, kTaps, false>(p, g, x, wv, b, oh, kh_begin, kh_end, r * L, e),
                     lo, hi);
      if (r * L + L <= p.out_w) {
        Isa::store(y_row + r * L, acc);
      } else {
        Isa::store_first(y_row + r * L, static_cast<int>(p.out_w - r * L), acc);
      }
    }
  }
}

// y = dwconv(x) for one plane, in place (no scratch), with the geometry from row_geometry(p, g) (true). Requires
// dwconv2d_f32_supports(p).
template <typename Isa>
void direct_rows(const DwConv2dF32Params& p, const RowGeometry<Isa>& g, const float* x, const float* w, float bias,
                 float* y) {
  const bool three_by_three = p.kernel_h == 3 && p.kernel_w == 3;
  if (p.stride_w == 1) {
    if (three_by_three) return rows_plane<Isa, 1, 9>(p, g, x, w, bias, y);
    return rows_plane<Isa, 1, 0>(p, g, x, w, bias, y);
  }
  if (three_by_three) return rows_plane<Isa, 2, 9>(p, g, x, w, bias, y);
  return rows_plane<Isa, 2, 0>(p, g, x, w, bias, y);
}

// Bounds of the flat loop: planes of at most kFlatMaxOutputs outputs and kFlatMaxTaps taps (its masks live on the
// stack: one word per register and tap).
inline constexpr int64_t kFlatMaxOutputs = 1024;
inline constexpr int64_t kFlatMaxTaps = 16;

// True when direct_flat takes `p`: unit strides, out_w == in_w (so a tap is a constant shift of the flat index),
// and a small plane and kernel.
inline bool direct_flat_supports(const DwConv2dF32Params& p) {
  return p.stride_h == 1 && p.stride_w == 1 && p.out_w == p.in_w && p.out_h * p.out_w <= kFlatMaxOutputs &&
         p.kernel_h * p.kernel_w <= kFlatMaxTaps;
}

// The flat loop over `count` channels (as dwconv2d_f32_channels). Requires direct_flat_supports(p).
template <typename Isa, int kTaps>
void flat_channels(const DwConv2dF32Params& p, int64_t count, const float* const* x, const float* w, const float* bias,
                   float* y) {
  using V = typename Isa::V;
  using M = typename Isa::M;
  constexpr int64_t L = Isa::kLanes;
  const int64_t size = p.out_h * p.out_w, registers = (size + L - 1) / L;
  const int64_t taps = kTaps > 0 ? kTaps : p.kernel_h * p.kernel_w;
  // Per tap: its shift of the flat index; per register and tap: the lanes whose tap lies inside the plane.
  int64_t shift[kFlatMaxTaps];
  uint32_t bits[(kFlatMaxOutputs + L - 1) / L * kFlatMaxTaps];
  for (int64_t t = 0; t < taps; ++t) {
    const int64_t dh = (t / p.kernel_w) * p.dilation_h - p.pad_top, dw = (t % p.kernel_w) * p.dilation_w - p.pad_left;
    shift[t] = dh * p.in_w + dw;
    for (int64_t r = 0; r < registers; ++r) {
      uint32_t mask = 0;
      for (int64_t i = 0; i < L && r * L + i < size; ++i) {
        const int64_t o = r * L + i, ih = o / p.out_w + dh, iw = o % p.out_w + dw;
        if (ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w) mask |= 1u << i;
      }
      bits[r * taps + t] = mask;
    }
  }
  const V lo = Isa::set1(p.output_min), hi = Isa::set1(p.output_max);
  const uint32_t full = L == 32 ? 0xffffffffu : (1u << L) - 1;
  for (int64_t c = 0; c < count; ++c) {
    const float* plane = x[c];
    const float* kernel = w + c * taps;
    V wv[kTaps > 0 ? kTaps : kFlatMaxTaps];
    for (int64_t t = 0; t < taps; ++t) wv[t] = Isa::set1(kernel[t]);
    const V b = Isa::set1(bias != nullptr ? bias[c] : 0.0f);
    float* out = y + c * size;
    for (int64_t r = 0; r < registers; ++r) {
      V acc = b;
      const uint32_t* mask = bits + r * taps;
      const float* source = plane + r * L;
      for (int64_t t = 0; t < taps; ++t) {
        if (mask[t] == full) {
          acc = Isa::fmadd(wv[t], Isa::load(source + shift[t]), acc);
        } else if (mask[t] != 0) {
          const M m = Isa::mask_bits(mask[t]);
          acc = Isa::fmadd(wv[t], Isa::load_masked(source + shift[t], m), acc);
        }
      }
      acc = Isa::clamp(acc, lo, hi);
      if (r * L + L <= size) {
        Isa::store(out + r * L, acc);
      } else {
        Isa::store_first(out + r * L, static_cast<int>(size - r * L), acc);
      }
    }
  }
}

template <typename Isa>
void direct_flat(const DwConv2dF32Params& p, int64_t count, const float* const* x, const float* w, const float* bias,
                 float* y) {
  if (p.kernel_h * p.kernel_w == 9) return flat_channels<Isa, 9>(p, count, x, w, bias, y);
  return flat_channels<Isa, 0>(p, count, x, w, bias, y);
}

}  // namespace
}  // namespace tessera::f32_dwconv
