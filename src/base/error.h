// Errors: one exception type carrying a code and a message that names what went wrong.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace tessera {

// What kind of failure an Error reports; the CLI maps these to exit codes.
enum class ErrorCode {
  kInvalidArgument,  // bad feeds, bad options, bad CLI usage of the API
  kInvalidModel,     // the model file or graph is malformed
  kUnsupported,      // a valid model that uses something Tessera cannot run
  kRuntime,          // a failure while running a valid model on valid inputs
  kIo,               // files that cannot be read or written
  kOutOfMemory,      // an allocation refused or too large
};

// Returns a short stable name for `code`, e.g. "INVALID_MODEL".
const char* error_code_name(ErrorCode code);

// The one exception type of the project.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Concatenates any streamable values into a string.
template <typename... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

// Throws Error(code, str_cat(parts...)).
template <typename... Parts>
[[noreturn]] void fail(ErrorCode code, const Parts&... parts) {
  throw Error(code, str_cat(parts...));
}

// Throws Error(kInvalidArgument, ...) unless `condition` holds.
template <typename... Parts>
void check_argument(bool condition, const Parts&... parts) {
  if (!condition) fail(ErrorCode::kInvalidArgument, parts...);
}

// Throws Error(kInvalidModel, ...) unless `condition` holds.
template <typename... Parts>
void check_model(bool condition, const Parts&... parts) {
  if (!condition) fail(ErrorCode::kInvalidModel, parts...);
}

}  // namespace tessera
