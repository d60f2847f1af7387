// Writing a Model back to an ONNX file: Model (IR graph) -> ModelProto -> bytes. Used by `tessera optimize` and
// the session option that saves the optimized model.
#pragma once

#include <cstdint>
#include <string>

#include "ir/model.h"
#include "onnx.pb.h"

namespace tessera {

struct ModelWriteOptions {
  // Initializers of at least this many bytes go to `<model file name>.data` beside the model (ONNX external
  // data, 64-byte aligned offsets) instead of inside it. 0 keeps everything inside unless the model would pass
  // protobuf's 2 GiB message limit, in which case tensors of 1 KiB and more go outside.
  uint64_t external_data_threshold = 0;
};

// Fills `proto` from `model`: metadata, opset imports, the graph with its subgraphs, initializers (an
// initializer a kernel released, an undefined tensor, throws kInvalidArgument naming it), declared and inferred
// value types. Model-local functions were inlined at load and are not written back.
void model_to_proto(const Model& model, onnx::ModelProto* proto);

// Serializes `model` to `path` (see ModelWriteOptions for external data). Throws kIo naming the path when a
// file cannot be written.
void save_model(const Model& model, const std::string& path, const ModelWriteOptions& options = {});

}  // namespace tessera
