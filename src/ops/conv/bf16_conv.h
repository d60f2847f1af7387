// Group-1 convolutions on the bf16 GEMM (kernels/bf16-gemm): the float32 convolutions of a session under
// MatMulPrecision::kBFloat16 (`--precision bf16`) and bfloat16 convolutions, with constant weights. Each image is
// one GEMM in the NCHW orientation, y [M x positions] = W [M x depth] x im2col(x) [depth x positions]: the weights
// are its A, packed once at creation (rounded to bfloat16), and the im2col matrix (x itself for a pointwise
// convolution) its B, rounded to bfloat16 as it is packed per call (2-D ones, where the GEMM variant can, packed
// straight from a bfloat16 copy of the padded image: bf16_gemm_packs_im2col); the sums are float32, and the bias, the
// sum input and the clamp are applied to them in registers as each tile is stored straight into y.
#pragma once

#include <limits>
#include <memory>
#include <vector>

#include "base/parallel.h"
#include "base/tensor.h"
#include "kernels/bf16-gemm/bf16_gemm.h"
#include "ops/conv/conv_common.h"

namespace tessera::conv {

// Least depth (input channels x kernel taps) and output channels a convolution runs on the bf16 GEMM at; the
// others stay on the float32 engines. Shallower ones pad their depth to whole tiles (32 steps for AMX); and the
// activations are packed per call, a cost per value that the multiply-adds repay only over enough output
// channels (MobileNetV2's 144 -> 24 and 96 -> 24 projections at 56x56 ran 15-30% slower than float32; Xeon, AMX,
// per-node minima).
inline constexpr int64_t kBf16ConvMinDepth = 64;
inline constexpr int64_t kBf16ConvMinChannels = 64;

// A constant W [M, C, k...] (group 1) packed as the bf16 GEMM's A operand: M rows of depth C * kernel taps.
struct Bf16ConvWeights {
  PackedBf16GemmA packed;
};

// W (float32, rounded to bfloat16 as it is packed, or bfloat16) packed for conv_bf16, for the bf16 GEMM variant
// selected now. W must have rank 3 or more.
std::shared_ptr<const Bf16ConvWeights> make_bf16_conv_weights(const Tensor& w);

// y = clamp(conv(x, W) + bias + sum, lo, hi) for geometry `g` (group 1; W's shape), x and y float32 NCHW, bias
// [M] or nullptr, sum of y's shape or nullptr. Work is split over `parallelism`; any thread count gives the same
// bits.
// With x_channels_last (pointwise convolutions only), x is channels-last ([N, H, W, C]); y stays NCHW.
void conv_bf16(const ConvGeometry& g, const Bf16ConvWeights& w, const float* x, const float* bias, const float* sum,
               float lo, float hi, float* y, Parallelism& parallelism, bool x_channels_last = false);

}  // namespace tessera::conv
