// run_server: `tessera serve` — a model repository behind the v2 HTTP/REST, gRPC and metrics endpoints,
// until SIGINT or SIGTERM, then a graceful stop (no new connections, in-flight requests finish, exit 0).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "serve/model_repository.h"

namespace tessera::serve {

struct ServeOptions {
  std::string model_repository;
  ModelControlMode control_mode = ModelControlMode::kNone;
  std::vector<std::string> load_models;  // explicit mode: loaded at start
  std::string address = "0.0.0.0";
  int http_port = 8000;  // 0 picks a free port; -1 disables
  int grpc_port = 8001;
  int metrics_port = 8002;
  int http_threads = 0;                    // 0: max(2, cores)
  size_t http_max_body_bytes = 64u << 20;  // larger bodies get 413
  int grpc_max_message_bytes = 1 << 30;
  int poll_seconds = 15;  // poll mode: seconds between repository scans
  ServingLimits limits;   // every model's session limits and run deadline, unless its config sets its own
};

// Serves until a signal; returns the process exit code. Prints one line per endpoint, e.g.
// "tessera serve: HTTP on 0.0.0.0:8000", then "tessera serve: ready" on stderr. Throws Error for a missing
// repository and std::runtime_error when a port cannot be bound.
int run_server(const ServeOptions& options);

}  // namespace tessera::serve
