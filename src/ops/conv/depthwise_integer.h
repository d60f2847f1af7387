// The exact int32 sums of a depthwise 2-D integer convolution (ConvInteger / QLinearConv with one input channel per
// group) through the float32 depthwise kernels: (x - x_zero_point) and (w - w_zero_point) are small integers, so
// while taps * max|x - xz| * max|w - wz| stays below 2^24 every product and partial sum is exact in float32.
#pragma once

#include <cstdint>
#include <vector>

#include "base/parallel.h"
#include "base/tensor.h"
#include "ops/conv/conv_common.h"

namespace tessera::conv {

// True when depthwise_integer_sums takes `g` with these operand types and zero points: a 2-D convolution with
// group == C == M and sums that stay exact in float32.
bool depthwise_integer_exact(const ConvGeometry& g, DType x_dtype, double x_zero_point, DType w_dtype,
                             const std::vector<double>& w_zero_points);

// acc [N, M, out_size] = sum over taps of (x - x_zero_point) * (w - w_zero_points[m]) (+ bias[m] when bias is
// set, int32 wrap-around). x and w are int8 or uint8. Requires depthwise_integer_exact.
void depthwise_integer_sums(const ConvGeometry& g, const Tensor& x, double x_zero_point, const Tensor& w,
                            const std::vector<double>& w_zero_points, const int32_t* bias, Parallelism& parallelism,
                            int32_t* acc);

}  // namespace tessera::conv
