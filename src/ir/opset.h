// The opset versions Tessera knows per domain; a model importing a newer one is rejected at load.
#pragma once

#include <cstdint>
#include <string>

namespace tessera {

inline constexpr int64_t kMaxOnnxOpset = 28;
inline constexpr int64_t kMaxOnnxMlOpset = 5;
inline constexpr int64_t kMaxMicrosoftOpset = 1;

// The newest opset Tessera knows for `domain` (canonical or "ai.onnx"); 0 for domains it does not know.
int64_t max_known_opset(const std::string& domain);

}  // namespace tessera
