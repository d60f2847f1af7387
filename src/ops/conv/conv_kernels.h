// The float32 convolution engines behind Conv and ConvTranspose: im2col + packed f32 GEMM (per image and
// group), a direct loop for depthwise 2-D convolutions, and GEMM + col2im for the transposed convolution.
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "base/parallel.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/conv/conv_common.h"
#include "ops/conv/winograd.h"

namespace tessera::conv {

struct ConvF32Args {
  const ConvGeometry& geometry;
  const float* x;                            // [N, C, in_dims...]
  const float* w;                            // raw weights, or nullptr when `packed` is given
  const std::vector<PackedGemmF32>* packed;  // per group: the weights packed as the GEMM's A operand
  const float* bias;                         // [M] or nullptr
  float* y;                                  // [N, M, out_dims...]
  // The output is clamped to [output_min, output_max] (a fused Relu or Clip; the defaults clamp nothing).
  float output_min = -std::numeric_limits<float>::infinity();
  float output_max = std::numeric_limits<float>::infinity();
  // Winograd-transformed constant weights (winograd.h), or nullptr: when given, the convolution runs as
  // Winograd F(4x4, 3x3).
  const WinogradWeights* winograd = nullptr;
  // A tensor of y's shape added to the convolution before the clamp (FusedConv's Z), or nullptr.
  const float* sum = nullptr;
  // A pointwise convolution's weights (group 1, kernel 1, unit strides, no pads) packed as the GEMM's B operand,
  // pack_gemm_b_f32(true, C, M, W, C), or nullptr. When given, each image runs transposed, y^T = x^T W^T (the
  // planes along the GEMM's rows, the output channels along its vector lanes), each register tile transposed
  // into y as it is stored (GemmEpilogueF32::store_transposed): on planes that fill the GEMM's register tiles
  // badly (7x7 has 49 positions, a register row of 32 lanes one and a half) this keeps every lane busy.
  const PackedGemmF32* packed_transposed = nullptr;
  // When true, y holds values on entry that the convolution adds to (FusedConv's Z, its memory taken over as the
  // output): y = clamp(conv(x, w) + bias + y), `sum` unused. Only where conv_f32_accumulates says so.
  bool accumulate = false;
};

// True when conv_f32 can add into y in place (ConvF32Args::accumulate) for geometry `g`: the pointwise
// convolutions, which run as one GEMM per image on beta = 1.
bool conv_f32_accumulates(const ConvGeometry& g);

// True when a pointwise convolution of planes of `plane_size` positions from `in_channels` to `out_channels`
// channels runs faster transposed (ConvF32Args::packed_transposed) with the selected GEMM micro-kernel: when the
// transposed GEMM leaves enough fewer lanes of its register tiles idle to repay its transposed stores.
bool pointwise_prefers_transposed(int64_t plane_size, int64_t in_channels, int64_t out_channels);

// Conv: y = clamp(conv(x, w) + bias + sum). Raw weights are [M, C/group, k...]; packed ones come from
// pack_gemm_a_f32(false, M/group, C/group * kernel_size, ...) per group. 1-D and 2-D convolutions feed the GEMM
// straight from x (implicit im2col) unless `implicit_im2col` is false (for tests: the explicit path).
void conv_f32(const ConvF32Args& args, Parallelism& parallelism, bool implicit_im2col = true);

// ConvTranspose: y = conv_transpose(x, w) + bias. Raw weights are [C, M/group, k...]; packed ones come from
// pack_gemm_a_f32(true, M/group * kernel_size, C/group, ...) per group.
void conv_transpose_f32(const ConvF32Args& args, Parallelism& parallelism);

// dst [planes x out_size] = the input positions a strided 2-D 1x1 convolution (no pads) reads from x
// [planes x in_size], the planes split over `parallelism`.
void gather_strided_positions(const ConvGeometry& g, const float* x, int64_t planes, float* dst,
                              Parallelism& parallelism);

// The im2col matrix of one image of a 2-D convolution of group 1 (C * kernel taps rows, a column per output
// position), made panel by panel straight from x, never whole: the input is split into its column phases once, at
// construction (over `parallelism`); then any thread may make any panel. x must outlive it.
class Im2colPanelMaker {
 public:
  Im2colPanelMaker(const ConvGeometry& g, const float* x, Parallelism& parallelism);
  ~Im2colPanelMaker();
  Im2colPanelMaker(const Im2colPanelMaker&) = delete;
  Im2colPanelMaker& operator=(const Im2colPanelMaker&) = delete;
  // values = columns [n0, n0 + cols) of the matrix, row r at values + r * panel_columns (>= cols), zero past cols.
  void make(int64_t n0, int64_t cols, int64_t panel_columns, float* values) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The naive definition of Conv (for tests): a direct loop over every output and kernel element.
void conv_reference_f32(const ConvF32Args& args);

}  // namespace tessera::conv
