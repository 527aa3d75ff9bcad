#include "support/faulty_registry.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>

#include "util/error.h"

namespace hull::test {
namespace {

constexpr const char* kToken = "faulty-token";

void registry_error(httplib::Response& res, int status, const char* code, const std::string& msg) {
  res.status = status;
  res.set_content(fmt::format(R"({{"errors":[{{"code":"{}","message":"{}"}}]}})", code, msg), "application/json");
}

// The ranges of a Range header as [start, end) of a blob of `size`
// bytes; nullopt if malformed or unsatisfiable.
std::optional<std::vector<std::pair<uint64_t, uint64_t>>> parse_ranges(const std::string& h, uint64_t size) {
  if (!h.starts_with("bytes=")) return std::nullopt;
  std::vector<std::pair<uint64_t, uint64_t>> out;
  std::string_view rest = std::string_view(h).substr(6);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string spec(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!spec.empty() && spec.front() == ' ') spec.erase(0, 1);
    size_t dash = spec.find('-');
    if (dash == std::string::npos) return std::nullopt;
    std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
    if (a.empty()) {  // suffix: the last N bytes
      uint64_t n = std::strtoull(b.c_str(), nullptr, 10);
      if (n == 0) return std::nullopt;
      out.emplace_back(size - std::min(n, size), size);
      continue;
    }
    uint64_t first = std::strtoull(a.c_str(), nullptr, 10);
    uint64_t last = b.empty() ? size - 1 : std::min<uint64_t>(std::strtoull(b.c_str(), nullptr, 10), size - 1);
    if (first >= size || last < first) return std::nullopt;
    out.emplace_back(first, last + 1);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace

FaultyRegistry::FaultyRegistry(bool bearer_auth) : bearer_(bearer_auth), server_(std::make_unique<httplib::Server>()) {
  routes();
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) fail("faulty registry: cannot bind 127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

FaultyRegistry::~FaultyRegistry() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FaultyRegistry::host() const { return "127.0.0.1:" + std::to_string(port_); }

oci::Digest FaultyRegistry::add_blob(std::string data, BlobFaults faults) {
  oci::Digest d = oci::Digest::of(data);
  std::lock_guard lk(mu_);
  Blob& b = blobs_[d.str()];
  b.data = std::make_shared<const std::string>(std::move(data));
  b.faults = faults;
  return d;
}

oci::Digest FaultyRegistry::add_manifest(const std::string& tag, std::string bytes, std::string media_type,
                                         bool chunked) {
  oci::Digest d = oci::Digest::of(bytes);
  std::lock_guard lk(mu_);
  Manifest m{std::move(bytes), std::move(media_type), d.str(), chunked};
  manifests_[tag] = m;
  manifests_[d.str()] = m;
  return d;
}

std::vector<FaultyRegistry::Request> FaultyRegistry::requests() const {
  std::lock_guard lk(mu_);
  return requests_;
}

int FaultyRegistry::count(const std::string& method, const std::string& part) const {
  std::lock_guard lk(mu_);
  return static_cast<int>(std::count_if(requests_.begin(), requests_.end(), [&](const Request& r) {
    return r.method == method && r.path.find(part) != std::string::npos;
  }));
}

size_t FaultyRegistry::range_count(const std::string& h) {
  if (h.empty()) return 0;
  return 1 + static_cast<size_t>(std::count(h.begin(), h.end(), ','));
}

int FaultyRegistry::token_requests() const {
  std::lock_guard lk(mu_);
  return token_requests_;
}

void FaultyRegistry::pause(int seconds) {
  std::unique_lock lk(mu_);
  stop_cv_.wait_for(lk, std::chrono::seconds(seconds), [this] { return stopping_; });
}

bool FaultyRegistry::authorized(const void* rq, void* rs) {
  const auto& req = *static_cast<const httplib::Request*>(rq);
  auto& res = *static_cast<httplib::Response*>(rs);
  if (!bearer_ || req.get_header_value("Authorization") == std::string("Bearer ") + kToken) return true;
  res.set_header("WWW-Authenticate",
                 fmt::format(R"(Bearer realm="http://{}/token",service="faulty",scope="repository:x:pull")", host()));
  registry_error(res, 401, "UNAUTHORIZED", "authentication required");
  return false;
}

void FaultyRegistry::routes() {
  auto& s = *server_;
  // Recorded before the answer, so that a test sees every request its
  // client has had an answer to.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
    std::lock_guard lk(mu_);
    requests_.push_back({req.method, req.path, req.get_header_value("Range"), req.get_header_value("Authorization")});
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.Get("/token", [this](const httplib::Request&, httplib::Response& res) {
    {
      std::lock_guard lk(mu_);
      token_requests_++;
    }
    res.set_content(fmt::format(R"({{"token":"{}","expires_in":300}})", kToken), "application/json");
  });
  s.Get("/v2/", [this](const httplib::Request& req, httplib::Response& res) {
    if (authorized(&req, &res)) res.set_content("{}", "application/json");
  });
  s.Get(R"(/v2/(.+)/manifests/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(&req, &res)) return;
    Manifest m;
    {
      std::lock_guard lk(mu_);
      auto it = manifests_.find(req.matches[2].str());
      if (it == manifests_.end()) return registry_error(res, 404, "MANIFEST_UNKNOWN", "manifest unknown");
      m = it->second;
    }
    res.set_header("Docker-Content-Digest", m.digest);
    if (!m.chunked) return res.set_content(m.bytes, m.media_type);
    auto body = std::make_shared<std::string>(m.bytes);
    res.set_chunked_content_provider(m.media_type, [body](size_t off, httplib::DataSink& sink) {
      if (off >= body->size()) {
        sink.done();
        return true;
      }
      size_t n = std::min<size_t>(64 << 10, body->size() - off);
      return sink.write(body->data() + off, n);
    });
  });
  s.Get(R"(/v2/(.+)/blobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    // httplib would cut a 401's body to the Range and answer 416 instead.
    const_cast<httplib::Request&>(req).ranges.clear();
    if (authorized(&req, &res)) serve_blob(&req, &res, req.matches[2].str(), false);
  });
  s.Get(R"(/storage/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    serve_blob(&req, &res, req.matches[1].str(), true);
  });
}

void FaultyRegistry::serve_blob(const void* rq, void* rs, const std::string& digest, bool storage) {
  auto& req = const_cast<httplib::Request&>(*static_cast<const httplib::Request*>(rq));
  auto& res = *static_cast<httplib::Response*>(rs);
  // Ranges are this server's business (so that it can ignore them): keep
  // httplib from applying them on its own.
  req.ranges.clear();
  bool head = req.method == "HEAD";

  std::unique_lock lk(mu_);
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) return registry_error(res, 404, "BLOB_UNKNOWN", "blob unknown to registry");
  Blob& b = it->second;
  const BlobFaults& f = b.faults;
  if (!head && !storage) {
    b.gets++;
    if (b.fails < f.fail_500_times) {
      b.fails++;
      return registry_error(res, 500, "UNKNOWN", "injected failure");
    }
    if (b.throttles < f.too_many_times) {
      b.throttles++;
      res.set_header("Retry-After", std::to_string(f.retry_after_seconds));
      return registry_error(res, 429, "TOOMANYREQUESTS", "slow down");
    }
  }
  if (f.redirect && !storage) {
    res.status = 307;
    res.set_header("Location", "/storage/" + digest);
    return;
  }
  const uint64_t size = b.data->size();
  res.set_header("Docker-Content-Digest", digest);
  res.set_header("Accept-Ranges", "bytes");

  // The answer: `len` bytes of *body from `base`; segs say where each blob
  // byte of it is (body position, blob offset, length).
  struct Seg {
    uint64_t pos, blob, len;
  };
  std::vector<Seg> segs;
  std::shared_ptr<const std::string> body = b.data;
  uint64_t base = 0, len = size;
  std::string content_type = "application/octet-stream";
  std::string range_h = f.ignore_range ? "" : req.get_header_value("Range");
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  if (!range_h.empty()) {
    auto parsed = parse_ranges(range_h, size);
    if (!parsed) return registry_error(res, 416, "RANGE_INVALID", "bad range");
    ranges = std::move(*parsed);
  }
  if (f.max_ranges > 0 && ranges.size() > f.max_ranges)
    return registry_error(res, 400, "RANGE_INVALID", "too many ranges");
  if (ranges.size() > 1 && f.whole_for_multi) ranges.clear();
  if (ranges.size() > 1 && f.merge_parts) ranges = {{ranges.front().first, ranges.back().second}};
  if (ranges.size() > 1 && f.first_range_only) ranges.resize(1);
  if (ranges.empty()) {
    res.status = 200;
    segs.push_back({0, 0, size});
  } else if (ranges.size() == 1) {
    auto [a, e] = ranges[0];
    res.status = 206;
    res.set_header("Content-Range", fmt::format("bytes {}-{}/{}", a, e - 1, size));
    base = a;
    len = e - a;
    segs.push_back({0, a, len});
  } else {
    if (f.reorder_parts) std::reverse(ranges.begin(), ranges.end());
    res.status = 206;
    content_type = "multipart/byteranges; boundary=" + f.boundary;
    auto mp = std::make_shared<std::string>();
    for (size_t i = 0; i < ranges.size(); i++) {
      auto [a, e] = ranges[i];
      *mp += fmt::format("{}--{}\r\nContent-Range: bytes {}-{}/{}\r\nContent-Type: application/octet-stream\r\n\r\n",
                         i ? "\r\n" : "", f.boundary, a, e - 1, size);
      segs.push_back({mp->size(), a, e - a});
      mp->append(*b.data, a, e - a);
    }
    *mp += "\r\n--" + f.boundary + "--\r\n";
    body = mp;
    len = mp->size();
  }
  // The body position of blob byte `x` in this answer, if it holds it.
  auto where = [&](uint64_t x) -> std::optional<uint64_t> {
    for (const Seg& s : segs)
      if (x >= s.blob && x < s.blob + s.len) return s.pos + (x - s.blob);
    return std::nullopt;
  };
  bool truncate = false, stall = false;
  uint64_t cut = 0, pause_at = 0;
  std::vector<uint64_t> flips;
  if (!head) {
    if (auto p = where(f.truncate_after); p && *p > 0 && b.truncations < f.truncate_times) {
      b.truncations++;
      truncate = true;
      cut = *p;
    }
    if (auto p = where(size / 2); p && b.corruptions < f.corrupt_times) {
      b.corruptions++;
      flips.push_back(*p);
    }
    if (auto p = where(f.stall_after); p && b.stalls < f.stall_times) {
      b.stalls++;
      stall = true;
      pause_at = *p;
    }
    if (f.flip_in_ranges_at >= 0 && res.status == 206)
      if (auto p = where(static_cast<uint64_t>(f.flip_in_ranges_at))) flips.push_back(*p);
  }
  lk.unlock();

  uint64_t announced = static_cast<uint64_t>(static_cast<int64_t>(len) + f.content_length_delta);
  int pause_s = f.stall_seconds;
  auto stalled = std::make_shared<bool>(false);
  res.set_content_provider(
      announced, content_type,
      [=, this](size_t offset, size_t length, httplib::DataSink& sink) {
        uint64_t at = offset;  // body position
        if (truncate && at >= cut) return false;  // drop the connection
        if (stall && !*stalled && at >= pause_at) {
          *stalled = true;
          pause(pause_s);
        }
        if (at >= len) return false;  // announced more than there is
        uint64_t n = std::min<uint64_t>({length, 16 << 10, len - at});
        if (truncate && at < cut) n = std::min(n, cut - at);
        if (stall && !*stalled && at < pause_at) n = std::min(n, pause_at - at);
        std::string chunk = body->substr(base + at, n);
        for (uint64_t x : flips)
          if (x >= at && x < at + n) chunk[x - at] ^= 0x5a;
        return sink.write(chunk.data(), chunk.size());
      });
}

}  // namespace hull::test
