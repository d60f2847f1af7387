// Depthwise 2-D convolution in channels-last (NHWC) layout, float32: every pixel holds its C channels
// contiguously, so each register holds 16 (AVX-512) or 8 (AVX2) channels of one pixel and every lane works
// whatever the plane size (the NCHW kernels of f32-dwconv leave lanes idle on 7x7 and 14x14 planes). One
// implementation per ISA (AVX-512, AVX2+FMA, portable), chosen once from CPUID. Used by com.tessera NhwcConv,
// which the optimizer's nhwc_layout pass writes for chains of pointwise and depthwise convolutions.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/window2d.h"

namespace tessera {

struct DwConvNhwcF32Params : Window2d {
  int64_t channels = 0;  // C: the floats per pixel of x, y, sum, and per tap of w
  float output_min = -std::numeric_limits<float>::infinity();
  float output_max = std::numeric_limits<float>::infinity();
};

// True when dwconv_nhwc_f32 takes `p` (positive sizes, strides, dilations and channels; pads >= 0).
inline bool dwconv_nhwc_f32_supports(const DwConvNhwcF32Params& p) {
  return p.channels > 0 && p.kernel_h > 0 && p.kernel_w > 0 && p.stride_h > 0 && p.stride_w > 0 &&
         p.dilation_h > 0 && p.dilation_w > 0 && p.out_h > 0 && p.out_w > 0 && p.in_h > 0 && p.in_w > 0 &&
         p.pad_top >= 0 && p.pad_left >= 0;
}

// For output rows [row_begin, row_end) and channels [channel_begin, channel_end) of one image:
//   y[oh][ow][c] = clamp(bias[c] + sum[oh][ow][c]
//                        + sum_{kh,kw} w[(kh * kernel_w + kw) * C + c]
//                                      * x[oh*stride_h + kh*dilation_h - pad_top][ow*stride_w + kw*dilation_w - pad_left][c],
//                        output_min, output_max)
// with x zero outside [0, in_h) x [0, in_w). x is in_h x in_w x C, y and sum out_h x out_w x C, all dense; w is
// kernel_h x kernel_w x C (the ONNX weights [C, 1, kh, kw] transposed once). bias and sum may be null (0). NaN
// passes through the clamp. Disjoint row or channel ranges may run concurrently (threads split the work by
// them). Requires dwconv_nhwc_f32_supports(p), 0 <= row_begin <= row_end <= out_h and
// 0 <= channel_begin <= channel_end <= C.
void dwconv_nhwc_f32(const DwConvNhwcF32Params& p, const float* x, const float* w, const float* bias,
                     const float* sum, float* y, int64_t row_begin, int64_t row_end, int64_t channel_begin,
                     int64_t channel_end);

// The selected variant, e.g. "f32_dwconv_nhwc__avx512"; every variant this CPU runs (CPUID choice first); and a
// test hook selecting one by name ("" = the CPUID choice; false for unknown or unrunnable names; not
// thread-safe).
const char* dwconv_nhwc_f32_kernel_name();
std::vector<std::string> dwconv_nhwc_f32_kernel_names();
bool dwconv_nhwc_f32_select_kernel(const std::string& name);

}  // namespace tessera
