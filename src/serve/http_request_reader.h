// Reading HTTP/1.1 requests as the server's connections do: Boost.Beast's parser with the server's header and
// body limits, and the parsed message turned into an HttpRequest (header names in lower case).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "serve/http_server.h"

namespace tessera::serve {

// The largest request header (request line and fields) a connection reads, in bytes.
constexpr size_t kHttpHeaderLimit = 64 * 1024;

using HttpRequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Sets the server's limits on a fresh parser: kHttpHeaderLimit and `body_limit` bytes of body.
void limit_http_parser(HttpRequestParser& parser, size_t body_limit);

// The request a parser read (method, target, headers with lower-case names, body moved out of `message`).
HttpRequest http_request_from_message(boost::beast::http::request<boost::beast::http::string_body>& message);

// One request parsed from `bytes` as a connection would read it (the bytes after it are ignored). nullopt when
// the bytes do not hold a whole request; then `error`, when given, says why (Beast's message, e.g. "body limit
// exceeded", or "incomplete request").
std::optional<HttpRequest> parse_http_request(std::string_view bytes, size_t body_limit, std::string* error = nullptr);

}  // namespace tessera::serve
