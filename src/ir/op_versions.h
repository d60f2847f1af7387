// The opset versions at which each ai.onnx operator changed (was added, or changed types, attributes, inputs or
// meaning), from the ONNX operator changelog; generated (scripts/generate_op_versions.py).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// Ascending versions of ai.onnx `op` in the changelog; empty for an unknown op.
const std::vector<int64_t>& onnx_op_versions(const std::string& op);

}  // namespace tessera
