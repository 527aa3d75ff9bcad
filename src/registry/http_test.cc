#include "registry/http.h"

#include <gtest/gtest.h>

namespace hull::registry {
namespace {

HttpResponse response(long status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(DescribeStatus, Table) {
  struct Case {
    HttpResponse resp;
    const char* want;
  } cases[] = {
      {response(404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]})"),
       "404 Not Found: MANIFEST_UNKNOWN: manifest unknown"},
      {response(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"a"},{"code":"DENIED","message":"b"}]})"),
       "401 Unauthorized: UNAUTHORIZED: a; DENIED: b"},
      {response(403, ""), "403 Forbidden"},
      {response(502, "<html><body>Bad gateway</body></html>"), "502 Bad Gateway"},
      {response(500, "upstream exploded\nstack trace"), "500 Internal Server Error: upstream exploded"},
      {response(599, "{not json"), "599"},
  };
  for (const auto& c : cases) EXPECT_EQ(describe_status(c.resp), c.want);
}

TEST(ThrowStatusError, TransientOrNot) {
  EXPECT_THROW(throw_status_error(response(404, ""), "x"), Error);
  try {
    throw_status_error(response(429, "", {{"retry-after", "3"}}), "fetching");
    FAIL();
  } catch (const TransientError& e) {
    EXPECT_EQ(e.retry_after(), std::chrono::seconds(3));
    EXPECT_EQ(e.message(), "fetching: 429 Too Many Requests");
  }
  try {
    throw_status_error(response(503, ""), "");
    FAIL();
  } catch (const TransientError& e) {
    EXPECT_EQ(e.retry_after(), std::chrono::milliseconds(0));
  }
  try {
    throw_status_error(response(404, ""), "");
    FAIL();
  } catch (const TransientError&) {
    FAIL() << "404 is not transient";
  } catch (const Error&) {
  }
}

TEST(UrlHost, Table) {
  EXPECT_EQ(url_host("http://127.0.0.1:5000/v2/x/y"), "127.0.0.1:5000");
  EXPECT_EQ(url_host("https://quay.io"), "quay.io");
  EXPECT_EQ(url_host("https://u:p@r.io/a?b"), "r.io");
  EXPECT_EQ(url_host("https://[::1]:5000/v2/"), "[::1]:5000");
}

}  // namespace
}  // namespace hull::registry
