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

// The newest IR version Tessera reads.
inline constexpr int64_t kMaxIrVersion = 13;

}  // namespace tessera
