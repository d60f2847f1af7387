// ModelInfer messages <-> the server core's InferenceRequest / InferenceResponse: inputs from
// raw_input_contents or typed contents, outputs always as raw_output_contents.
#pragma once

#include "grpc_service.pb.h"
#include "serve/inference_request.h"

namespace tessera::serve {

// Decodes a ModelInferRequest. ServeError(kBadRequest) naming the model and input for unknown datatypes,
// raw contents that do not match the inputs, typed contents of the wrong kind or count.
InferenceRequest decode_grpc_infer_request(const inference::ModelInferRequest& message);

// Fills `message` from `response` (outputs in raw form).
void encode_grpc_infer_response(const InferenceResponse& response, inference::ModelInferResponse& message);

}  // namespace tessera::serve
