#include "serve/http_infer_codec.h"

#include "serve/datatype.h"
#include "serve/serve_error.h"
#include "serve/tensor_codec.h"

namespace tessera::serve {

namespace {

using nlohmann::json;

// The member `name` of JSON object `object`, or null when absent.
const json* member(const json& object, const char* name) {
  const auto found = object.find(name);
  return found == object.end() ? nullptr : &*found;
}

std::vector<int64_t> read_shape(const json& input, const std::string& what) {
  const json* shape = member(input, "shape");
  if (!shape || !shape->is_array()) bad_request(what + ": \"shape\" must be an array of integers");
  std::vector<int64_t> dims;
  for (const json& dim : *shape) {
    if (!dim.is_number_integer()) bad_request(what + ": \"shape\" must be an array of integers, got " + shape->dump());
    dims.push_back(dim.get<int64_t>());
  }
  return dims;
}

// The integer parameter `name` of a "parameters" object, if present.
std::optional<int64_t> integer_parameter(const json& owner, const char* name, const std::string& what) {
  const json* parameters = member(owner, "parameters");
  if (!parameters) return std::nullopt;
  if (!parameters->is_object()) bad_request(what + ": \"parameters\" must be an object");
  const json* value = member(*parameters, name);
  if (!value) return std::nullopt;
  if (!value->is_number_integer() || value->get<int64_t>() < 0)
    bad_request(what + ": parameter " + name + " must be an integer >= 0");
  return value->get<int64_t>();
}

bool bool_parameter(const json& owner, const char* name, const std::string& what) {
  const json* parameters = member(owner, "parameters");
  if (!parameters || !parameters->is_object()) return false;
  const json* value = member(*parameters, name);
  if (!value) return false;
  if (!value->is_boolean()) bad_request(what + ": parameter " + name + " must be true or false");
  return value->get<bool>();
}

NamedTensor decode_input(const json& input, const std::string& model_name, std::string_view binary,
                         size_t& binary_offset) {
  if (!input.is_object()) bad_request("model '" + model_name + "': each of \"inputs\" must be an object");
  const json* name = member(input, "name");
  if (!name || !name->is_string()) bad_request("model '" + model_name + "': an input has no \"name\" string");
  const std::string what = "model '" + model_name + "' input '" + name->get<std::string>() + "'";
  const json* datatype = member(input, "datatype");
  if (!datatype || !datatype->is_string()) bad_request(what + ": \"datatype\" must be a string");
  const std::optional<DType> dtype = dtype_from_protocol_name(datatype->get<std::string>());
  if (!dtype) bad_request(what + ": unknown datatype '" + datatype->get<std::string>() + "'");
  const std::vector<int64_t> shape = read_shape(input, what);
  if (const auto size = integer_parameter(input, "binary_data_size", what)) {
    if (static_cast<uint64_t>(*size) > binary.size() - binary_offset) {
      bad_request(what + ": binary_data_size " + std::to_string(*size) + " runs past the end of the body (" +
                  std::to_string(binary.size() - binary_offset) + " binary bytes left)");
    }
    Tensor tensor = tensor_from_binary(*dtype, shape, binary.substr(binary_offset, static_cast<size_t>(*size)), what);
    binary_offset += static_cast<size_t>(*size);
    return {name->get<std::string>(), std::move(tensor)};
  }
  const json* data = member(input, "data");
  if (!data) bad_request(what + ": no \"data\" and no binary_data_size parameter");
  return {name->get<std::string>(), tensor_from_json(*dtype, shape, *data, what)};
}

}  // namespace

size_t parse_json_length_header(const std::string& value) {
  if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string::npos) {
    bad_request("Inference-Header-Content-Length '" + value + "' is not a whole number");
  }
  return std::stoull(value);
}

InferenceRequest decode_http_infer_request(std::string_view body, std::optional<size_t> json_length,
                                           const std::string& model_name, const std::string& model_version) {
  const size_t header_size = json_length.value_or(body.size());
  if (header_size > body.size()) {
    bad_request("model '" + model_name + "': Inference-Header-Content-Length " + std::to_string(header_size) +
                " is more than the body's " + std::to_string(body.size()) + " bytes");
  }
  const std::string_view binary = body.substr(header_size);
  const json document = json::parse(body.substr(0, header_size), nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    bad_request("model '" + model_name + "': the request body is not a JSON object");
  }
  InferenceRequest request;
  request.model_name = model_name;
  request.model_version = model_version;
  if (const json* id = member(document, "id")) {
    if (!id->is_string()) bad_request("model '" + model_name + "': \"id\" must be a string");
    request.id = id->get<std::string>();
  }
  const std::string what = "model '" + model_name + "' request";
  request.binary_outputs = bool_parameter(document, "binary_data_output", what);
  request.timeout_microseconds = static_cast<uint64_t>(integer_parameter(document, "timeout", what).value_or(0));
  const json* inputs = member(document, "inputs");
  if (!inputs || !inputs->is_array()) bad_request("model '" + model_name + "': \"inputs\" must be an array");
  size_t binary_offset = 0;
  for (const json& input : *inputs) request.inputs.push_back(decode_input(input, model_name, binary, binary_offset));
  if (binary_offset != binary.size()) {
    bad_request("model '" + model_name + "': " + std::to_string(binary.size() - binary_offset) +
                " bytes of binary data after the JSON are not claimed by any input's binary_data_size");
  }
  if (const json* outputs = member(document, "outputs")) {
    if (!outputs->is_array()) bad_request("model '" + model_name + "': \"outputs\" must be an array");
    for (const json& output : *outputs) {
      const json* name = output.is_object() ? member(output, "name") : nullptr;
      if (!name || !name->is_string()) bad_request("model '" + model_name + "': an output has no \"name\" string");
      request.outputs.push_back({name->get<std::string>(), bool_parameter(output, "binary_data", what)});
    }
  }
  return request;
}

HttpResponse encode_http_infer_response(const InferenceResponse& response, const OutputEncoding& encoding) {
  json document = {{"model_name", response.model_name}, {"model_version", response.model_version}};
  if (!response.id.empty()) document["id"] = response.id;
  json outputs = json::array();
  std::string binary;
  bool any_binary = false;
  for (const NamedTensor& output : response.outputs) {
    bool as_binary = encoding.binary_outputs;
    for (const RequestedOutput& wanted : encoding.outputs) {
      if (wanted.name == output.name) as_binary = as_binary || wanted.binary;
    }
    json entry = {{"name", output.name},
                  {"datatype", protocol_datatype_name(output.tensor.dtype()).value_or("")},
                  {"shape", output.tensor.shape()}};
    if (as_binary) {
      any_binary = true;
      const size_t before = binary.size();
      append_tensor_binary(output.tensor, binary);
      entry["parameters"] = {{"binary_data_size", binary.size() - before}};
    } else {
      entry["data"] = tensor_to_json(output.tensor);
    }
    outputs.push_back(std::move(entry));
  }
  document["outputs"] = std::move(outputs);
  HttpResponse reply;
  reply.body = document.dump(-1, ' ', false, json::error_handler_t::replace);
  if (any_binary) {
    reply.headers.emplace_back("Inference-Header-Content-Length", std::to_string(reply.body.size()));
    reply.content_type = "application/octet-stream";
    reply.body += binary;
  }
  return reply;
}

}  // namespace tessera::serve
