#include "base/error.h"

namespace tessera {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::kInvalidModel: return "INVALID_MODEL";
    case ErrorCode::kUnsupported: return "UNSUPPORTED";
    case ErrorCode::kRuntime: return "RUNTIME_ERROR";
    case ErrorCode::kIo: return "IO_ERROR";
    case ErrorCode::kOutOfMemory: return "OUT_OF_MEMORY";
  }
  return "UNKNOWN";
}

}  // namespace tessera
