// The distribution-spec v2 client. Each public operation is one retry loop
// (retrying()) around one or more exchanges (send()); send() answers auth
// challenges, retrying() absorbs transient failures with backoff. Blob
// downloads keep their progress (bytes written, hash state) across
// attempts and resume with Range.
#include "registry/client.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "registry/auth.h"
#include "registry/registries_conf.h"
#include "registry/http.h"
#include "util/error.h"
#include "util/fd.h"

namespace hull::registry {
namespace {

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

std::string strip_params(std::string_view ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return std::string(ct);
}

bool generic_content_type(std::string_view ct) {
  return ct.empty() || ct == "application/json" || ct == "text/plain" || ct == "application/octet-stream";
}

std::string escape(std::string_view s) {
  char* e = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

// Resolves a Location header against the URL of the request it answered.
std::string resolve_location(const std::string& base, const std::string& location) {
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
std::optional<uint64_t> content_range_start(std::string_view v) {
  if (!v.starts_with("bytes ")) return std::nullopt;
  v.remove_prefix(6);
  uint64_t a = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; i++) a = a * 10 + static_cast<uint64_t>(v[i] - '0');
  if (i == 0 || i >= v.size() || v[i] != '-') return std::nullopt;
  return a;
}

std::optional<uint64_t> parse_u64(const std::string& s) {
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

}  // namespace

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

void Client::Impl::fetch_blob_into(const oci::Descriptor& d, BlobWriter& w, ProgressBar* bar) {
  if (d.size < 0) fail("the descriptor has no size");
  const uint64_t size = static_cast<uint64_t>(d.size);
  try {
    for (int round = 0;; round++) {
      oci::DigestVerifier v(d.digest);
      uint64_t have = 0;
      auto restart = [&] {
        w.reset();
        v = oci::DigestVerifier(d.digest);
        have = 0;
        if (bar) bar->set(0);
      };
      restart();
      retrying([&] {
        if (have == size && have > 0) return;  // all there; a late failure lost nothing
        HttpRequest req;
        req.url = blob_url(d.digest);
        if (have > 0) req.headers.push_back(fmt::format("Range: bytes={}-", have));
        req.on_body_start = [&](const HttpResponse& r) {
          uint64_t from = 0;
          if (r.status == 206) {
            auto start = content_range_start(r.header("content-range"));
            if (!start || *start != have)
              fail("the registry answered a range request for offset {} with \"{}\"", have, r.header("content-range"));
            from = have;
          } else if (have > 0) {
            restart();  // Range ignored: the whole blob again
          }
          if (auto len = parse_u64(r.header("content-length")); len && from + *len != size)
            fail("the registry announced {} bytes from offset {}, but the blob has {} bytes", *len, from, size);
        };
        req.sink = [&](std::string_view data) {
          if (have + data.size() > size) fail("the registry sent more than the blob's {} bytes", size);
          w.write(have, data);
          v.update(data.data(), data.size());
          have += data.size();
          if (bar) bar->add(data.size());
        };
        HttpResponse r = send(req);
        if (r.status != 200 && r.status != 206) fail_status(r);
        if (have < size) throw TransientError(fmt::format("the transfer ended after {} of {} bytes", have, size));
      });
      oci::Digest got = v.actual();
      if (got == d.digest) return;
      if (round == 0) continue;  // one more try from zero, then give up
      fail("digest mismatch: expected {}, got {}", d.digest.str(), got.str());
    }
  } catch (...) {
    try {
      w.reset();  // never leave unverified bytes behind
    } catch (...) {
    }
    throw;
  }
}

// One fetch_ranges() call. done_[i] counts the bytes of ranges_[i] handed
// to the sink; a byte is handed out only when it is the next one of its
// range, so whatever order, overlap or repetition the answers have, each
// byte goes out once and in order. What an answer did not deliver is asked
// again.
struct Client::Impl::RangeFetch {
  enum class Next { kContinue, kRegroup };

  Impl& c;
  const oci::Descriptor& d;
  std::span<const ByteRange> ranges;
  const RangeSink& sink;
  ProgressBar* bar;
  uint64_t size = 0;
  std::vector<uint64_t> done;
  uint64_t left = 0;  // bytes still wanted, over all ranges
  size_t per_request = kMaxRangesPerRequest;
  RangeStats stats;

  RangeFetch(Impl& client, const oci::Descriptor& desc, std::span<const ByteRange> r, const RangeSink& s,
             ProgressBar* b)
      : c(client), d(desc), ranges(r), sink(s), bar(b), done(r.size(), 0) {}

  void check() {
    if (d.size < 0) fail("the descriptor has no size");
    size = static_cast<uint64_t>(d.size);
    uint64_t prev_end = 0;
    for (size_t i = 0; i < ranges.size(); i++) {
      const ByteRange& r = ranges[i];
      if (r.offset > size || r.length > size - r.offset)
        fail("range {} ({} bytes at {}) is outside the blob of {} bytes", i, r.length, r.offset, size);
      if (r.offset < prev_end) fail("range {} (at {}) is out of order or overlaps the one before", i, r.offset);
      prev_end = r.end();
      left += r.length;
    }
  }

  // Hands out the bytes of `data` (blob offsets [at, at + size)) that are
  // the next ones of some range; drops the rest.
  void place(uint64_t at, std::string_view data) {
    uint64_t end = at + data.size();
    auto it = std::lower_bound(ranges.begin(), ranges.end(), at,
                               [](const ByteRange& r, uint64_t a) { return r.end() <= a; });
    for (; it != ranges.end() && it->offset < end; ++it) {
      size_t i = static_cast<size_t>(it - ranges.begin());
      uint64_t next = it->offset + done[i];
      if (done[i] == it->length || next < at || next >= end) continue;
      uint64_t stop = std::min(end, it->end());
      std::string_view piece = data.substr(static_cast<size_t>(next - at), static_cast<size_t>(stop - next));
      done[i] += piece.size();
      left -= piece.size();
      sink(i, next - it->offset, piece);
    }
  }

  RangeStats run() {
    check();
    while (left > 0) {
      std::vector<ByteRange> rest;
      std::vector<size_t> index;
      for (size_t i = 0; i < ranges.size(); i++) {
        if (done[i] == ranges[i].length) continue;
        rest.push_back({ranges[i].offset + done[i], ranges[i].length - done[i]});
        index.push_back(i);
      }
      for (std::span<const ByteRange> g : group_ranges(rest, per_request, kMaxRangeHeaderBytes)) {
        size_t first = static_cast<size_t>(g.data() - rest.data());
        std::vector<size_t> group(index.begin() + first, index.begin() + first + g.size());
        if (fetch_group(group) == Next::kRegroup || left == 0) break;
      }
    }
    return stats;
  }

  // One request for the ranges `group` (indices), retried on transient
  // failures from where each range stands.
  Next fetch_group(const std::vector<size_t>& group) {
    return c.retrying([&] {
      std::vector<ByteRange> want;
      for (size_t i : group)
        if (done[i] < ranges[i].length) want.push_back({ranges[i].offset + done[i], ranges[i].length - done[i]});
      if (want.empty()) return Next::kContinue;
      const uint64_t before = left;
      HttpRequest req;
      req.url = c.blob_url(d.digest);
      req.headers.push_back("Range: " + range_header(want));
      stats.requests++;

      enum class Mode { kMultipart, kSingle, kWhole } mode = Mode::kSingle;
      std::optional<MultipartParser> parser;
      uint64_t pos = 0, end_pos = 0;  // blob offsets of a single part or the whole blob
      req.on_body_start = [&](const HttpResponse& r) {
        if (r.status == 206) {
          if (auto boundary = multipart_boundary(r.header("content-type"))) {
            mode = Mode::kMultipart;
            parser.emplace(*boundary, [&](const ByteRange& part, uint64_t off, std::string_view data) {
              if (part.end() > size) fail("the registry sent part bytes {}-{} of a {}-byte blob", part.offset,
                                          part.end() - 1, size);
              place(part.offset + off, data);
            });
            parser->expect_total(size);
            return;
          }
          std::string value = r.header("content-range");
          auto cr = parse_content_range_total(value);
          if (!cr) fail("the registry answered a range request with 206 and Content-Range \"{}\"", value.substr(0, 100));
          if ((cr->total && *cr->total != size) || cr->range.end() > size)
            fail("the registry answered with \"{}\" for a blob of {} bytes", value, size);
          if (auto len = parse_u64(r.header("content-length")); len && *len != cr->range.length)
            fail("the registry announced {} bytes for \"{}\"", *len, value);
          mode = Mode::kSingle;
          pos = cr->range.offset;
          end_pos = cr->range.end();
          return;
        }
        // 200: the whole blob, Range ignored.
        if (want.size() > 1 && left <= size / 2) throw StopTransfer{StopTransfer::kSingles};
        if (auto len = parse_u64(r.header("content-length")); len && *len != size)
          fail("the registry announced {} bytes, but the blob has {} bytes", *len, size);
        mode = Mode::kWhole;
        pos = 0;
        end_pos = size;
        stats.whole_blob = true;
      };
      req.sink = [&](std::string_view data) {
        stats.bytes_received += data.size();
        if (bar) bar->add(data.size());
        if (mode == Mode::kMultipart) {
          parser->feed(data);
          return;
        }
        if (data.size() > end_pos - pos)
          fail("the registry sent more than the {} bytes it announced", end_pos - (mode == Mode::kWhole ? 0 : pos));
        place(pos, data);
        pos += data.size();
        if (mode == Mode::kWhole && left == 0) throw StopTransfer{StopTransfer::kDone};
      };

      HttpResponse r;
      try {
        r = c.send(req);
      } catch (const StopTransfer& stop) {
        if (stop.why == StopTransfer::kDone) return Next::kContinue;
        per_request = 1;  // less than half the blob wanted: cheaper one range at a time
        return Next::kRegroup;
      }
      if ((r.status == 400 || r.status == 416) && want.size() > 1) {
        per_request = std::max<size_t>(1, want.size() / 2);
        return Next::kRegroup;
      }
      if (r.status != 200 && r.status != 206) c.fail_status(r);
      if (mode == Mode::kMultipart) {
        parser->finish();
      } else if (pos < end_pos) {
        throw TransientError(fmt::format("the answer ended after {} of its {} bytes", pos, end_pos));
      }
      if (left == before)
        fail("the registry's answer to \"{}\" held none of the bytes asked for", req.headers[0].substr(0, 100));
      bool group_left = std::any_of(group.begin(), group.end(), [&](size_t i) { return done[i] < ranges[i].length; });
      if (!group_left) return Next::kContinue;
      // One part for several ranges that left some out: a server (or the
      // storage behind a redirect) that serves one range per request.
      if (mode == Mode::kSingle && want.size() > 1) per_request = 1;
      return Next::kRegroup;
    });
  }
};

std::string Client::Impl::start_upload(const std::string& query) {
  HttpRequest req;
  req.method = "POST";
  req.url = base + "/blobs/uploads/" + query;
  HttpResponse r = send(req);
  if (r.status == 201) return {};  // mounted
  if (r.status != 202) fail_status(r);
  std::string loc = r.header("location");
  if (loc.empty()) fail("the registry started an upload without a Location");
  return resolve_location(req.url, loc);
}

void Client::Impl::upload(const oci::Descriptor& d, const UploadBody& body, ProgressBar* bar) {
  retrying([&] {
    if (bar) bar->set(0);
    std::string loc = start_upload("");
    uint64_t chunk = opts.chunk_size;
    if (chunk > 0) {
      for (uint64_t off = 0; off < body.size; off += chunk) {
        uint64_t n = std::min(chunk, body.size - off);
        HttpRequest req;
        req.method = "PATCH";
        req.url = loc;
        req.headers = {"Content-Type: application/octet-stream", fmt::format("Content-Range: {}-{}", off, off + n - 1)};
        body.attach(req, off, n);
        if (bar) req.on_sent = [bar](uint64_t k) { bar->add(k); };
        HttpResponse r = send(req);
        if (r.status != 202) fail_status(r);
        if (std::string l = r.header("location"); !l.empty()) loc = resolve_location(loc, l);
      }
    }
    HttpRequest req;
    req.method = "PUT";
    req.url = loc + (loc.find('?') == std::string::npos ? "?" : "&") + "digest=" + escape(d.digest.str());
    req.headers = {"Content-Type: application/octet-stream"};
    if (chunk == 0) {
      body.attach(req, 0, body.size);
      if (bar) req.on_sent = [bar](uint64_t k) { bar->add(k); };
    } else {
      req.has_body = true;  // empty: Content-Length: 0
    }
    HttpResponse r = send(req);
    if (r.status != 201 && r.status != 204 && r.status != 200) fail_status(r);
  });
}

Client::Client(const oci::Reference& ref, Options opts, bool push)
    : impl_(std::make_unique<Impl>(ref, std::move(opts), push)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;

FetchedManifest Client::get_manifest(std::string_view tag_or_digest) {
  return *get_manifest_impl(tag_or_digest, false);
}

std::optional<FetchedManifest> Client::find_manifest(std::string_view tag_or_digest) {
  return get_manifest_impl(tag_or_digest, true);
}

std::optional<FetchedManifest> Client::get_manifest_impl(std::string_view tag_or_digest, bool missing_ok) {
  bool by_digest = tag_or_digest.find(':') != std::string_view::npos;
  std::string ctx = fmt::format("fetching manifest {}{}{}", impl_->name, by_digest ? "@" : ":", tag_or_digest);
  return with_context(ctx, [&] {
    std::optional<oci::Digest> want;
    if (by_digest) want = oci::Digest::parse(tag_or_digest);
    return impl_->retrying([&]() -> std::optional<FetchedManifest> {
      std::string bytes;
      HttpRequest req;
      req.url = impl_->base + "/manifests/" + std::string(tag_or_digest);
      req.headers = {"Accept: " + std::string(oci::media::kManifestAccept)};
      req.on_body_start = [&](const HttpResponse& r) {
        if (auto len = parse_u64(r.header("content-length")); len && *len > oci::kMaxManifestSize)
          fail("manifest too large: {} bytes (the limit is {})", *len, oci::kMaxManifestSize);
      };
      req.sink = [&](std::string_view data) {
        if (bytes.size() + data.size() > oci::kMaxManifestSize)
          fail("manifest too large: over {} bytes", oci::kMaxManifestSize);
        bytes.append(data);
      };
      HttpResponse r = impl_->send(req);
      if (missing_ok && r.status == 404) return std::nullopt;
      if (r.status != 200) impl_->fail_status(r);
      FetchedManifest m;
      if (want) {
        oci::DigestVerifier v(*want);
        v.update(bytes.data(), bytes.size());
        v.verify();
        m.digest = *want;
      } else {
        m.digest = oci::Digest::of(bytes);
      }
      std::string ct = strip_params(r.header("content-type"));
      m.media_type = generic_content_type(ct) ? oci::media_type_of(bytes, {}) : ct;
      m.bytes = std::move(bytes);
      return m;
    });
  });
}

void Client::fetch_blob(const oci::Descriptor& d, int fd, ProgressBar* bar) {
  with_context(fmt::format("fetching {} blob {}", impl_->name, d.digest.short_str()), [&] {
    FdWriter w(fd);
    impl_->fetch_blob_into(d, w, bar);
  });
}

Client::RangeStats Client::fetch_ranges(const oci::Descriptor& d, std::span<const ByteRange> ranges,
                                        const RangeSink& sink, ProgressBar* bar) {
  return with_context(fmt::format("fetching {} ranges of {} blob {}", ranges.size(), impl_->name, d.digest.short_str()),
                      [&] { return Impl::RangeFetch(*impl_, d, ranges, sink, bar).run(); });
}

std::string Client::fetch_blob_bytes(const oci::Descriptor& d, size_t limit) {
  return with_context(fmt::format("fetching {} blob {}", impl_->name, d.digest.short_str()), [&] {
    if (d.size < 0 || static_cast<uint64_t>(d.size) > limit)
      fail("blob of {} bytes is over the limit of {} bytes", d.size, limit);
    StringWriter w;
    impl_->fetch_blob_into(d, w, nullptr);
    return std::move(w.out);
  });
}

bool Client::has_blob(const oci::Digest& d) {
  return with_context(fmt::format("checking {} blob {}", impl_->name, d.short_str()), [&] {
    return impl_->retrying([&] {
      HttpRequest req;
      req.method = "HEAD";
      req.url = impl_->blob_url(d);
      HttpResponse r = impl_->send(req);
      if (r.status == 200) return true;
      if (r.status == 404) return false;
      impl_->fail_status(r);
    });
  });
}

bool Client::mount_blob(const oci::Digest& d, std::string_view from_repository) {
  return with_context(fmt::format("mounting blob {} from {} into {}", d.short_str(), from_repository, impl_->name), [&] {
    std::string scope = fmt::format("repository:{}:pull", from_repository);
    if (std::find(impl_->extra_scopes.begin(), impl_->extra_scopes.end(), scope) == impl_->extra_scopes.end()) {
      impl_->extra_scopes.push_back(scope);
      // A token without the source's pull scope would make the registry
      // fall back to an upload: get one that has it on the next challenge.
      if (impl_->auth_is_bearer) impl_->auth_header.clear();
    }
    return impl_->retrying([&] {
      std::string loc = impl_->start_upload(fmt::format("?mount={}&from={}", escape(d.str()), escape(from_repository)));
      if (loc.empty()) return true;
      // The registry opened an upload session instead: cancel it.
      HttpRequest del;
      del.method = "DELETE";
      del.url = loc;
      try {
        impl_->send(del);
      } catch (const Error&) {
      }
      return false;
    });
  });
}

void Client::push_blob(const oci::Descriptor& d, int fd, ProgressBar* bar) {
  with_context(fmt::format("pushing blob {} to {}", d.digest.short_str(), impl_->name), [&] {
    if (d.size < 0) fail("the descriptor has no size");
    if (has_blob(d.digest)) return;
    impl_->upload(d, UploadBody{fd, {}, static_cast<uint64_t>(d.size)}, bar);
  });
}

void Client::push_blob_bytes(const oci::Descriptor& d, std::string_view bytes) {
  with_context(fmt::format("pushing blob {} to {}", d.digest.short_str(), impl_->name), [&] {
    if (static_cast<uint64_t>(d.size) != bytes.size())
      fail("the descriptor says {} bytes, the data has {}", d.size, bytes.size());
    if (has_blob(d.digest)) return;
    impl_->upload(d, UploadBody{-1, bytes, bytes.size()}, nullptr);
  });
}

void Client::put_manifest(std::string_view tag_or_digest, std::string_view bytes, std::string_view media_type) {
  bool by_digest = tag_or_digest.find(':') != std::string_view::npos;
  with_context(fmt::format("pushing manifest {}{}{}", impl_->name, by_digest ? "@" : ":", tag_or_digest), [&] {
    impl_->retrying([&] {
      HttpRequest req;
      req.method = "PUT";
      req.url = impl_->base + "/manifests/" + std::string(tag_or_digest);
      req.headers = {"Content-Type: " + std::string(media_type)};
      req.has_body = true;
      req.body = bytes;
      HttpResponse r = impl_->send(req);
      if (r.status < 200 || r.status >= 300) impl_->fail_status(r);
    });
  });
}

}  // namespace hull::registry
