#include "registry/http.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace hull::registry {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) fail("initializing libcurl failed");
  });
}

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
  return r;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// State of one transfer, reached from curl's C callbacks. Exceptions from
// the caller's callbacks are parked here and rethrown after curl returns.
struct Transfer {
  Transfer(const HttpRequest* q, HttpResponse* r) : req(q), resp(r) {}
  const HttpRequest* req;
  HttpResponse* resp;
  std::exception_ptr error;
  bool body_started = false;
  uint64_t read_pos = 0;  // offset into the request body
  // Stall detection: the time bytes last moved in either direction.
  int stall_seconds = 0;
  curl_off_t last_bytes = -1;
  std::chrono::steady_clock::time_point last_change = std::chrono::steady_clock::now();
  bool stalled = false;

  bool sinking() const { return req->sink && resp->status >= 200 && resp->status < 300; }
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or a 100 Continue): start over.
    t->resp->headers.clear();
    t->resp->body.clear();
    t->resp->body_bytes = 0;
    auto sp = line.find(' ');
    t->resp->status = sp == std::string_view::npos ? 0 : std::strtol(line.data() + sp + 1, nullptr, 10);
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos)
    t->resp->headers.emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  return size * n;
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  try {
    if (t->sinking()) {
      if (!t->body_started) {
        t->body_started = true;
        if (t->req->on_body_start) t->req->on_body_start(*t->resp);
      }
      t->req->sink(std::string_view(data, len));
    } else if (t->resp->body.size() < t->req->body_limit) {
      t->resp->body.append(data, std::min(len, t->req->body_limit - t->resp->body.size()));
    }
    t->resp->body_bytes += len;
    return len;
  } catch (...) {
    t->error = std::current_exception();
    return CURL_WRITEFUNC_ERROR;
  }
}

size_t on_read(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const HttpRequest& r = *t->req;
  size_t want = size * n;
  uint64_t total = r.body_fd >= 0 ? r.body_length : r.body.size();
  if (t->read_pos >= total) return 0;
  want = static_cast<size_t>(std::min<uint64_t>(want, total - t->read_pos));
  size_t got;
  if (r.body_fd >= 0) {
    ssize_t k;
    do {
      k = ::pread(r.body_fd, buf, want, static_cast<off_t>(r.body_offset + t->read_pos));
    } while (k < 0 && errno == EINTR);
    if (k < 0) {
      t->error = std::make_exception_ptr(SystemError("reading the upload body", errno));
      return CURL_READFUNC_ABORT;
    }
    if (k == 0) {
      t->error = std::make_exception_ptr(Error("reading the upload body: file is shorter than expected"));
      return CURL_READFUNC_ABORT;
    }
    got = static_cast<size_t>(k);
  } else {
    std::memcpy(buf, r.body.data() + t->read_pos, want);
    got = want;
  }
  t->read_pos += got;
  if (r.on_sent) r.on_sent(got);
  return got;
}

// curl's own low-speed check averages over several seconds; this one
// aborts after exactly stall_seconds without a byte.
int on_progress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  auto now = std::chrono::steady_clock::now();
  if (dlnow + ulnow != t->last_bytes) {
    t->last_bytes = dlnow + ulnow;
    t->last_change = now;
    return 0;
  }
  if (t->stall_seconds > 0 && now - t->last_change >= std::chrono::seconds(t->stall_seconds)) {
    t->stalled = true;
    return 1;
  }
  return 0;
}

int on_seek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  t->read_pos = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

struct SList {
  curl_slist* p = nullptr;
  ~SList() { curl_slist_free_all(p); }
  void add(const std::string& s) {
    curl_slist* n = curl_slist_append(p, s.c_str());
    if (!n) fail("out of memory building HTTP headers");
    p = n;
  }
};

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  std::string want = lower(name);
  for (const auto& [k, v] : headers)
    if (k == want) return v;
  return {};
}

Http::Http(HttpSettings settings) : settings_(settings) {
  global_init();
  curl_ = curl_easy_init();
  if (!curl_) fail("creating a libcurl handle failed");
}

Http::Http(Http&& o) noexcept : curl_(std::exchange(o.curl_, nullptr)), settings_(o.settings_) {}

Http& Http::operator=(Http&& o) noexcept {
  if (this != &o) {
    if (curl_) curl_easy_cleanup(curl_);
    curl_ = std::exchange(o.curl_, nullptr);
    settings_ = o.settings_;
  }
  return *this;
}

Http::~Http() {
  if (curl_) curl_easy_cleanup(curl_);
}

HttpResponse Http::perform(const HttpRequest& req) {
  HttpResponse resp;
  Transfer t(&req, &resp);
  t.stall_seconds = settings_.stall_timeout_seconds;
  char errbuf[CURL_ERROR_SIZE] = {0};
  // Reset keeps the connection cache, so connections are still reused.
  curl_easy_reset(curl_);
  CURL* c = curl_;
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, settings_.tls_verify ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, settings_.tls_verify ? 2L : 0L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, settings_.connect_timeout_seconds);
  if (settings_.stall_timeout_seconds > 0) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(settings_.stall_timeout_seconds));
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  }
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "hull/0.1");
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);

  SList headers;
  for (const auto& h : req.headers) headers.add(h);
  headers.add("Expect:");  // no 100-continue round trip before bodies

  if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.method == "GET" && !req.has_body) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    // Every other method goes out as an "upload" (so that the body is
    // streamed through on_read) under its own name.
    uint64_t len = req.has_body ? (req.body_fd >= 0 ? req.body_length : req.body.size()) : 0;
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(len));
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &t);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, &t);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.p);

  resp.curl_code = curl_easy_perform(c);
  if (t.error) std::rethrow_exception(t.error);
  if (t.stalled) {
    resp.curl_code = CURLE_OPERATION_TIMEDOUT;
    resp.curl_error = fmt::format("no data for {} seconds", settings_.stall_timeout_seconds);
  } else if (resp.curl_code != CURLE_OK) {
    resp.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(resp.curl_code);
    long e = 0;
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &e);
    resp.os_errno = static_cast<int>(e);
  }
  long code = 0;
  if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code != 0) resp.status = code;
  char* eff = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) resp.effective_url = eff;
  // A 2xx with an empty body still announces itself to the sink's owner.
  if (resp.curl_code == CURLE_OK && t.sinking() && !t.body_started && req.on_body_start)
    req.on_body_start(resp);
  return resp;
}

std::string_view http_reason(long status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace hull::registry

namespace hull::registry {
namespace {

std::string with_prefix(std::string_view ctx, std::string msg) {
  return ctx.empty() ? msg : std::string(ctx) + ": " + msg;
}

// The registry's {"errors": [{"code", "message", "detail"}]}, joined.
std::string registry_errors(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return {};
  auto errs = doc.find("errors");
  if (errs == doc.end() || !errs->is_array()) return {};
  std::string out;
  for (const auto& e : *errs) {
    if (!e.is_object()) continue;
    std::string code = e.value("code", std::string());
    std::string msg = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
    std::string one = code.empty() ? msg : (msg.empty() ? code : code + ": " + msg);
    if (one.empty()) continue;
    if (!out.empty()) out += "; ";
    out += one;
  }
  return out;
}

std::string short_text(std::string_view body) {
  body = trim(body);
  if (body.empty() || body.front() == '<' || body.front() == '{') return {};
  body = body.substr(0, body.find('\n'));
  for (char c : body)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return {};
  if (body.size() > 200) return std::string(body.substr(0, 200)) + "...";
  return std::string(body);
}

}  // namespace

std::string url_host(std::string_view url) {
  auto p = url.find("://");
  if (p != std::string_view::npos) url.remove_prefix(p + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  auto at = url.rfind('@');
  if (at != std::string_view::npos) url.remove_prefix(at + 1);
  return std::string(url);
}

std::string describe_status(const HttpResponse& resp) {
  std::string out = std::to_string(resp.status);
  if (auto r = http_reason(resp.status); !r.empty()) out += " " + std::string(r);
  std::string detail = registry_errors(resp.body);
  if (detail.empty()) detail = short_text(resp.body);
  if (!detail.empty()) out += ": " + detail;
  return out;
}

std::string describe_transport(const HttpResponse& resp) {
  std::string host = url_host(resp.effective_url);
  switch (resp.curl_code) {
    case CURLE_COULDNT_CONNECT:
      return fmt::format("cannot connect to {}: {}", host,
                         resp.os_errno ? std::strerror(resp.os_errno) : resp.curl_error);
    case CURLE_COULDNT_RESOLVE_HOST:
      return fmt::format("cannot resolve host {}", host);
    case CURLE_OPERATION_TIMEDOUT:
      return fmt::format("connection to {} stalled or timed out ({})", host, resp.curl_error);
    default:
      return fmt::format("connection to {} failed: {}", host, resp.curl_error);
  }
}

bool is_transient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

void throw_transport_error(const HttpResponse& resp, std::string_view ctx) {
  std::string msg = with_prefix(ctx, describe_transport(resp));
  if (is_transient(resp.curl_code)) throw TransientError(msg);
  throw Error(msg);
}

void throw_status_error(const HttpResponse& resp, std::string_view ctx) {
  std::string msg = with_prefix(ctx, describe_status(resp));
  if (resp.status == 408 || resp.status == 429 || resp.status >= 500) {
    std::chrono::milliseconds after{0};
    std::string ra = resp.header("retry-after");
    if (!ra.empty() && std::all_of(ra.begin(), ra.end(), [](unsigned char c) { return std::isdigit(c); }))
      after = std::chrono::seconds(std::min(std::stol(ra.substr(0, 6)), 300L));
    throw TransientError(msg, after);
  }
  throw Error(msg);
}

}  // namespace hull::registry
