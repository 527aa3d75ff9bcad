// A thin move-only owner of one libcurl easy handle, used for every request
// of a registry Client so that connections (and TLS sessions, HTTP/2
// streams) are kept alive between requests.
//
// perform() never throws for HTTP or transport failures: it reports them in
// HttpResponse (status, curl_code) and leaves their classification (retry
// or not) to the caller. It only throws what the caller's own callbacks
// throw (a body sink refusing data, a failed write), after curl has
// unwound.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.h"

namespace hull::registry {

struct HttpResponse {
  long status = 0;                                          // of the final response
  std::vector<std::pair<std::string, std::string>> headers;  // of the final response; names lower case
  std::string body;         // non-2xx bodies, and 2xx bodies when the request has no sink (capped)
  CURLcode curl_code = CURLE_OK;
  std::string curl_error;   // libcurl's message when curl_code != CURLE_OK
  int os_errno = 0;         // errno of a failed connect
  std::string effective_url;
  uint64_t body_bytes = 0;  // bytes of the final response body received

  // The first value of header `name` (any case), or "".
  std::string header(std::string_view name) const;
  bool ok() const { return curl_code == CURLE_OK && status >= 200 && status < 300; }
};

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, POST, PUT, PATCH, DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  bool follow_redirects = true;

  // Request body: `body` bytes, or (if body_fd >= 0) body_length bytes read
  // with pread from body_fd at body_offset. has_body false sends none.
  bool has_body = false;
  std::string_view body;
  int body_fd = -1;
  uint64_t body_offset = 0;
  uint64_t body_length = 0;
  // Called with the number of body bytes handed to curl (progress).
  std::function<void(uint64_t)> on_sent;

  // Receives the body of a 2xx final response in pieces; may throw to
  // abort the transfer (the exception is rethrown by perform()). Without a
  // sink the body goes to HttpResponse::body (up to body_limit bytes).
  std::function<void(std::string_view)> sink;
  // Called once, before the first sink call, with the final response's
  // status and headers (body still empty); may throw.
  std::function<void(const HttpResponse&)> on_body_start;
  size_t body_limit = 64u << 10;
};

struct HttpSettings {
  bool tls_verify = true;
  int stall_timeout_seconds = 30;  // below 1 byte/s for this long aborts (CURLE_OPERATION_TIMEDOUT)
  long connect_timeout_seconds = 30;
};

class Http {
 public:
  explicit Http(HttpSettings settings);
  Http(Http&& o) noexcept;
  Http& operator=(Http&& o) noexcept;
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;
  ~Http();

  // Sends `req` and returns the final response (after redirects).
  HttpResponse perform(const HttpRequest& req);

  const HttpSettings& settings() const { return settings_; }

 private:
  CURL* curl_ = nullptr;
  HttpSettings settings_;
};

// "Not Found" for 404, "" for unknown codes.
std::string_view http_reason(long status);

// A failure worth retrying: a connection error or stall, 408, 429, 5xx.
// retry_after is the server's Retry-After (zero when absent).
class TransientError : public Error {
 public:
  explicit TransientError(std::string msg, std::chrono::milliseconds retry_after = {})
      : Error(std::move(msg)), retry_after_(retry_after) {}
  std::chrono::milliseconds retry_after() const { return retry_after_; }

 private:
  std::chrono::milliseconds retry_after_;
};

// "404 Not Found: MANIFEST_UNKNOWN: manifest unknown": the status, then the
// registry's JSON "errors" (or a short plain-text body) when present.
std::string describe_status(const HttpResponse& resp);

// "cannot connect to HOST: Connection refused", "no data for 30 s (stalled)", ...
std::string describe_transport(const HttpResponse& resp);

// True for libcurl failures worth retrying (connect, reset, truncation,
// stall, HTTP/2 stream errors); false for TLS verification and the like.
bool is_transient(CURLcode code);

// Throws "CTX: describe_transport()" as TransientError when is_transient(),
// else as Error. An empty `ctx` adds no prefix.
[[noreturn]] void throw_transport_error(const HttpResponse& resp, std::string_view ctx);

// Throws "CTX: describe_status()" as TransientError for 408, 429 and 5xx
// (with Retry-After), else as Error.
[[noreturn]] void throw_status_error(const HttpResponse& resp, std::string_view ctx);

// "host:port" of an http(s) URL.
std::string url_host(std::string_view url);

}  // namespace hull::registry
