// The activation a com.microsoft FusedConv applies to its output (attribute `activation`: Relu, Clip,
// LeakyRelu, Sigmoid, Tanh or HardSigmoid, parameters in `activation_params`, as ONNX Runtime's contrib op
// defines them). Relu and Clip are clamps, which the convolution kernels apply while the output is in cache;
// the others run as one vectorized pass over the output.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "base/parallel.h"
#include "ir/graph.h"

namespace tessera::conv {

struct FusedActivation {
  enum class Kind { kNone, kRelu, kClip, kLeakyRelu, kSigmoid, kTanh, kHardSigmoid };
  Kind kind = Kind::kNone;
  float alpha = 0.0f;  // LeakyRelu slope; HardSigmoid alpha
  float beta = 0.0f;   // HardSigmoid beta
  // The clamp of Relu / Clip ([-inf, inf] for the other kinds).
  float clamp_min = -std::numeric_limits<float>::infinity();
  float clamp_max = std::numeric_limits<float>::infinity();

  bool is_clamp() const { return kind == Kind::kNone || kind == Kind::kRelu || kind == Kind::kClip; }
};

// Reads `activation` / `activation_params` of a FusedConv node; kNone when `activation` is absent. Throws
// kInvalidModel naming the node for an unknown activation or a wrong parameter count.
FusedActivation parse_fused_activation(const Node& node);

// Applies a non-clamp activation to y[0, count) in place, split over `parallelism` (clamps are the kernels' job).
void apply_fused_activation(const FusedActivation& activation, float* y, int64_t count, Parallelism& parallelism);

}  // namespace tessera::conv
