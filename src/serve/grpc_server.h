// GrpcServer: the KServe v2 / Triton `inference.GRPCInferenceService` over a ModelRepository (gRPC++; ModelInfer
// on the callback API, the other methods synchronous). Errors carry the same messages as HTTP with INVALID_ARGUMENT,
// NOT_FOUND, UNAVAILABLE, RESOURCE_EXHAUSTED or INTERNAL.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "serve/model_repository.h"

namespace grpc {
class Server;
}

namespace tessera::serve {

class GrpcServer {
 public:
  // Listens on `address`:`port` (0 picks a free port); messages up to `max_message_bytes`. Throws
  // std::runtime_error when it cannot listen. `repository` must outlive the server.
  GrpcServer(ModelRepository& repository, const std::string& address, uint16_t port, int max_message_bytes);
  // Shuts down (see shutdown()).
  ~GrpcServer();
  uint16_t port() const { return port_; }
  // Stops accepting calls and waits for the ones in flight to finish.
  void shutdown();

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  uint16_t port_ = 0;
};

}  // namespace tessera::serve
