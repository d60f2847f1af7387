#include "serve/server_info.h"

#include "serve/datatype.h"

namespace tessera::serve {

namespace {

template <typename ConfigTensor>
TensorMetadata tensor_metadata(const ConfigTensor& tensor, bool batched) {
  TensorMetadata metadata{
      tensor.name(), protocol_datatype_name(dtype_from_config(tensor.data_type())).value_or(""), {}};
  if (batched) metadata.shape.push_back(-1);
  metadata.shape.insert(metadata.shape.end(), tensor.dims().begin(), tensor.dims().end());
  return metadata;
}

}  // namespace

const std::vector<std::string>& server_extensions() {
  static const std::vector<std::string> extensions = {"binary_tensor_data", "model_repository", "model_configuration",
                                                      "statistics"};
  return extensions;
}

std::vector<TensorMetadata> input_metadata(const inference::ModelConfig& config) {
  std::vector<TensorMetadata> result;
  for (const auto& input : config.input()) result.push_back(tensor_metadata(input, config.max_batch_size() > 0));
  return result;
}

std::vector<TensorMetadata> output_metadata(const inference::ModelConfig& config) {
  std::vector<TensorMetadata> result;
  for (const auto& output : config.output()) result.push_back(tensor_metadata(output, config.max_batch_size() > 0));
  return result;
}

}  // namespace tessera::serve
