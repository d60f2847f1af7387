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

// One register of outputs from column ow0 of each of the kN rows oh, oh + 1, ..., accumulated into acc[i] over
// the taps of the kernel rows [kh_begin, kh_end) in registers; `edge` indexes the masks of an edge register, -1
// for an interior one (plain loads). kN > 1 gives the core independent multiply-add chains to overlap (one chain
// of 9 dependent multiply-adds alone runs at their latency, not their throughput). kWholeKernel: every kernel row
// is inside the plane for all kN rows, so with a fixed kTaps the tap loops unroll completely and the weights stay
// in registers.
template <typename Isa, int kStrideW, int kTaps, bool kWholeKernel, int kN>
inline void rows_registers(const DwConv2dF32Params& p, const RowGeometry<Isa>& g, const float* x,
                           const typename Isa::V* wv, typename Isa::V* acc, int64_t oh, int64_t kh_begin,
                           int64_t kh_end, int64_t ow0, int64_t edge) {
  constexpr int64_t L = Isa::kLanes;
  // kTaps == 9: a 3x3 kernel without dilation (constant tap offsets).
  const int64_t kernel_w = kTaps == 9 ? 3 : p.kernel_w;
  const int64_t dilation_w = kTaps == 9 ? 1 : p.dilation_w, dilation_h = kTaps == 9 ? 1 : p.dilation_h;
  if (kWholeKernel) {
    kh_begin = 0;
    kh_end = kTaps == 9 ? 3 : p.kernel_h;
  }
  const float* base = x + (oh * p.stride_h - p.pad_top) * p.in_w + ow0 * kStrideW - p.pad_left;
  const int64_t next_row = p.stride_h * p.in_w;  // from output row oh's inputs to oh + 1's
  for (int64_t kh = kh_begin; kh < kh_end; ++kh) {
    const float* row = base + kh * dilation_h * p.in_w;
    for (int64_t kw = 0; kw < kernel_w; ++kw) {
      for (int i = 0; i < kN; ++i) {
        const float* source = row + kw * dilation_w + i * next_row;
        typename Isa::V value;
        if (edge < 0) {
          value = kStrideW == 1 ? Isa::load(source) : Isa::even(Isa::load(source), Isa::load(source + L));
        } else if (kStrideW == 1) {
          value = Isa::load_masked(source, g.masks[edge][kw][0]);
        } else {
          value = Isa::even(Isa::load_masked(source, g.masks[edge][kw][0]),
                            Isa::load_masked(source + L, g.masks[edge][kw][1]));
        }
        acc[i] = Isa::fmadd(wv[kh * kernel_w + kw], value, acc[i]);
      }
    }
  }
}

// Clamps a register of row y_row's outputs from register r and stores it (its head only for a row's last, short
// register).
template <typename Isa>
inline void store_row_register(const DwConv2dF32Params& p, typename Isa::V acc, typename Isa::V lo, typename Isa::V hi,
                               int64_t r, float* y_row) {
  constexpr int64_t L = Isa::kLanes;
  acc = Isa::clamp(acc, lo, hi);
  if (r * L + L <= p.out_w) {
    Isa::store(y_row + r * L, acc);
  } else {
    Isa::store_first(y_row + r * L, static_cast<int>(p.out_w - r * L), acc);
  }
}

// Rows [oh, oh + kN) of the plane, every register of each.
template <typename Isa, int kStrideW, int kTaps, bool kWholeKernel, int kN>
inline void rows_block(const DwConv2dF32Params& p, const RowGeometry<Isa>& g, const float* x, const typename Isa::V* wv,
                       typename Isa::V b, typename Isa::V lo, typename Isa::V hi, int64_t oh, int64_t kh_begin,
                       int64_t kh_end, float* y) {
  constexpr int64_t L = Isa::kLanes;
  for (int64_t k = 0; k < g.registers; ++k) {
    // Interior registers first (most of a row), then the edges.
    const int64_t interior = g.interior_end - g.interior_begin;
    const int64_t edge = k < interior ? -1 : k - interior;
    const int64_t r = edge < 0 ? g.interior_begin + k : g.edge_register[edge];
    typename Isa::V acc[kN];
    for (int i = 0; i < kN; ++i) acc[i] = b;
    if (edge < 0) {
      rows_registers<Isa, kStrideW, kTaps, kWholeKernel, kN>(p, g, x, wv, acc, oh, kh_begin, kh_end, r * L, -1);
    } else {
      rows_registers<Isa, kStrideW, kTaps, kWholeKernel, kN>(p, g, x, wv, acc, oh, kh_begin, kh_end, r * L, edge);
    }
    for (int i = 0; i < kN; ++i) store_row_register<Isa>(p, acc[i], lo, hi, r, y + (oh + i) * p.out_w);
  }
}

template <typename Isa, int kStrideW, int kTaps>
void rows_plane(const DwConv2dF32Params& p, const RowGeometry<Isa>& g, const float* x, const float* w, float bias,
                float* y) {
  using V = typename Isa::V;
  const int64_t taps = p.kernel_h * p.kernel_w;
  V wv[kTaps > 0 ? kTaps : kDwConvMaxTaps];
  for (int64_t t = 0; t < taps; ++t) wv[t] = Isa::set1(w[t]);
  const V b = Isa::set1(bias), lo = Isa::set1(p.output_min), hi = Isa::set1(p.output_max);
  // Kernel rows inside the plane for output row oh: 0 <= oh stride_h + kh dilation_h - pad_top < in_h.
  const auto kernel_rows = [&p](int64_t oh, int64_t& begin, int64_t& end) {
    const int64_t top = oh * p.stride_h - p.pad_top;
    begin = top >= 0 ? 0 : (-top + p.dilation_h - 1) / p.dilation_h;
    end = std::min(p.kernel_h, p.in_h - top <= 0 ? 0 : (p.in_h - top - 1) / p.dilation_h + 1);
  };
  for (int64_t oh = 0; oh < p.out_h;) {
    int64_t kh_begin, kh_end, next_begin = 0, next_end = 0;
    kernel_rows(oh, kh_begin, kh_end);
    const bool whole = kh_begin == 0 && kh_end == p.kernel_h;
    if (oh + 1 < p.out_h) kernel_rows(oh + 1, next_begin, next_end);
    if (whole && oh + 1 < p.out_h && next_begin == 0 && next_end == p.kernel_h) {
      rows_block<Isa, kStrideW, kTaps, true, 2>(p, g, x, wv, b, lo, hi, oh, 0, 0, y);
      oh += 2;
    } else if (whole) {
      rows_block<Isa, kStrideW, kTaps, true, 1>(p, g, x, wv, b, lo, hi, oh, 0, 0, y);
      oh += 1;
    } else {
      rows_block<Isa, kStrideW, kTaps, false, 1>(p, g, x, wv, b, lo, hi, oh, kh_begin, kh_end, y);
      oh += 1;
    }
  }
}

// y = dwconv(x) for one plane, in place (no scratch), with the geometry from row_geometry(p, g) (true). Requires
// dwconv2d_f32_supports(p).
template <typename Isa>
void direct_rows(const DwConv2dF32Params& p, const RowGeometry<Isa>& g, const float* x, const float* w, float bias,
                 float* y) {
  const bool three_by_three = p.kernel_h == 3 && p.kernel_w == 3 && p.dilation_h == 1 && p.dilation_w == 1;
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

// acc[i] += every tap of flat register i (of kN consecutive ones from `source`): a plain load where the register's
// mask (bits[i * taps + t]) covers every lane, a masked one where it covers some, none where it covers none.
template <typename Isa, int kTaps, int kN>
inline void flat_taps(const float* source, const uint32_t* bits, int64_t taps, const int64_t* shift,
                      const typename Isa::V* wv, typename Isa::V* acc) {
  constexpr int64_t L = Isa::kLanes;
  constexpr uint32_t kFull = (1u << L) - 1;
  const int64_t n = kTaps > 0 ? kTaps : taps;
  for (int64_t t = 0; t < n; ++t) {
    for (int i = 0; i < kN; ++i) {
      const uint32_t mask = bits[i * n + t];
      const float* at = source + i * L + shift[t];
      if (mask == kFull) {
        acc[i] = Isa::fmadd(wv[t], Isa::load(at), acc[i]);
      } else if (mask != 0) {
        acc[i] = Isa::fmadd(wv[t], Isa::load_masked(at, Isa::mask_bits(mask)), acc[i]);
      }
    }
  }
}

// Clamps flat register r and stores it (its head only where the plane ends inside it).
template <typename Isa>
inline void store_flat(typename Isa::V acc, typename Isa::V lo, typename Isa::V hi, int64_t r, int64_t size,
                       float* out) {
  constexpr int64_t L = Isa::kLanes;
  acc = Isa::clamp(acc, lo, hi);
  if (r * L + L <= size) {
    Isa::store(out + r * L, acc);
  } else {
    Isa::store_first(out + r * L, static_cast<int>(size - r * L), acc);
  }
}

// The flat loop's per-geometry tables: per tap its shift of the flat index; per register and tap the lanes whose
// tap lies inside the plane. Built once per geometry and thread (the last one is kept): the lane loop costs about as
// much as convolving a few hundred small channels, and the Conv kernel calls once per piece of channels.
template <typename Isa>
struct FlatTables {
  static constexpr int64_t kLanes = Isa::kLanes;
  int64_t key[9] = {-1};  // the geometry they were built for: in_h, in_w, kernel_h, kernel_w, dilations, pads
  int64_t shift[kFlatMaxTaps] = {};
  uint32_t bits[(kFlatMaxOutputs + kLanes - 1) / kLanes * kFlatMaxTaps] = {};
};

template <typename Isa>
const FlatTables<Isa>& flat_tables(const DwConv2dF32Params& p) {
  constexpr int64_t L = Isa::kLanes;
  thread_local FlatTables<Isa> t;
  const int64_t key[9] = {p.in_h,       p.in_w,    p.kernel_h, p.kernel_w, p.dilation_h,
                          p.dilation_w, p.pad_top, p.pad_left, p.out_h};
  if (std::equal(key, key + 9, t.key)) return t;
  std::copy(key, key + 9, t.key);
  const int64_t size = p.out_h * p.out_w, registers = (size + L - 1) / L, taps = p.kernel_h * p.kernel_w;
  for (int64_t tap = 0; tap < taps; ++tap) {
    const int64_t dh = (tap / p.kernel_w) * p.dilation_h - p.pad_top,
                  dw = (tap % p.kernel_w) * p.dilation_w - p.pad_left;
    t.shift[tap] = dh * p.in_w + dw;
    // Walk the outputs in order, tracking (row, column) without dividing.
    int64_t oh = 0, ow = 0;
    for (int64_t r = 0; r < registers; ++r) {
      uint32_t mask = 0;
      for (int64_t i = 0; i < L && r * L + i < size; ++i) {
        const int64_t ih = oh + dh, iw = ow + dw;
        if (ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w) mask |= 1u << i;
        if (++ow == p.out_w) {
          ow = 0;
          ++oh;
        }
      }
      t.bits[r * taps + tap] = mask;
    }
  }
  return t;
}

// The flat loop over `count` channels (as dwconv2d_f32_channels). Requires direct_flat_supports(p).
template <typename Isa, int kTaps>
void flat_channels(const DwConv2dF32Params& p, int64_t count, const float* const* x, const float* w, const float* bias,
                   float* y) {
  using V = typename Isa::V;
  constexpr int64_t L = Isa::kLanes;
  const int64_t size = p.out_h * p.out_w, registers = (size + L - 1) / L;
  const int64_t taps = kTaps > 0 ? kTaps : p.kernel_h * p.kernel_w;
  const FlatTables<Isa>& tables = flat_tables<Isa>(p);
  const int64_t* shift = tables.shift;
  const uint32_t* bits = tables.bits;
  const V lo = Isa::set1(p.output_min), hi = Isa::set1(p.output_max);
  for (int64_t c = 0; c < count; ++c) {
    const float* plane = x[c];
    const float* kernel = w + c * taps;
    V wv[kTaps > 0 ? kTaps : kFlatMaxTaps];
    for (int64_t t = 0; t < taps; ++t) wv[t] = Isa::set1(kernel[t]);
    const V b = Isa::set1(bias != nullptr ? bias[c] : 0.0f);
    float* out = y + c * size;
    // One register at a time: pairing them (two chains) measured slower here, the per-tap mask tests doubling.
    for (int64_t r = 0; r < registers; ++r) {
      V acc[1] = {b};
      flat_taps<Isa, kTaps, 1>(plane + r * L, bits + r * taps, taps, shift, wv, acc);
      store_flat<Isa>(acc[0], lo, hi, r, size, out);
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
