// The x86 variants' entry points: the direct loops of f32-dwconv-direct-impl.h where they take the geometry, the
// phase-split loops of f32-dwconv-impl.h otherwise. Internal linkage; include only from f32-dwconv-avx512.cpp and
// f32-dwconv-avx2.cpp, after defining their register traits.
#pragma once

#include "kernels/f32-dwconv/f32-dwconv-direct-impl.h"
#include "kernels/f32-dwconv/f32-dwconv-impl.h"

namespace tessera::f32_dwconv {
namespace {

// DwConvFn: direct rows where row_geometry takes the geometry (no scratch), the phase-split plane otherwise.
template <typename Isa>
void select_plane(const DwConv2dF32Params& p, const float* x, const float* w, float bias, float* y, float* scratch) {
  RowGeometry<Isa> g;
  if (row_geometry(p, g)) return direct_rows<Isa>(p, g, x, w, bias, y);
  dwconv(p, x, w, bias, y, scratch);
}

// DwConvChannelsFn: the flat loop where it applies (unit strides, same width), else direct rows plane by plane,
// else channels side by side through the interleaved buffer.
template <typename Isa>
void select_channels(const DwConv2dF32Params& p, int64_t count, const float* const* x, const float* w,
                     const float* bias, float* y, float* scratch) {
  if (direct_flat_supports(p)) return direct_flat<Isa>(p, count, x, w, bias, y);
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
