// The x86 variants' entry points: the direct loops of f32-dwconv-direct-impl.h where they take the geometry, the
// phase-split loops of f32-dwconv-impl.h otherwise. Internal linkage; include only from f32-dwconv-avx512.cpp and
// f32-dwconv-avx2.cpp, after defining their register traits.
#pragma once

#include "kernels/f32-dwconv/f32-dwconv-direct-impl.h"
#include "kernels/f32-dwconv/f32-dwconv-impl.h"
#include "kernels/f32-dwconv/f32-dwconv-stream-impl.h"

namespace tessera::f32_dwconv {
namespace {

// DwConvFn: the streaming 3x3 loop where it applies, direct rows where row_geometry takes the geometry (no scratch),
// the phase-split plane otherwise.
template <typename Isa>
void select_plane(const DwConv2dF32Params& p, const float* x, const float* w, float bias, float* y, float* scratch) {
  if (stream_supports(p)) return stream_plane<Isa>(p, x, w, bias, y);
  RowGeometry<Isa> g;
  if (row_geometry(p, g)) return direct_rows<Isa>(p, g, x, w, bias, y);
  dwconv(p, x, w, bias, y, scratch);
}

// DwConvChannelsFn: the streaming 3x3 loop on rows of at least one register, the flat loop where it applies (unit
// strides, same width: rows shorter than a register, which it packs into whole registers), else direct rows plane by
// plane, else channels side by side through the interleaved buffer. Zen 4, AVX-512, one thread, MobileNetV2's
// layers: streaming against direct rows 147 -> 94 us at 112x112 (32 channels), 253 -> 137 us at 112x112 stride 2,
// 202 -> 147 us at 56x56, 101 -> 63 us at 56x56 stride 2; against flat 78 -> 70 us at 28x28, but 43 -> 59 us at
// 14x14 and 36 -> 89 us at 7x7, where flat fills the registers.
template <typename Isa>
void select_channels(const DwConv2dF32Params& p, int64_t count, const float* const* x, const float* w,
                     const float* bias, float* y, float* scratch) {
  const bool flat = direct_flat_supports(p);
  if (stream_supports(p) && (!flat || p.out_w >= Isa::kLanes)) {
    const int64_t size = p.out_h * p.out_w;
    for (int64_t c = 0; c < count; ++c) {
      stream_plane<Isa>(p, x[c], w + c * 9, bias != nullptr ? bias[c] : 0.0f, y + c * size);
    }
    return;
  }
  if (flat) return direct_flat<Isa>(p, count, x, w, bias, y);
  RowGeometry<Isa> g;
  if (row_geometry(p, g)) {
    const int64_t taps = p.kernel_h * p.kernel_w, size = p.out_h * p.out_w;
    for (int64_t c = 0; c < count; ++c)
      direct_rows<Isa>(p, g, x[c], w + c * taps, bias != nullptr ? bias[c] : 0.0f, y + c * size);
    return;
  }
  dwconv_channels(p, count, x, w, bias, y, scratch);
}

}  // namespace
}  // namespace tessera::f32_dwconv
