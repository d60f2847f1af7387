// Helpers shared by the loss family (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss): attribute parsing,
// shape checks, the weighted negative-log-likelihood with its reductions, and shape inference.
#pragma once

#include <cstdint>
#include <vector>

#include "base/tensor.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"

namespace tessera {

enum class LossReduction { kNone, kSum, kMean };

struct LossAttributes {
  LossReduction reduction = LossReduction::kMean;
  bool has_ignore_index = false;
  int64_t ignore_index = 0;
};

// Reads `reduction` (none, sum, mean; default mean) and `ignore_index`; throws kInvalidModel on an unknown
// reduction.
LossAttributes parse_loss_attributes(const Node& node);

// The layout of a loss input of shape (N, C, d1, ..., dk): N, C and D = d1 * ... * dk (1 when k = 0).
struct LossGeometry {
  int64_t batch = 0;
  int64_t classes = 0;
  int64_t inner = 1;
};

// Checks input (N, C, d1..dk) of a float type, target (N, d1..dk) of int32/int64 and the optional
// weight (C) of the input's type; `input_name` and `target_name` name them in messages.
LossGeometry check_loss_inputs(const Tensor& input, const Tensor& target, const Tensor* weight, const char* input_name,
                               const char* target_name);

// The loss from log-probabilities laid out (N, C, D) in `log_prob`: per sample -log_prob[n][t][d] * w[t]
// (0 where the target is ignore_index), then reduced. Targets other than ignore_index must lie in [0, C).
// Returns the loss as a tensor of `dtype`: the target's shape for reduction none, else a scalar (mean
// divides by the sum of the applied weights, so it is NaN when every sample is ignored).
Tensor compute_nll_loss(const std::vector<double>& log_prob, const LossGeometry& geometry, const Tensor& target,
                        const Tensor* weight, const LossAttributes& attrs, DType dtype);

// Output 0: the target's shape (reduction none) or a scalar, with input 0's element type; output 1 (when
// the op has it) input 0's type.
void infer_loss(InferenceContext& context);

}  // namespace tessera
