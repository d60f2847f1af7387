#include "serve/http_server.h"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "serve/http_request_reader.h"

namespace tessera::serve {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

HttpResponse http_error_response(int status, const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

struct HttpServer::State {
  net::io_context io{};
  // Keeps the I/O threads running while no operation is pending: a response may still be posted by an
  // inference worker after the listener closed and every connection is waiting for its answer.
  net::executor_work_guard<net::io_context::executor_type> keep_running = net::make_work_guard(io);
  std::optional<tcp::acceptor> acceptor;
  size_t body_limit = 0;
  HttpHandler handler;
  std::atomic<size_t> in_flight{0};
};

namespace {

constexpr std::chrono::seconds kIdleTimeout{300};

// One connection: read a request, hand it to the handler, write its response, repeat while keep-alive.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<HttpServer::State> state)
      : stream_(std::move(socket)), state_(std::move(state)) {}

  void start() { read(); }

 private:
  void read() {
    // An idle keep-alive connection (or one that sends a request too slowly) is closed after this long.
    stream_.expires_after(kIdleTimeout);
    parser_.emplace();
    limit_http_parser(*parser_, state_->body_limit);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  // Clients such as curl send "Expect: 100-continue" before a large body and wait for the go-ahead (curl
  // for a second) before sending it.
  void on_header(beast::error_code ec) {
    if (ec) {
      on_read(ec);
      return;
    }
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      auto go_ahead =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, parser_->get().version());
      http::async_write(stream_, *go_ahead,
                        [self = shared_from_this(), go_ahead](beast::error_code write_error, size_t) {
                          if (write_error) {
                            self->close();
                            return;
                          }
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      state_->in_flight++;
      write(http_error_response(413,
                                "request body is over the limit of " + std::to_string(state_->body_limit) + " bytes"));
      return;
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted || ec == beast::error::timeout) {
      close();
      return;
    }
    if (ec) {
      keep_alive_ = false;
      state_->in_flight++;
      write(http_error_response(400, "malformed HTTP request: " + ec.message()));
      return;
    }
    stream_.expires_never();  // inference may take long; the response is written whenever it is ready
    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    HttpRequest request = http_request_from_message(message);
    state_->in_flight++;
    auto self = shared_from_this();
    state_->handler(std::move(request), [self](HttpResponse response) {
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response)]() mutable { self->write(std::move(response)); });
    });
  }

  void write(HttpResponse reply) {
    auto response =
        std::make_shared<http::response<http::string_body>>(static_cast<http::status>(reply.status), version_);
    response->set(http::field::server, "tessera");
    response->set(http::field::content_type, reply.content_type);
    for (const auto& [name, value] : reply.headers) response->set(name, value);
    response->keep_alive(keep_alive_);
    response->body() = std::move(reply.body);
    response->prepare_payload();
    http::async_write(stream_, *response, [self = shared_from_this(), response](beast::error_code ec, size_t) {
      self->state_->in_flight--;
      if (ec || !self->keep_alive_) {
        self->close();
        return;
      }
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<HttpServer::State> state_;
  beast::flat_buffer buffer_;
  std::optional<HttpRequestParser> parser_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

void accept_next(const std::shared_ptr<HttpServer::State>& state) {
  state->acceptor->async_accept(net::make_strand(state->io), [state](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !state->acceptor->is_open()) return;
    if (!ec) std::make_shared<Connection>(std::move(socket), state)->start();
    accept_next(state);
  });
}

}  // namespace

HttpServer::HttpServer(const std::string& address, uint16_t port, int threads, size_t body_limit, HttpHandler handler)
    : state_(std::make_shared<State>()) {
  state_->body_limit = body_limit;
  state_->handler = std::move(handler);
  const tcp::endpoint endpoint(net::ip::make_address(address), port);
  state_->acceptor.emplace(state_->io);
  state_->acceptor->open(endpoint.protocol());
  state_->acceptor->set_option(net::socket_base::reuse_address(true));
  state_->acceptor->bind(endpoint);
  state_->acceptor->listen(net::socket_base::max_listen_connections);
  port_ = state_->acceptor->local_endpoint().port();
  accept_next(state_);
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([state = state_] { state->io.run(); });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop_accepting() {
  net::post(state_->io, [state = state_] {
    beast::error_code ignored;
    state->acceptor->close(ignored);
  });
}

size_t HttpServer::in_flight() const { return state_->in_flight.load(); }

void HttpServer::stop() {
  state_->io.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace tessera::serve
