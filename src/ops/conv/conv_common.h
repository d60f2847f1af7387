// Shared pieces of the convolution operators (Conv, ConvTranspose, ConvInteger, QLinearConv): attribute
// parsing, output geometry, im2col / col2im, and shape inference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"

namespace tessera::conv {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// Attributes as written on the node (empty lists where absent). Parsed once at kernel creation.
struct ConvAttributes {
  AutoPad auto_pad = AutoPad::kNotSet;
  std::vector<int64_t> kernel_shape;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;
  std::vector<int64_t> output_padding;  // ConvTranspose only
  std::vector<int64_t> output_shape;    // ConvTranspose only
  int64_t group = 1;
};

// Parses and validates the attributes (positive strides, dilations and group, non-negative pads, a known
// auto_pad); throws Error(kInvalidModel) naming the node otherwise.
ConvAttributes parse_conv_attributes(const Node& node, bool transpose);

// The resolved geometry of one convolution. Spatial vectors have one entry per spatial axis.
struct ConvGeometry {
  int64_t batch = 0;
  int64_t in_channels = 0;   // C
  int64_t out_channels = 0;  // M
  int64_t group = 1;
  std::vector<int64_t> in_dims, out_dims, kernel, strides, dilations, pad_begin, pad_end;
  int64_t in_size = 1;      // product of in_dims
  int64_t out_size = 1;     // product of out_dims
  int64_t kernel_size = 1;  // product of kernel

  int64_t in_group_channels() const { return in_channels / group; }
  int64_t out_group_channels() const { return out_channels / group; }
  size_t spatial_rank() const { return in_dims.size(); }
  // True for 1x1 kernels with unit strides and no padding: the input already is the im2col matrix.
  bool is_pointwise() const;
};

// Conv geometry for X [N, C, D1..Dn] and W [M, C/group, k1..kn]. Throws Error(kInvalidArgument) naming the
// shapes when they do not fit the attributes or each other.
ConvGeometry conv_geometry(const ConvAttributes& attrs, const std::vector<int64_t>& x_shape,
                           const std::vector<int64_t>& w_shape, const char* op_name);

// ConvTranspose geometry for X [N, C, D1..Dn] and W [C, M/group, k1..kn] (out_channels = M).
ConvGeometry conv_transpose_geometry(const ConvAttributes& attrs, const std::vector<int64_t>& x_shape,
                                     const std::vector<int64_t>& w_shape);

// Most depth (input channels x kernel taps) a 2-D convolution with constant weights reads its im2col rows in place
// with (conv_kernels' conv_rows_in_place): the stems (3 channels x 3x3 or 7x7), and 3x3 convolutions of up to 17
// channels. Each tile reads one register row per depth step from another input row, so a deep convolution would
// stream too many rows at once; those pack panels (Im2colPanels) or run Winograd.
inline constexpr int64_t kRowsInPlaceMaxDepth = 160;

// Index range [lo, hi) of the i in [0, count) with 0 <= i * stride + offset < limit (lo == hi when none).
struct Range {
  int64_t lo, hi;
};
Range valid_range(int64_t count, int64_t stride, int64_t offset, int64_t limit);

// Writes the im2col matrix of `channels` input channels x (each in_size elements, consecutive): row
// (c * kernel_size + kernel offset), column output position; positions in the padding read `pad_value`.
template <typename T>
void im2col(const ConvGeometry& g, const T* x, int64_t channels, T pad_value, T* col);

// Adds the col2im of `channels` output channels: col row (c * kernel_size + kernel offset), column input
// position, is added to y[c] at the output position that input position and kernel offset reach (ConvTranspose).
template <typename T>
void col2im_add(const ConvGeometry& g, const T* col, int64_t channels, T* y);

// Shape inference for Conv-like ops (X input 0, W input `w_index`); output dtype `out_dtype`, or X's when
// kUndefined. Fills what is known; never guesses.
void infer_conv_output(InferenceContext& context, size_t w_index, DType out_dtype);
void infer_conv_transpose_output(InferenceContext& context);

}  // namespace tessera::conv
