#include "support/faulty_registry.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>

#include "util/error.h"

namespace hull::test {
namespace {

constexpr const char* kToken = "faulty-token";

void registry_error(httplib::Response& res, int status, const char* code, const std::string& msg) {
  res.status = status;
  res.set_content(fmt::format(R"({{"errors":[{{"code":"{}","message":"{}"}}]}})", code, msg), "application/json");
}

// N of "bytes=N-" (0 when absent or of another form).
uint64_t range_start(const std::string& h) {
  if (!h.starts_with("bytes=")) return 0;
  return std::strtoull(h.c_str() + 6, nullptr, 10);
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
  uint64_t start = f.ignore_range ? 0 : range_start(req.get_header_value("Range"));
  if (start > size) return registry_error(res, 416, "RANGE_INVALID", "bad range");
  res.set_header("Docker-Content-Digest", digest);
  res.set_header("Accept-Ranges", "bytes");
  if (start > 0) {
    res.status = 206;
    res.set_header("Content-Range", fmt::format("bytes {}-{}/{}", start, size - 1, size));
  } else {
    res.status = 200;
  }
  bool truncate = false, corrupt = false, stall = false;
  if (!head) {
    if (b.truncations < f.truncate_times && f.truncate_after > start && f.truncate_after < size) {
      b.truncations++;
      truncate = true;
    }
    if (b.corruptions < f.corrupt_times && size / 2 >= start) {
      b.corruptions++;
      corrupt = true;
    }
    if (b.stalls < f.stall_times && f.stall_after >= start && f.stall_after < size) {
      b.stalls++;
      stall = true;
    }
  }
  std::shared_ptr<const std::string> data = b.data;
  lk.unlock();

  uint64_t announced = static_cast<uint64_t>(static_cast<int64_t>(size - start) + f.content_length_delta);
  uint64_t cut = f.truncate_after, pause_at = f.stall_after;
  int pause_s = f.stall_seconds;
  auto stalled = std::make_shared<bool>(false);
  res.set_content_provider(
      announced, "application/octet-stream",
      [=, this](size_t offset, size_t length, httplib::DataSink& sink) {
        uint64_t abs = start + offset;
        if (truncate && abs >= cut) return false;  // drop the connection
        if (stall && !*stalled && abs >= pause_at) {
          *stalled = true;
          pause(pause_s);
        }
        if (abs >= size) return false;  // announced more than there is
        uint64_t n = std::min<uint64_t>({length, 16 << 10, size - abs});
        if (truncate && abs < cut) n = std::min(n, cut - abs);
        if (stall && !*stalled && abs < pause_at) n = std::min(n, pause_at - abs);
        std::string chunk = data->substr(abs, n);
        if (corrupt && size / 2 >= abs && size / 2 < abs + n) chunk[size / 2 - abs] ^= 0x5a;
        return sink.write(chunk.data(), chunk.size());
      });
}

}  // namespace hull::test
