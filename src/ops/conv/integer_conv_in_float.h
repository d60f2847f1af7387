// The exact int32 sums of a 2-D integer convolution (ConvInteger / QLinearConv) through the float32 convolution
// kernels, for the shapes the int8 GEMM serves badly: depthwise convolutions (one input channel per group), shallow
// ones (at most kShallowDepth products per output, such as a 3-channel image stem) and, where the bf16 GEMM runs on
// AMX tiles, dense ones the q8 GEMM would not run on its AMX tiles (dense_on_bf16_tiles). (x - x_zero_point) and
// (w - w_zero_point) are small integers, so while depth * max|x - xz| * max|w - wz| stays below 2^24 every product
// and partial sum is exact in float32 (the float kernels run without Winograd here).
#pragma once

#include <cstdint>
#include <vector>

#include "base/parallel.h"
#include "base/tensor.h"
#include "ops/conv/conv_common.h"

namespace tessera::conv {

// Products per output up to which a dense (one group) convolution runs in float.
inline constexpr int64_t kShallowDepth = 32;

// True when integer_conv_sums_in_float takes `g` with these operand types and zero points: a 2-D convolution that
// is depthwise (group == C == M) or shallow (one group, C * kernel size <= kShallowDepth) with integer zero points
// and sums that stay exact in float32.
bool integer_conv_runs_in_float(const ConvGeometry& g, DType x_dtype, double x_zero_point, DType w_dtype,
                                const std::vector<double>& w_zero_points);

// Whether a dense (one group, not pointwise) 2-D convolution of `depth` products per output runs in float on the
// AMX-BF16 tiles instead of the q8 GEMM: where the bf16 GEMM runs on AMX and the q8 GEMM would not for this depth
// (below 64 steps, or padded by more than a quarter: ResNet-50's 7x7 stem, 147). integer_conv_runs_in_float then
// takes it when its sums stay exact.
bool dense_on_bf16_tiles(int64_t depth);

// Whether every int32 sum over `depth` products (x - x_zero_point) * (w - w_zero_points[m]) plus its bias (nullptr,
// or `channels` values) lies within +-2^24 whatever x and w hold (int8 or uint8): depth * max |x - x_zero_point| *
// max |w - w_zero_point| + max |bias| <= 2^24. Such sums requantize without a range test (q8_requantize's
// small_sums).
bool integer_sums_within_2_24(int64_t depth, DType x_dtype, double x_zero_point, DType w_dtype,
                              const std::vector<double>& w_zero_points, const int32_t* bias, int64_t channels);

// acc [N, M, out_size] = sum over the window of (x - x_zero_point) * (w - w_zero_points[m]) (+ bias[m] when bias
// is set, int32 wrap-around). x and w are int8 or uint8. Requires integer_conv_runs_in_float.
void integer_conv_sums_in_float(const ConvGeometry& g, const Tensor& x, double x_zero_point, const Tensor& w,
                                const std::vector<double>& w_zero_points, const int32_t* bias, Parallelism& parallelism,
                                int32_t* acc);

// w minus its zero points (zero_points[m] for output channel m, one value or one per channel) as float32, in w's
// layout [M, C/group, kernel...]: the float weights the depthwise path convolves with, which a kernel may compute
// once for constant weights and pass to integer_conv_requantized_in_float.
Tensor integer_conv_widened_weights(const Tensor& w, const std::vector<double>& zero_points, Parallelism& parallelism);

// integer_conv_sums_in_float's sums, requantized as QLinearConv does (q8_requantize: scale scales[m] for output
// channel m, zero point y_zero_point, an integer in y's type's range) into y [N, M, out_size], int8 when
// y_signed, else uint8: the same bytes, without the int32 tensor (each plane requantized in chunks kept in L1).
// small_sums: integer_sums_within_2_24 of these operands (q8_requantize's small_sums). widened_w: nullptr, or
// integer_conv_widened_weights(w, w_zero_points) computed earlier (used by depthwise convolutions).
void integer_conv_requantized_in_float(const ConvGeometry& g, const Tensor& x, double x_zero_point, const Tensor& w,
                                       const std::vector<double>& w_zero_points, const int32_t* bias,
                                       const std::vector<double>& scales, double y_zero_point, bool y_signed,
                                       bool small_sums, Parallelism& parallelism, uint8_t* y,
                                       const Tensor* widened_w = nullptr);

}  // namespace tessera::conv
