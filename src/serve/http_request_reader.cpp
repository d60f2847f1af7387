#include "serve/http_request_reader.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cctype>

namespace tessera::serve {

namespace http = boost::beast::http;

void limit_http_parser(HttpRequestParser& parser, size_t body_limit) {
  parser.header_limit(kHttpHeaderLimit);
  parser.body_limit(body_limit);
}

HttpRequest http_request_from_message(http::request<http::string_body>& message) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    request.headers[name] = std::string(field.value());
  }
  request.body = std::move(message.body());
  return request;
}

std::optional<HttpRequest> parse_http_request(std::string_view bytes, size_t body_limit, std::string* error) {
  HttpRequestParser parser;
  limit_http_parser(parser, body_limit);
  parser.eager(true);
  boost::beast::error_code ec;
  // The parser consumes what it can each call (a connection feeds it as bytes arrive); stop when it makes
  // no progress.
  while (!bytes.empty() && !parser.is_done()) {
    const size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec == http::error::need_more) ec = {};
    if (ec || used == 0) break;
    bytes.remove_prefix(used);
  }
  if (!ec && !parser.is_done() && parser.got_some()) {
    parser.put_eof(ec);  // the connection ends here (Beast asserts it has seen some bytes first)
  }
  if (ec || !parser.is_done()) {
    if (error) *error = ec ? ec.message() : "incomplete request";
    return std::nullopt;
  }
  return http_request_from_message(parser.get());
}

}  // namespace tessera::serve
