// Depthwise 2-D convolution of one float32 channel (NCHW planes), one implementation per ISA (AVX-512,
// AVX2+FMA, portable) chosen once from CPUID; the result is clamped to [min, max] (a fused Relu / Clip; -inf/+inf
// for none). The AVX-512 and AVX2 variants read the planes in place for column strides 1 and 2, with masked loads
// at the edges (3x3 kernels streamed row by row, f32-dwconv-stream-impl.h; others f32-dwconv-direct-impl.h); the
// portable variant, and wider strides, copy the input plane once into zero-padded, column-phase-split rows (one phase
// per unit of the column stride), so every kernel tap is a contiguous multiply-add over a whole output row
// (f32-dwconv-impl.h).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/window2d.h"

namespace tessera {

struct DwConv2dF32Params : Window2d {
  float output_min = -std::numeric_limits<float>::infinity();
  float output_max = std::numeric_limits<float>::infinity();
};

// Most kernel taps (kernel_h * kernel_w) dwconv2d_f32 takes.
inline constexpr int64_t kDwConvMaxTaps = 64;

// True when dwconv2d_f32 takes `p` (at most kDwConvMaxTaps taps, positive sizes, strides and dilations).
inline bool dwconv2d_f32_supports(const DwConv2dF32Params& p) {
  return p.kernel_h > 0 && p.kernel_w > 0 && p.kernel_h * p.kernel_w <= kDwConvMaxTaps && p.stride_h > 0 &&
         p.stride_w > 0 && p.dilation_h > 0 && p.dilation_w > 0 && p.out_h > 0 && p.out_w > 0;
}

// Floats of scratch dwconv2d_f32 needs for `p` (per call; callers keep one buffer per thread).
int64_t dwconv2d_f32_scratch_floats(const DwConv2dF32Params& p);

// y[oh][ow] = clamp(bias + sum_{kh,kw} w[kh * kernel_w + kw] * x[oh*stride_h + kh*dilation_h - pad_top]
//                                                             [ow*stride_w + kw*dilation_w - pad_left])
// with x zero outside [0, in_h) x [0, in_w). x is in_h x in_w, y out_h x out_w, both row-major and dense.
// Requires dwconv2d_f32_supports(p).
void dwconv2d_f32(const DwConv2dF32Params& p, const float* x, const float* w, float bias, float* y, float* scratch);

// Planes of at most this many outputs the phase-split loops (portable variant, wide strides) convolve channels
// side by side: one plane per call keeps most lanes of a register idle on them and pays the plane's setup for few
// outputs.
inline constexpr int64_t kDwConvChannelsMaxOutputs = 256;

// Floats of scratch dwconv2d_f32_channels needs for `p`.
int64_t dwconv2d_f32_channels_scratch_floats(const DwConv2dF32Params& p);

// dwconv2d_f32 over `count` channels in one call (the kernel's per-geometry setup paid once), the way the
// variant runs them best (planes side by side in registers, or one after another): channel c reads the plane x[c]
// with weights w + c * kernel_h * kernel_w and bias[c] (bias may be null: 0), and writes the plane
// y + c * out_h * out_w. Same result as dwconv2d_f32 per channel up to rounding order. Requires
// dwconv2d_f32_supports(p).
void dwconv2d_f32_channels(const DwConv2dF32Params& p, int64_t count, const float* const* x, const float* w,
                           const float* bias, float* y, float* scratch);

// The selected variant, e.g. "f32_dwconv__avx512"; every variant this CPU runs (CPUID choice first); and a test
// hook selecting one by name ("" = the CPUID choice; false for unknown or unrunnable names; not thread-safe).
const char* dwconv2d_f32_kernel_name();
std::vector<std::string> dwconv2d_f32_kernel_names();
bool dwconv2d_f32_select_kernel(const std::string& name);

}  // namespace tessera
