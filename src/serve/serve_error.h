// ServeError: a failed server request, with the protocol status it maps to (HTTP code, gRPC code).
#pragma once

#include <stdexcept>
#include <string>

namespace tessera::serve {

// Why a request failed, in protocol terms.
enum class ServeStatus {
  kBadRequest,   // HTTP 400, gRPC INVALID_ARGUMENT: malformed body, wrong input name, shape or datatype
  kNotFound,     // HTTP 404, gRPC NOT_FOUND: unknown model or version
  kUnavailable,  // HTTP 503, gRPC UNAVAILABLE: model not ready, queue full, request timed out in the queue
  kTooLarge,     // HTTP 413, gRPC RESOURCE_EXHAUSTED: body over the limit
  kInternal,     // HTTP 500, gRPC INTERNAL: the model failed on a valid request
};

// The one exception type of the server; `what()` is the message the client sees as {"error": ...}.
class ServeError : public std::runtime_error {
 public:
  ServeError(ServeStatus status, const std::string& message) : std::runtime_error(message), status_(status) {}
  ServeStatus status() const { return status_; }

 private:
  ServeStatus status_;
};

// Throws ServeError(kBadRequest, message).
[[noreturn]] inline void bad_request(const std::string& message) {
  throw ServeError(ServeStatus::kBadRequest, message);
}

// The HTTP status code of `status` (400, 404, 503, 413, 500).
int http_status_code(ServeStatus status);

}  // namespace tessera::serve
