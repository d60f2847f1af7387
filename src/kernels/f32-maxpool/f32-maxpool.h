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

// True when maxpool2d_f32 takes `p` (positive sizes, strides and dilations; non-negative pads).
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

// The selected variant, e.g. "f32_maxpool__avx512"; every variant this CPU runs (CPUID choice first); and a test
// hook selecting one by name ("" = the CPUID choice; false for unknown or unrunnable names; not thread-safe).
const char* maxpool2d_f32_kernel_name();
std::vector<std::string> maxpool2d_f32_kernel_names();
bool maxpool2d_f32_select_kernel(const std::string& name);

}  // namespace tessera
