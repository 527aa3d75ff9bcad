#include "signature/verify.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>

#include "oci/manifest.h"
#include "registry/http.h"
#include "signature/gpg.h"
#include "signature/json_strict.h"
#include "signature/payload.h"
#include "signature/sigstore.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::signature {
namespace {

constexpr size_t kMaxSignatureSize = 4u << 20;  // containers/image's iolimits.MaxSignatureBodySize
constexpr int kMaxSignatures = 128;             // containers/image's maxLookasideSignatures
constexpr size_t kMaxKeySize = 1u << 20;
constexpr std::string_view kCosignPayloadType = "application/vnd.dev.cosign.simplesigning.v1+json";
constexpr std::string_view kCosignSignatureAnnotation = "dev.cosignproject.cosign/signature";

struct CosignSignature {
  std::string payload;
  std::optional<std::string> signature_b64;
};

// Reads file:// lookaside signature `path`: nullopt if it does not exist.
std::optional<std::string> read_lookaside_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    fail_errno(fmt::format("reading {}", path));
  }
  ::close(fd);
  return read_file(path, kMaxSignatureSize);
}

std::optional<std::string> fetch_lookaside_http(registry::Http& http, const std::string& url) {
  registry::HttpRequest req;
  req.url = url;
  std::string body;
  req.sink = [&](std::string_view d) {
    if (body.size() + d.size() > kMaxSignatureSize) fail("{}: over {} bytes", url, kMaxSignatureSize);
    body.append(d);
  };
  registry::HttpResponse r = http.perform(req);
  if (r.curl_code != CURLE_OK) registry::throw_transport_error(r, url);
  if (r.status == 404) return std::nullopt;
  if (r.status != 200) registry::throw_status_error(r, url);
  return body;
}

// The simple-signing signatures of the lookaside, signature-1 up to the first missing.
std::vector<std::string> lookaside_signatures(const Trust& t, const image::ImageName& name, const oci::Digest& d) {
  std::string base = lookaside_base(t.registries_d, name) + "@" + d.algorithm() + "=" + d.encoded();
  std::vector<std::string> out;
  std::optional<registry::Http> http;
  for (int i = 1;; i++) {
    std::string url = fmt::format("{}/signature-{}", base, i);
    std::optional<std::string> sig;
    if (url.starts_with("file://")) {
      sig = read_lookaside_file(url.substr(7));
    } else if (url.starts_with("http://") || url.starts_with("https://")) {
      if (!http) http.emplace(registry::HttpSettings{t.registry.tls_verify, 30, 30});
      sig = fetch_lookaside_http(*http, url);
    } else {
      fail("lookaside {}: only file://, http:// and https:// are supported", base);
    }
    if (!sig) break;
    if (i > kMaxSignatures) fail("more than {} signatures at {}", kMaxSignatures, base);
    out.push_back(std::move(*sig));
  }
  return out;
}

// The layers of an attachments manifest (oci::Manifest refuses their media
// types, which are no image layers).
std::vector<oci::Descriptor> attachment_layers(const std::string& bytes) {
  nlohmann::json j = parse_json_strict(bytes);
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array()) fail("no \"layers\" array");
  std::vector<oci::Descriptor> out;
  for (const nlohmann::json& l : j["layers"]) {
    if (!l.is_object()) fail("layers: expected objects");
    oci::Descriptor d;
    d.media_type = get_string(l, "layer", "mediaType");
    d.digest = oci::Digest::parse(get_string(l, "layer", "digest"));
    if (!l.contains("size") || !l["size"].is_number_integer()) fail("layer {}: no integer size", d.digest.short_str());
    d.size = l["size"].get<int64_t>();
    if (l.contains("annotations")) {
      if (!l["annotations"].is_object()) fail("layer {}: annotations: expected an object", d.digest.short_str());
      for (auto it = l["annotations"].begin(); it != l["annotations"].end(); ++it) {
        if (!it->is_string()) fail("layer {}: annotation {}: expected a string", d.digest.short_str(), it.key());
        d.annotations[it.key()] = it->get<std::string>();
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

// The cosign signatures attached under the tag sha256-<hex>.sig.
std::vector<CosignSignature> sigstore_signatures(const Trust& t, const image::ImageName& name, const oci::Digest& d) {
  std::string tag = d.algorithm() + "-" + d.encoded() + ".sig";
  return with_context(fmt::format("sigstore attachments {}:{}", name.ref.name(), tag), [&] {
    registry::Client c(name.ref, t.registry);
    std::optional<registry::FetchedManifest> m = c.find_manifest(tag);
    std::vector<CosignSignature> out;
    if (!m) return out;
    if (m->media_type != oci::media::kOciManifest)
      fail("media type \"{}\", expected an OCI image manifest", m->media_type);
    int n = 0;
    for (const oci::Descriptor& l : attachment_layers(m->bytes)) {
      if (l.media_type != kCosignPayloadType) continue;  // other attachments, as containers/image skips them
      if (++n > kMaxSignatures) fail("more than {} signatures", kMaxSignatures);
      if (l.size < 0 || static_cast<uint64_t>(l.size) > kMaxSignatureSize)
        fail("signature payload {} of {} bytes is over the limit of {} bytes", l.digest.short_str(), l.size,
             kMaxSignatureSize);
      CosignSignature s;
      s.payload = c.fetch_blob_bytes(l, kMaxSignatureSize);
      auto a = l.annotations.find(std::string(kCosignSignatureAnnotation));
      if (a != l.annotations.end()) s.signature_b64 = a->second;
      out.push_back(std::move(s));
    }
    return out;
  });
}

std::string read_keys(const Requirement& r) {
  if (r.key_data) return *r.key_data;
  std::string all;
  for (const std::string& p : r.key_paths) all += with_context(fmt::format("key file {}", p), [&] { return read_file(p, kMaxKeySize); });
  return all;
}

std::optional<oci::Reference> docker_identity(const image::ImageName& name) {
  if (name.transport != image::Transport::kDocker) return std::nullopt;
  return name.ref;
}

// The checks common to both kinds, on an authenticated payload.
void check_payload(const Payload& p, const Requirement& r, const image::ImageName& name, const image::Doc& manifest) {
  if (p.manifest_digest != manifest.digest)
    fail("signature for digest {} does not match the manifest {}", p.manifest_digest.str(), manifest.digest.str());
  if (!identity_matches(r.identity, docker_identity(name), p.docker_reference))
    fail("signature for identity \"{}\" is not accepted", p.docker_reference);
}

// Tries each signature; the first accepted one wins, else the reasons.
template <typename Sig, typename Check>
std::string first_accepted(const std::vector<Sig>& sigs, Check check) {
  std::vector<std::string> reasons;
  for (const Sig& s : sigs) {
    try {
      return check(s);
    } catch (const Error& e) {
      reasons.push_back(e.message());
    }
  }
  if (reasons.empty()) fail("a signature was required, but no signature exists");
  if (reasons.size() == 1) fail("{}", reasons[0]);
  std::string all;
  for (auto& r : reasons) all += (all.empty() ? "" : "; ") + r;
  fail("none of the {} signatures were accepted: {}", reasons.size(), all);
}

}  // namespace

Trust Trust::load(const TrustOptions& opts, const registry::Options& registry) {
  Trust t;
  t.policy = load_policy(opts.policy_path);
  t.registries_d = load_registries_d(opts.registries_d);
  t.enforce = opts.enforce;
  t.source_checked = opts.source_checked;
  t.registry = registry;
  return t;
}

Verdict verify_image(const Trust& t, const image::ImageName& name, const image::Doc& manifest) {
  auto start = std::chrono::steady_clock::now();
  Verdict v;
  if (t.source_checked) {
    v.scope = "checked when fetched";
    return v;
  }
  if (!t.policy) {
    if (t.enforce)
      fail("--enforce-container-sigpolicy: no signature policy (neither $HOME/.config/containers/policy.json nor "
           "/etc/containers/policy.json exists)");
    v.scope = "no policy file";
    v.accepted_by = "insecureAcceptAnything";
    return v;
  }
  const Policy& p = *t.policy;
  const Requirements& reqs = requirements_for(p, name, &v.scope);
  std::string where = fmt::format("signature policy {}{}", p.source.empty() ? "" : p.source + ", ", v.scope);
  bool all_insecure = true;
  for (auto& r : reqs) all_insecure = all_insecure && r.kind == Requirement::kInsecureAcceptAnything;
  if (t.enforce && all_insecure)
    fail("{}: --enforce-container-sigpolicy: the requirement for this image is insecureAcceptAnything", where);

  std::optional<std::vector<std::string>> lookaside;
  std::optional<std::vector<CosignSignature>> attached;
  for (size_t i = 0; i < reqs.size(); i++) {
    const Requirement& r = reqs[i];
    std::string rule = fmt::format("{}[{}] {}", where, i, kind_name(r.kind));
    std::string by = with_context(rule, [&]() -> std::string {
      switch (r.kind) {
        case Requirement::kInsecureAcceptAnything:
          return "insecureAcceptAnything";
        case Requirement::kReject:
          fail("images are rejected here");
        case Requirement::kSignedBy: {
          GpgVerifier gpg(read_keys(r));
          if (!lookaside) lookaside = name.transport == image::Transport::kDocker
                                          ? lookaside_signatures(t, name, manifest.digest)
                                          : std::vector<std::string>{};
          v.signatures_read += static_cast<int>(lookaside->size());
          return first_accepted(*lookaside, [&](const std::string& sig) {
            std::string payload = gpg.verify(sig);
            check_payload(parse_payload(payload, kSimpleSigningType), r, name, manifest);
            return std::string("signedBy");
          });
        }
        case Requirement::kSigstoreSigned: {
          std::string pem = read_keys(r);
          check_sigstore_keys(pem);
          if (!attached) attached = name.transport == image::Transport::kDocker &&
                                            use_sigstore_attachments(t.registries_d, name)
                                        ? sigstore_signatures(t, name, manifest.digest)
                                        : std::vector<CosignSignature>{};
          v.signatures_read += static_cast<int>(attached->size());
          return first_accepted(*attached, [&](const CosignSignature& s) {
            if (!s.signature_b64) fail("signature without the {} annotation", kCosignSignatureAnnotation);
            if (!verify_sigstore(pem, s.payload, *s.signature_b64)) fail("cryptographic signature verification failed");
            check_payload(parse_payload(s.payload, kCosignType), r, name, manifest);
            return std::string("sigstoreSigned");
          });
        }
      }
      fail("unknown requirement");
    });
    if (v.accepted_by.empty() || v.accepted_by == "insecureAcceptAnything") v.accepted_by = by;
  }
  v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return v;
}

}  // namespace hull::signature

namespace hull::signature {

int copy_signatures(const Trust& t, const image::ImageName& src, const image::ImageName& dst, const oci::Digest& digest,
                    const registry::Options& dst_registry) {
  if (src.transport != image::Transport::kDocker || dst.transport != image::Transport::kDocker) return 0;
  return with_context(fmt::format("copying the signatures of {} to {}", src.str(), dst.str()), [&] {
    int copied = 0;
    std::vector<std::string> sigs = lookaside_signatures(t, src, digest);
    if (!sigs.empty()) {
      std::string base = lookaside_write_base(t.registries_d, dst);
      if (!base.starts_with("file://")) fail("lookaside {}: only file:// can be written", base);
      std::string dir = base.substr(7) + "@" + digest.algorithm() + "=" + digest.encoded();
      make_dirs(dir);
      int n = 1;
      while (path_exists(fmt::format("{}/signature-{}", dir, n))) n++;
      for (auto& s : sigs) {
        bool present = false;  // the same signature already there: not again
        for (int i = 1; i < n && !present; i++) present = read_file(fmt::format("{}/signature-{}", dir, i), kMaxSignatureSize) == s;
        if (present) continue;
        write_file_atomic(fmt::format("{}/signature-{}", dir, n++), s);
        copied++;
      }
    }
    if (use_sigstore_attachments(t.registries_d, src)) {
      std::string tag = digest.algorithm() + "-" + digest.encoded() + ".sig";
      registry::Client from(src.ref, t.registry);
      std::optional<registry::FetchedManifest> m = from.find_manifest(tag);
      if (m) {
        nlohmann::json j = parse_json_strict(m->bytes);
        std::vector<oci::Descriptor> blobs = attachment_layers(m->bytes);
        if (static_cast<int>(blobs.size()) > kMaxSignatures) fail("more than {} signatures", kMaxSignatures);
        if (j.contains("config")) {
          oci::Descriptor c;
          c.digest = oci::Digest::parse(get_string(j["config"], "config", "digest"));
          c.size = j["config"].value("size", int64_t{0});
          blobs.push_back(c);
        }
        registry::Client to(dst.ref, dst_registry, true);
        for (const oci::Descriptor& b : blobs) {
          if (b.size < 0 || static_cast<uint64_t>(b.size) > kMaxSignatureSize)
            fail("attachment blob {} of {} bytes is over the limit of {} bytes", b.digest.short_str(), b.size,
                 kMaxSignatureSize);
          if (!to.has_blob(b.digest)) to.push_blob_bytes(b, from.fetch_blob_bytes(b, kMaxSignatureSize));
        }
        to.put_manifest(tag, m->bytes, m->media_type);
        copied += static_cast<int>(blobs.size()) - (j.contains("config") ? 1 : 0);
      }
    }
    return copied;
  });
}

}  // namespace hull::signature
