#include "serve/serve_error.h"

namespace tessera::serve {

int http_status_code(ServeStatus status) {
  switch (status) {
    case ServeStatus::kBadRequest:
      return 400;
    case ServeStatus::kNotFound:
      return 404;
    case ServeStatus::kUnavailable:
      return 503;
    case ServeStatus::kTooLarge:
      return 413;
    case ServeStatus::kInternal:
      return 500;
  }
  return 500;
}

}  // namespace tessera::serve
