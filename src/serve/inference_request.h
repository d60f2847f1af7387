// An inference request and its response as the server core sees them, after a front end (HTTP or gRPC) has
// decoded the wire form into tensors, and before it encodes the answer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "serve/serve_error.h"

namespace tessera::serve {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// An output the client asked for; `binary` asks for the binary form (HTTP binary extension).
struct RequestedOutput {
  std::string name;
  bool binary = false;
};

struct InferenceRequest {
  std::string model_name;
  std::string model_version;  // empty: the highest loaded version
  std::string id;             // echoed in the response
  std::vector<NamedTensor> inputs;
  std::vector<RequestedOutput> outputs;  // empty: every output of the config
  bool binary_outputs = false;           // HTTP "binary_data_output": every output in binary form
  uint64_t timeout_microseconds = 0;     // 0: the queue policy's default; shorter values need allow_timeout_override
};

struct InferenceResponse {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<NamedTensor> outputs;  // in the order requested (or the config's order)
};

// The outcome of a request: an error, or a response.
struct InferenceResult {
  std::optional<ServeError> error;
  InferenceResponse response;
};

// Called exactly once per request, from a worker thread (or the submitting thread for early failures).
using InferenceCallback = std::function<void(InferenceResult)>;

}  // namespace tessera::serve
