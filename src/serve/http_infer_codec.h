// The v2 HTTP inference body: JSON, optionally followed by binary tensor data (the binary tensor extension,
// with the JSON's length in the Inference-Header-Content-Length header).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "serve/http_server.h"
#include "serve/inference_request.h"

namespace tessera::serve {

// Decodes an infer request body for `model_name` / `model_version` (from the URL). `json_length` is the
// Inference-Header-Content-Length value when the header was sent (the body is then JSON + binary data).
// ServeError(kBadRequest) naming the model and input for malformed JSON, unknown datatypes, binary sizes that
// do not add up to the body, and data that does not fit the shape.
InferenceRequest decode_http_infer_request(std::string_view body, std::optional<size_t> json_length,
                                           const std::string& model_name, const std::string& model_version);

// Parses an Inference-Header-Content-Length value; ServeError(kBadRequest) unless it is a whole number.
size_t parse_json_length_header(const std::string& value);

// What encode_http_infer_response needs to know of the request: which outputs want the binary form.
struct OutputEncoding {
  std::vector<RequestedOutput> outputs;
  bool binary_outputs = false;
};
// Encodes `response`: outputs marked binary (per output, or all with binary_data_output) go after the JSON as
// binary data, the others inline as JSON arrays.
HttpResponse encode_http_infer_response(const InferenceResponse& response, const OutputEncoding& encoding);

}  // namespace tessera::serve
