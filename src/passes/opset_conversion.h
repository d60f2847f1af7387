// Converts a model between versions of the ai.onnx opset (`tessera convert-opset`): every node (subgraphs
// included) whose operator changed signature between the two versions is rewritten so that it computes what it did,
// and the model's import is set to the target. Upgrades handle attributes that became inputs (Reshape 5, Slice and
// TopK 10, Clip and Pad 11, Dropout 12, Squeeze/Unsqueeze/Split/ReduceSum 13, the other Reduce ops 18), Softmax /
// LogSoftmax / Hardmax's new axis meaning at 13 (a Flatten-op-Reshape when the old coercion spanned several dims),
// Resize 10 -> 11 (asymmetric coordinates, floor nearest), Upsample -> Resize and Scatter -> ScatterElements at 10
// and 11, the attributes removed at 6 and 7 (consumed_inputs, is_test, Concat's default axis, legacy broadcast
// aligned with the trailing dims), BatchNormalization's spatial = 1. Downgrades ("where exact") move constant inputs
// back into attributes and keep Softmax-family nodes that reduce the last axis. Anything else whose meaning changed
// in between (docs/CONFORMANCE's opset table: ir/opset_semantics.h), or an op that does not exist at the target,
// is refused with the node and the change named.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"

namespace tessera {

struct OpsetConversionReport {
  int64_t from = 0, to = 0;
  std::vector<std::string> rewritten;  // "node 'n' (Squeeze): axes attribute -> input (opset 13)", ...
};

// Converts `model` in place to ai.onnx opset `target` (other domains untouched). Throws Error(kUnsupported) naming
// the node and the change when a node cannot be carried across exactly (the model is then partly rewritten: callers
// convert a copy or reload), Error(kInvalidArgument) for a target outside [1, 23] or a model without an ai.onnx
// import.
OpsetConversionReport convert_opset(Model& model, int64_t target);

}  // namespace tessera
