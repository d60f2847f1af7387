// 2-D max pooling of one float32 plane (NCHW), one implementation per ISA (AVX-512, AVX2, portable) chosen once
// from CPUID. Each output row is pooled in two vectorized steps: the element-wise max of the window's input rows
// (contiguous), written into a row buffer padded with -inf, then the max over the window's columns of that buffer;
// at column stride 2 one shuffle per register picks the even or odd columns, so no element is gathered one by one.
// NaN propagates: a window holding a NaN gives NaN (as PyTorch and ONNX Runtime's MaxPool).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/window2d.h"

namespace tessera {

using MaxPool2dF32Params = Window2d;

// True when maxpool2d_f32 takes `p` (positive sizes, strides and dilations; non-negative pads; at most 64 kernel
// rows).
inline bool maxpool2d_f32_supports(const MaxPool2dF32Params& p) {
  return p.in_h > 0 && p.in_w > 0 && p.out_h > 0 && p.out_w > 0 && p.kernel_h > 0 && p.kernel_w > 0 && p.stride_h > 0 &&
         p.stride_w > 0 && p.dilation_h > 0 && p.dilation_w > 0 && p.pad_top >= 0 && p.pad_left >= 0;
}

// Floats of scratch maxpool2d_f32 needs for `p` (per call; callers keep one buffer per thread).
int64_t maxpool2d_f32_scratch_floats(const MaxPool2dF32Params& p);

// y[oh][ow] = max over kh, kw of x[oh*stride_h + kh*dilation_h - pad_top][ow*stride_w + kw*dilation_w - pad_left],
// over the positions inside x only (-inf for a window with none); NaN wins. x is in_h x in_w, y out_h x out_w,
// both row-major and dense. Requires maxpool2d_f32_supports(p).
void maxpool2d_f32(const MaxPool2dF32Params& p, const float* x, float* y, float* scratch);

// Planes of at most this many positions are better pooled many channels at a time (maxpool2d_f32_channels): on
// them the per-plane row passes cost as much as the few outputs.
inline constexpr int64_t kMaxPoolChannelsMaxPlane = 1024;

// Channels maxpool2d_f32_channels pools per call (16 floats: one AVX-512 register, two AVX2, four portable).
inline constexpr int64_t kMaxPoolChannelBlock = 16;

// Floats of scratch maxpool2d_f32_channels needs for `p`.
inline int64_t maxpool2d_f32_channels_scratch_floats(const MaxPool2dF32Params& p) {
  return (p.in_h * p.in_w + p.out_h * p.out_w) * kMaxPoolChannelBlock;
}

// maxpool2d_f32 over `count` (<= kMaxPoolChannelBlock) planes at once: plane c at x + c * x_plane, its output at
// y + c * y_plane. The planes are transposed to positions x channels (x32-transpose), every window's max taken over
// the channels' vectors, and the result transposed back: the same values as maxpool2d_f32 per plane (NaN wins).
// Requires maxpool2d_f32_supports(p).
void maxpool2d_f32_channels(const MaxPool2dF32Params& p, int64_t count, const float* x, int64_t x_plane, float* y,
                            int64_t y_plane, float* scratch);

// The selected variant, e.g. "f32_maxpool__avx512"; every variant this CPU runs (CPUID choice first); and a test
// hook selecting one by name ("" = the CPUID choice; false for unknown or unrunnable names; not thread-safe).
const char* maxpool2d_f32_kernel_name();
std::vector<std::string> maxpool2d_f32_kernel_names();
bool maxpool2d_f32_select_kernel(const std::string& name);

}  // namespace tessera
