// HttpApi: the v2 REST endpoints (health, server and model metadata, config, statistics, infer, repository
// index/load/unload) over a ModelRepository. Every failure answers {"error": "..."} with its status code.
#pragma once

#include "serve/http_server.h"
#include "serve/model_repository.h"

namespace tessera::serve {

class HttpApi {
 public:
  // `repository` must outlive the API.
  explicit HttpApi(ModelRepository& repository) : repository_(repository) {}
  // Routes one request; answers through `respond` (for infer, later, from a worker thread).
  void handle(HttpRequest request, HttpResponder respond);

 private:
  HttpResponse route(const HttpRequest& request, const std::vector<std::string>& path, HttpResponder& respond,
                     bool& answered);
  HttpResponse model_route(const HttpRequest& request, const std::vector<std::string>& path, HttpResponder& respond,
                           bool& answered);
  void infer(const HttpRequest& request, const std::string& model, const std::string& version, HttpResponder respond);

  ModelRepository& repository_;
};

}  // namespace tessera::serve
