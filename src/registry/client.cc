// The distribution-spec v2 client. Each public operation is one retry loop
// (retrying()) around one or more exchanges (send()); send() answers auth
// challenges, retrying() absorbs transient failures with backoff. Blob
// downloads keep their progress (bytes written, hash state) across
// attempts and resume with Range.
#include "registry/client_impl.h"

namespace hull::registry {



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
