#include "serve/grpc_infer_codec.h"

#include <type_traits>
#include <utility>

#include "serve/datatype.h"
#include "serve/tensor_codec.h"

namespace tessera::serve {

namespace {

// Copies typed `values` into a tensor of element type T, narrowing where the protocol widens (INT8 in
// int_contents).
template <typename T, typename Repeated>
Tensor tensor_from_values(DType dtype, const std::vector<int64_t>& shape, const Repeated& values,
                          const std::string& what) {
  const int64_t count = request_element_count(shape, what);
  if (static_cast<int64_t>(values.size()) != count) {
    bad_request(what + ": shape " + shape_to_string(shape) + " needs " + std::to_string(count) +
                " elements, contents has " + std::to_string(values.size()));
  }
  Tensor tensor(dtype, shape);
  for (int64_t i = 0; i < count; ++i) {
    const auto& value = values[static_cast<int>(i)];
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if (!std::in_range<T>(value)) {
        bad_request(what + ": element " + std::to_string(i) + " (" + std::to_string(value) + ") is out of range for " +
                    dtype_name(dtype));
      }
    }
    tensor.data<T>()[i] = static_cast<T>(value);
  }
  return tensor;
}

Tensor typed_contents_tensor(DType dtype, const std::vector<int64_t>& shape,
                             const inference::InferTensorContents& contents, const std::string& what) {
  switch (dtype) {
    case DType::kBool:
      return tensor_from_values<bool>(dtype, shape, contents.bool_contents(), what);
    case DType::kInt8:
      return tensor_from_values<int8_t>(dtype, shape, contents.int_contents(), what);
    case DType::kInt16:
      return tensor_from_values<int16_t>(dtype, shape, contents.int_contents(), what);
    case DType::kInt32:
      return tensor_from_values<int32_t>(dtype, shape, contents.int_contents(), what);
    case DType::kInt64:
      return tensor_from_values<int64_t>(dtype, shape, contents.int64_contents(), what);
    case DType::kUint8:
      return tensor_from_values<uint8_t>(dtype, shape, contents.uint_contents(), what);
    case DType::kUint16:
      return tensor_from_values<uint16_t>(dtype, shape, contents.uint_contents(), what);
    case DType::kUint32:
      return tensor_from_values<uint32_t>(dtype, shape, contents.uint_contents(), what);
    case DType::kUint64:
      return tensor_from_values<uint64_t>(dtype, shape, contents.uint64_contents(), what);
    case DType::kFloat:
      return tensor_from_values<float>(dtype, shape, contents.fp32_contents(), what);
    case DType::kDouble:
      return tensor_from_values<double>(dtype, shape, contents.fp64_contents(), what);
    case DType::kString:
      return tensor_from_values<std::string>(dtype, shape, contents.bytes_contents(), what);
    default:
      bad_request(what + ": " + dtype_name(dtype) + " has no typed contents field; send it in raw_input_contents");
  }
}

}  // namespace

InferenceRequest decode_grpc_infer_request(const inference::ModelInferRequest& message) {
  InferenceRequest request;
  request.model_name = message.model_name();
  request.model_version = message.model_version();
  request.id = message.id();
  const std::string& model = message.model_name();
  const bool raw = message.raw_input_contents_size() > 0;
  if (raw && message.raw_input_contents_size() != message.inputs_size()) {
    bad_request("model '" + model + "': " + std::to_string(message.raw_input_contents_size()) +
                " raw_input_contents for " + std::to_string(message.inputs_size()) + " inputs");
  }
  for (int i = 0; i < message.inputs_size(); ++i) {
    const auto& input = message.inputs(i);
    const std::string what = "model '" + model + "' input '" + input.name() + "'";
    const std::optional<DType> dtype = dtype_from_protocol_name(input.datatype());
    if (!dtype) bad_request(what + ": unknown datatype '" + input.datatype() + "'");
    const std::vector<int64_t> shape(input.shape().begin(), input.shape().end());
    Tensor tensor = raw ? tensor_from_binary(*dtype, shape, message.raw_input_contents(i), what)
                        : typed_contents_tensor(*dtype, shape, input.contents(), what);
    request.inputs.push_back({input.name(), std::move(tensor)});
  }
  for (const auto& output : message.outputs()) request.outputs.push_back({output.name(), true});
  const auto timeout = message.parameters().find("timeout");
  if (timeout != message.parameters().end() && timeout->second.int64_param() > 0) {
    request.timeout_microseconds = static_cast<uint64_t>(timeout->second.int64_param());
  }
  return request;
}

void encode_grpc_infer_response(const InferenceResponse& response, inference::ModelInferResponse& message) {
  message.set_model_name(response.model_name);
  message.set_model_version(response.model_version);
  message.set_id(response.id);
  for (const NamedTensor& output : response.outputs) {
    auto* tensor = message.add_outputs();
    tensor->set_name(output.name);
    tensor->set_datatype(protocol_datatype_name(output.tensor.dtype()).value_or(""));
    for (int64_t dim : output.tensor.shape()) tensor->add_shape(dim);
    std::string* raw = message.add_raw_output_contents();
    raw->reserve(tensor_binary_size(output.tensor));
    append_tensor_binary(output.tensor, *raw);
  }
}

}  // namespace tessera::serve
