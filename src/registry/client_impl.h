// The inside of registry::Client, shared by its two source files:
// client.cc (manifests, blobs, uploads) and range_fetch.cc (byte ranges of
// blobs for partial pulls). Not a public header.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "registry/auth.h"
#include "registry/client.h"
#include "registry/http.h"
#include "registry/registries_conf.h"
#include "util/error.h"
#include "util/fd.h"

namespace hull::registry {
namespace client_detail {

using std::chrono::milliseconds;

// Where a downloaded blob goes: written at increasing offsets, emptied to
// start over.
struct BlobWriter {
  virtual ~BlobWriter() = default;
  virtual void write(uint64_t offset, std::string_view data) = 0;
  virtual void reset() = 0;
};

struct FdWriter : BlobWriter {
  int fd;
  explicit FdWriter(int f) : fd(f) {}
  void write(uint64_t off, std::string_view data) override { pwrite_all(fd, data, off, "the blob"); }
  void reset() override {
    if (::ftruncate(fd, 0) != 0) fail_errno("truncating the blob file");
  }
};

struct StringWriter : BlobWriter {
  std::string out;
  void write(uint64_t off, std::string_view data) override {
    out.resize(off);
    out.append(data);
  }
  void reset() override { out.clear(); }
};

// Where an uploaded blob comes from.
struct UploadBody {
  int fd = -1;
  std::string_view bytes;
  uint64_t size = 0;
  void attach(HttpRequest& req, uint64_t offset, uint64_t length) const {
    req.has_body = true;
    if (fd >= 0) {
      req.body_fd = fd;
      req.body_offset = offset;
      req.body_length = length;
    } else {
      req.body = bytes.substr(offset, length);
    }
  }
};

inline std::string strip_params(std::string_view ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return std::string(ct);
}

inline bool generic_content_type(std::string_view ct) {
  return ct.empty() || ct == "application/json" || ct == "text/plain" || ct == "application/octet-stream";
}

inline std::string escape(std::string_view s) {
  char* e = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

// Resolves a Location header against the URL of the request it answered.
inline std::string resolve_location(const std::string& base, const std::string& location) {
  CURLU* u = curl_url();
  if (!u) fail("out of memory");
  std::string out;
  char* s = nullptr;
  if (curl_url_set(u, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, location.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
    out = s;
    curl_free(s);
  }
  curl_url_cleanup(u);
  if (out.empty()) fail("the registry sent an unusable Location \"{}\"", location);
  return out;
}

// The start offset of "bytes A-B/T"; nullopt if malformed.
inline std::optional<uint64_t> content_range_start(std::string_view v) {
  if (!v.starts_with("bytes ")) return std::nullopt;
  v.remove_prefix(6);
  uint64_t a = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; i++) a = a * 10 + static_cast<uint64_t>(v[i] - '0');
  if (i == 0 || i >= v.size() || v[i] != '-') return std::nullopt;
  return a;
}

inline std::optional<uint64_t> parse_u64(const std::string& s) {
  if (s.empty() || s.size() > 19 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  return std::stoull(s);
}

constexpr size_t kMaxRangesPerRequest = 256;
constexpr size_t kMaxRangeHeaderBytes = 6000;

// Thrown from a body callback to end a transfer on purpose.
struct StopTransfer {
  enum Why { kDone, kSingles } why;
};

}  // namespace client_detail

using namespace client_detail;

struct Client::Impl {
  oci::Reference ref;
  Options opts;
  bool push;
  Http http;
  std::string base;  // scheme://host/v2/repository
  std::string name;  // registry/repository, for messages

  std::shared_ptr<TokenCache> tokens;
  std::optional<CredentialLookup> lookup;  // read on the first challenge
  std::string auth_header;                 // "Authorization: ..." or empty
  bool auth_is_bearer = false;
  std::vector<std::string> extra_scopes;

  Impl(const oci::Reference& r, Options o, bool p)
      : ref(r),
        opts(std::move(o)),
        push(p),
        http(HttpSettings{opts.tls_verify, opts.stall_timeout_seconds, 30}),
        tokens(opts.token_cache ? opts.token_cache : std::make_shared<TokenCache>()) {
    bool plain = opts.plain_http.value_or(ref.is_local() || host_is_insecure(ref.registry));
    base = fmt::format("{}://{}/v2/{}", plain ? "http" : "https", ref.api_host(), ref.repository);
    name = ref.name();
  }

  const CredentialLookup& credentials() {
    if (!lookup) lookup = lookup_credentials(ref.registry, ref.repository, opts.authfile);
    return *lookup;
  }

  std::vector<std::string> scopes() const {
    std::vector<std::string> s{fmt::format("repository:{}:{}", ref.repository, push ? "pull,push" : "pull")};
    s.insert(s.end(), extra_scopes.begin(), extra_scopes.end());
    return s;
  }

  // "no credentials for HOST (looked in: ...)" or "credentials for HOST
  // from FILE were rejected".
  std::string credentials_note() {
    const CredentialLookup& c = credentials();
    if (!c.credentials) {
      std::string files;
      for (const auto& f : c.looked_in) files += (files.empty() ? "" : ", ") + f;
      return fmt::format("no credentials for {} (looked in: {})", ref.registry, files);
    }
    return fmt::format("credentials for {} from {} were rejected", ref.registry, c.credentials->source);
  }

  [[noreturn]] void fail_unauthorized(const HttpResponse& r) {
    std::string detail = describe_status(r);  // "401 Unauthorized[: CODE: msg]"
    std::string head = fmt::format("{} {}", r.status, http_reason(r.status));
    std::string rest = detail.size() > head.size() ? detail.substr(head.size()) : "";
    fail("{}: {}{}", head, credentials_note(), rest);
  }

  [[noreturn]] void fail_status(const HttpResponse& r) {
    if (r.status == 401) fail_unauthorized(r);
    throw_status_error(r, "");
  }

  // Answers a 401's challenge; true if there is new auth to retry with.
  bool authenticate(const HttpResponse& r) {
    std::vector<Challenge> all;
    for (const auto& [k, v] : r.headers)
      if (k == "www-authenticate")
        for (auto& c : parse_challenges(v)) all.push_back(std::move(c));
    auto find = [&](std::string_view scheme) -> const Challenge* {
      for (const auto& c : all)
        if (c.scheme == scheme) return &c;
      return nullptr;
    };
    const std::optional<Credentials>& creds = credentials().credentials;
    if (const Challenge* b = find("bearer")) {
      std::vector<std::string> sc = scopes();
      std::string key = b->param("realm") + "|" + b->param("service");
      for (const auto& s : sc) key += "|" + s;
      std::string token = tokens->get(key);
      if (token.empty() || auth_header == "Authorization: Bearer " + token) {
        tokens->drop(key);
        Token t;
        try {
          t = fetch_token(http, *b, sc, creds);
        } catch (const TransientError&) {
          throw;
        } catch (const Error& e) {
          if (e.message().find(": 401 ") != std::string::npos || e.message().find(": 403 ") != std::string::npos)
            fail("401 Unauthorized: {} ({})", credentials_note(), e.message());
          throw;
        }
        tokens->put(key, t);
        token = t.token;
      }
      auth_header = "Authorization: Bearer " + token;
      auth_is_bearer = true;
      return true;
    }
    if (find("basic") && creds) {
      std::string h = "Authorization: Basic " + base64_encode(creds->username + ":" + creds->password);
      if (h == auth_header) return false;  // already sent: rejected
      auth_header = h;
      auth_is_bearer = false;
      return true;
    }
    return false;
  }

  // One exchange, plus one more after answering an auth challenge. Throws
  // TransientError for failures worth retrying, Error for a final 401;
  // returns every other response.
  HttpResponse send(HttpRequest& req) {
    for (int round = 0;; round++) {
      std::erase_if(req.headers, [](const std::string& h) { return h.starts_with("Authorization:"); });
      if (!auth_header.empty()) req.headers.push_back(auth_header);
      HttpResponse r = http.perform(req);
      if (r.curl_code != CURLE_OK) throw_transport_error(r, "");
      if (r.status == 401 && round == 0 && authenticate(r)) continue;
      if (r.status == 401) fail_unauthorized(r);
      if (r.status == 408 || r.status == 429 || r.status >= 500) throw_status_error(r, "");
      return r;
    }
  }

  // Runs fn() until it returns, retrying TransientErrors up to
  // max_attempts times with exponential backoff (or the server's
  // Retry-After). The last failure is rethrown as a plain Error.
  template <typename F>
  auto retrying(F&& fn) -> decltype(fn()) {
    milliseconds delay{200};
    int max = std::max(1, opts.max_attempts);
    for (int attempt = 1;; attempt++) {
      try {
        return fn();
      } catch (const TransientError& e) {
        if (attempt >= max) throw Error(e.message());
        milliseconds wait = e.retry_after().count() > 0 ? e.retry_after() : delay;
        std::this_thread::sleep_for(wait);
        delay = std::min(delay * 2, milliseconds(10000));
      }
    }
  }

  std::string blob_url(const oci::Digest& d) const { return base + "/blobs/" + d.str(); }

  void fetch_blob_into(const oci::Descriptor& d, BlobWriter& w, ProgressBar* bar);
  struct RangeFetch;
  std::string start_upload(const std::string& query);
  void upload(const oci::Descriptor& d, const UploadBody& body, ProgressBar* bar);
};

}  // namespace hull::registry
