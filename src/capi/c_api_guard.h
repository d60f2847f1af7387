// The C API's boundary: the opaque handle types and `guarded`, which turns every exception into a status and
// the calling thread's last error message.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "base/error.h"
#include "base/tensor.h"
#include "runtime/session.h"
#include "tessera/c_api.h"

struct tessera_session_options {
  tessera::SessionOptions options;
};

struct tessera_run_options {
  std::atomic<bool> terminate{false};
  int64_t timeout_ms = 0;
};

struct tessera_session {
  std::unique_ptr<tessera::Session> session;
  // Per input (index 0) / output (index 1): dims with -1 for non-numbers, and the symbols, kept for the
  // pointers tessera_session_io_type and tessera_session_io_dim_name hand out.
  std::vector<std::vector<int64_t>> dims[2];
  std::vector<std::vector<std::string>> symbols[2];
};

struct tessera_tensor {
  tessera::Tensor tensor;
};

namespace tessera::c_api {

// Records `message` as this thread's last error and returns `status`.
tessera_status record_error(tessera_status status, const std::string& message);
// Clears this thread's last error.
void clear_error();
// The status that reports an Error of `code`.
tessera_status status_for(ErrorCode code);

// Runs `body`; TESSERA_OK when it returns, else the status and message of what it threw.
template <typename Body>
tessera_status guarded(Body&& body) noexcept {
  try {
    std::forward<Body>(body)();
    clear_error();
    return TESSERA_OK;
  } catch (const Error& e) {
    return record_error(status_for(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return record_error(TESSERA_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return record_error(TESSERA_INTERNAL_ERROR, e.what());
  } catch (...) {
    return record_error(TESSERA_INTERNAL_ERROR, "unknown exception");
  }
}

// Throws Error(kInvalidArgument) naming `argument` when `pointer` is NULL.
inline void require(const void* pointer, const char* argument) {
  if (pointer == nullptr) fail(ErrorCode::kInvalidArgument, "argument '", argument, "' is NULL");
}

}  // namespace tessera::c_api
