// Winograd F(4x4, 3x3) and F(2x2, 3x3) for float32 2-D convolutions with 3x3 kernels, unit strides and dilations
// and one group (ResNet's 3x3 layers): 36 multiplications per 4x4 output tile and channel pair instead of 144, or
// 16 per 2x2 tile instead of 36. The weights are transformed (U = G g G^T) and packed once at kernel creation;
// each run transforms 6x6 (4x4) input tiles (V = B^T d B), runs 36 (16) GEMMs [tiles x C] x [C x M] on the packed
// f32 GEMM, and transforms back (Y = A^T m A) adding the bias and the fused clamp. Error: about 1e-5 relative to
// the output's scale more than direct convolution in float32 (tests/ops/winograd_test.cpp measures it).
#pragma once

#include <memory>
#include <vector>

#include "base/parallel.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/conv/conv_common.h"

namespace tessera::conv {

// The transformed weight matrices, each packed as the GEMM's B operand (K = in channels, N = out channels).
struct WinogradWeights {
  int tile = 4;                            // outputs per tile side: 4 (F(4x4, 3x3)) or 2 (F(2x2, 3x3))
  std::vector<PackedGemmF32> transformed;  // (tile + 2)^2 entries, index xi = (tile + 2) * row + column
  int64_t in_channels = 0;
  int64_t out_channels = 0;
};

// True when Winograd F(4x4, 3x3) applies to a convolution with these attributes and weight shape [M, C, 3, 3]
// and is expected to beat the im2col GEMM (enough channels for the transforms to be a small share).
bool winograd_applies(const ConvAttributes& attrs, const std::vector<int64_t>& w_shape);

// True when an output plane of these spatial dims has enough 4x4 tiles for Winograd to beat the direct GEMM: each
// of its 36 GEMMs has one row per tile, and when the tiles fill less than half the rows of the micro-kernel's
// register tiles (gemm_f32_tile().rows) it idles most of its accumulators while the 36 transformed weight matrices
// (4x the weights) stream from memory for them; at least 4 tiles. ResNet-50's 512-channel 3x3 convolutions at 7x7
// (4 tiles) on the Xeon (AVX-512, 14-row tiles; one thread, per-node minima): Winograd 2.95 ms, the transposed
// im2col GEMM 2.36 ms; its 256-channel ones at 14x14 (16 tiles): Winograd 1.21 ms, the GEMM 1.95 ms. On an AMD
// EPYC Zen 3 (AVX2, 6-row tiles: 4 of 6 rows filled) the 7x7 ones 3.51-3.55 -> 2.39-2.46 ms with Winograd.
bool winograd_suits_plane(const std::vector<int64_t>& out_dims);

// The Winograd tile for an output plane of these spatial dims: 4 (F(4x4, 3x3)), 2 (F(2x2, 3x3)) or 0 (neither:
// the GEMM). See the definition for the measurements behind it.
int winograd_tile_for_plane(const std::vector<int64_t>& out_dims);

// Transforms and packs float32 weights [M, C, 3, 3] for F(tile x tile, 3x3), tile 4 or 2.
std::shared_ptr<const WinogradWeights> make_winograd_weights(const float* w, int64_t out_channels, int64_t in_channels,
                                                             int tile = 4);

// True when winograd_conv_f32 runs several of g's images in one pass, their tiles stacked as its GEMMs' rows (a
// batch of images with few tiles each): then it should get the whole batch, not image by image.
bool winograd_stacks_images(const ConvGeometry& g, const WinogradWeights& weights);

// y[N, M, oh, ow] = conv(x, w) + bias, clamped to [output_min, output_max]; `g` must be a geometry
// winograd_applies() accepted (2-D, 3x3, unit strides and dilations, one group).
void winograd_conv_f32(const ConvGeometry& g, const WinogradWeights& weights, const float* x, const float* bias,
                       float output_min, float output_max, float* y, Parallelism& parallelism);

}  // namespace tessera::conv
