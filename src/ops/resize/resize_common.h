// The interpolation engine behind Resize and Upsample: per-axis sampling plans (which input indices and weights
// make each output index, under every coordinate transformation, nearest rounding, linear/cubic with optional
// antialias and exclude_outside) and the execution of a plan over a tensor: a gather for nearest, separable
// one-axis passes for linear and cubic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/parallel.h"
#include "base/tensor.h"

namespace tessera {

enum class ResizeMode { kNearest, kLinear, kCubic };

enum class CoordinateMode {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize,
};

enum class NearestMode {
  kRoundPreferFloor,
  kRoundPreferCeil,
  kFloor,
  kCeil,
  kSimple,  // Resize-10 and Upsample: ceil when downsampling, truncate otherwise (as ONNX Runtime)
};

// Everything about the interpolation that does not depend on the input shape.
struct ResizeOptions {
  ResizeMode mode = ResizeMode::kNearest;
  CoordinateMode coordinates = CoordinateMode::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  double cubic_coeff_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation_value = 0;
};

// Parses the mode strings; throw kInvalidModel naming the value when it is not one of the spec's.
ResizeMode parse_resize_mode(const std::string& s);
CoordinateMode parse_coordinate_mode(const std::string& s);
NearestMode parse_nearest_mode(const std::string& s);

// One axis of the resize: its lengths, scale and region of interest.
struct AxisResize {
  int64_t input = 1;
  int64_t output = 1;
  double scale = 1;         // output / input, or the scale the model gave
  double output_width = 1;  // scale * input (fractional when the output length was rounded)
  double roi_start = 0, roi_end = 1;
};

// How each output index of one axis is sampled: taps [tap_begin[o], tap_begin[o + 1]) of (index, weight);
// `outside[o]` marks outputs that take the extrapolation value (tf_crop_and_resize outside the input).
struct AxisPlan {
  std::vector<int64_t> tap_begin;
  std::vector<int64_t> index;
  std::vector<double> weight;
  std::vector<uint8_t> outside;
  bool identity = false;  // every output o reads input o with weight 1
};

// The input coordinate that output index `o` maps to.
double original_coordinate(const ResizeOptions& options, const AxisResize& axis, int64_t o);

// Builds the sampling plan of one axis.
AxisPlan plan_axis(const ResizeOptions& options, const AxisResize& axis);

// Resizes `x` to the axes' output lengths (one AxisResize per dimension of x). Nearest works on every dtype;
// linear and cubic on numeric dtypes (integers round toward zero and saturate, as a cast does).
Tensor run_resize(const ResizeOptions& options, const std::vector<AxisResize>& axes, const Tensor& x,
                  Parallelism& parallelism);

}  // namespace tessera
