// Loading an ONNX model: wire bytes -> ModelProto -> Model (IR graph), validated.
#pragma once

#include <string>

#include "ir/model.h"

namespace tessera {

// Loads and validates the model at `path`; external data resolves relative to its folder.
// Throws kIo for unreadable files, kInvalidModel for malformed ones (naming what is wrong), kUnsupported for
// IR or opset versions newer than Tessera knows.
Model load_model(const std::string& path);

// Loads from serialized bytes; external data resolves relative to `model_dir` (empty: external data refused).
Model load_model_from_bytes(const std::string& bytes, const std::string& model_dir = {});

// The newest IR version Tessera reads. The ONNX 1.23 schema documents IR 13, but onnx==1.23.2 stamps IR 14 on
// the opset-28 models it writes (onnx.IR_VERSION == 14) with no new wire fields Tessera needs, so 14 is read.
inline constexpr int64_t kMaxIrVersion = 14;

}  // namespace tessera
