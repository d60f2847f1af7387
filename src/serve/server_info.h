// What the server says about itself and its models, shared by the HTTP and gRPC front ends.
#pragma once

#include <string>
#include <vector>

#include "serve/served_model.h"

namespace tessera::serve {

inline constexpr const char* kServerName = "tessera";
inline constexpr const char* kServerVersion = "0.1.0";
// The protocol extensions `tessera serve` implements (reported in server metadata).
const std::vector<std::string>& server_extensions();

// A model tensor as metadata reports it: name, protocol datatype, shape with -1 for any size (and a leading
// -1 batch dim when max_batch_size > 0).
struct TensorMetadata {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
};
std::vector<TensorMetadata> input_metadata(const inference::ModelConfig& config);
std::vector<TensorMetadata> output_metadata(const inference::ModelConfig& config);

}  // namespace tessera::serve
