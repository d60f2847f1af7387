// HttpServer: an HTTP/1.1 server on Boost.Beast/Asio with keep-alive, a body size limit (413) and
// asynchronous replies: a handler may answer from any thread, later (after inference), exactly once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tessera::serve {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // path and query as sent
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  // The header's value, or "" when absent; `name` in lower case.
  std::string header(const std::string& name) const {
    const auto found = headers.find(name);
    return found == headers.end() ? std::string() : found->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Sends the response for one request; call exactly once, from any thread.
using HttpResponder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest, HttpResponder)>;

// {"error": message} as an HttpResponse with `status`.
HttpResponse http_error_response(int status, const std::string& message);

class HttpServer {
 public:
  // Listens on `address`:`port` (0 picks a free port) with `threads` I/O threads; bodies over `body_limit`
  // bytes get 413. Throws std::runtime_error when it cannot listen.
  HttpServer(const std::string& address, uint16_t port, int threads, size_t body_limit, HttpHandler handler);
  // Stops everything (see stop()).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }
  // Closes the listening socket; open connections keep being served.
  void stop_accepting();
  // Requests read whose responses are not yet written.
  size_t in_flight() const;
  // Stops the I/O threads and closes every connection.
  void stop();

  // The listener, I/O context and handler shared with the connections (defined in http_server.cpp).
  struct State;

 private:
  std::shared_ptr<State> state_;
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace tessera::serve
