// Versions, status names and the thread-local last error.
#include "c_api_guard.h"

#ifndef TESSERA_VERSION
#error "TESSERA_VERSION must be defined by the build"
#endif

namespace tessera::c_api {

namespace {

std::string& last_error() {
  thread_local std::string message;
  return message;
}

}  // namespace

tessera_status record_error(tessera_status status, const std::string& message) {
  try {
    last_error() = message;
  } catch (...) {
    // No memory for the message: the status still tells what happened.
  }
  return status;
}

void clear_error() { last_error().clear(); }

tessera_status status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return TESSERA_INVALID_ARGUMENT;
    case ErrorCode::kInvalidModel:
      return TESSERA_INVALID_MODEL;
    case ErrorCode::kUnsupported:
      return TESSERA_UNSUPPORTED;
    case ErrorCode::kRuntime:
      return TESSERA_RUNTIME_ERROR;
    case ErrorCode::kIo:
      return TESSERA_IO_ERROR;
    case ErrorCode::kOutOfMemory:
      return TESSERA_OUT_OF_MEMORY;
  }
  return TESSERA_INTERNAL_ERROR;
}

}  // namespace tessera::c_api

extern "C" {

uint32_t tessera_api_version(void) { return TESSERA_C_API_VERSION; }

const char* tessera_version(void) { return TESSERA_VERSION; }

const char* tessera_last_error_message(void) { return tessera::c_api::last_error().c_str(); }

const char* tessera_status_name(tessera_status status) {
  switch (status) {
    case TESSERA_OK:
      return "OK";
    case TESSERA_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case TESSERA_INVALID_MODEL:
      return "INVALID_MODEL";
    case TESSERA_UNSUPPORTED:
      return "UNSUPPORTED";
    case TESSERA_RUNTIME_ERROR:
      return "RUNTIME_ERROR";
    case TESSERA_IO_ERROR:
      return "IO_ERROR";
    case TESSERA_OUT_OF_MEMORY:
      return "OUT_OF_MEMORY";
    case TESSERA_INTERNAL_ERROR:
      return "INTERNAL_ERROR";
  }
  return "UNKNOWN";
}

}  // extern "C"
