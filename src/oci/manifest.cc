// Image-spec documents with nlohmann::json. Every access to the parsed tree
// goes through the typed getters below, which check the JSON type first, so
// that a document of the wrong shape gives an Error naming the field instead
// of a nlohmann type_error. As a backstop, each public parser converts any
// json::exception into an Error.
//
// Content types: an HTTP Content-Type of "application/json",
// "application/octet-stream" or "text/plain" says nothing about the document
// (static file servers and some registries send them), so it counts as "not
// given"; parameters ("; charset=utf-8") are ignored.
#include "oci/manifest.h"

#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "util/error.h"

namespace hull::oci {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// ---- media types ----------------------------------------------------------

// "Application/JSON; charset=utf-8" -> "application/json".
std::string bare_media_type(std::string_view ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && std::isspace(static_cast<unsigned char>(ct.front()))) ct.remove_prefix(1);
  while (!ct.empty() && std::isspace(static_cast<unsigned char>(ct.back()))) ct.remove_suffix(1);
  std::string s(ct);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The content type if it names a document type, else "".
std::string meaningful_content_type(std::string_view ct) {
  std::string s = bare_media_type(ct);
  if (s == "application/json" || s == "application/octet-stream" || s == "text/plain") return {};
  return s;
}

bool is_manifest_type(std::string_view t) { return t == media::kOciManifest || t == media::kDockerManifest; }
bool is_index_type(std::string_view t) { return t == media::kOciIndex || t == media::kDockerList; }
bool is_config_type(std::string_view t) { return t == media::kOciConfig || t == media::kDockerConfig; }

// The compression of a layer media type hull accepts; nullopt for others.
std::optional<Compression> compression_of(std::string_view t) {
  if (t == media::kOciLayer || t == media::kOciLayerNd || t == media::kDockerLayer) return Compression::kNone;
  if (t == media::kOciLayerGzip || t == media::kOciLayerNdGzip || t == media::kDockerLayerGzip ||
      t == media::kDockerLayerForeign)
    return Compression::kGzip;
  if (t == media::kOciLayerZstd || t == media::kOciLayerNdZstd) return Compression::kZstd;
  return std::nullopt;
}

// ---- JSON access ----------------------------------------------------------

// Parses `bytes` as a JSON object; `what` names the document in errors.
json parse_object(std::string_view bytes, std::string_view what, size_t limit) {
  if (bytes.size() > limit) fail("{} too large: {} bytes, the limit is {}", what, bytes.size(), limit);
  json j;
  try {
    j = json::parse(bytes);
  } catch (const json::parse_error& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    std::string msg = e.what();
    if (size_t p = msg.find("] "); p != std::string::npos) msg.erase(0, p + 2);
    fail("malformed {}: {}", what, msg);
  }
  if (!j.is_object()) fail("malformed {}: not a JSON object", what);
  return j;
}

// The member `key`, or nullptr when it is absent or null.
const json* member(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

const json& required(const json& obj, std::string_view key) {
  const json* v = member(obj, key);
  if (!v) fail("{} is missing", key);
  return *v;
}

std::string as_string(const json& v, std::string_view key) {
  if (!v.is_string()) fail("{} must be a string, not {}", key, v.type_name());
  return v.get<std::string>();
}

// An optional string member; "" when absent.
std::string opt_string(const json& obj, std::string_view key) {
  const json* v = member(obj, key);
  return v ? as_string(*v, key) : std::string();
}

std::string req_string(const json& obj, std::string_view key) { return as_string(required(obj, key), key); }

const json& as_object(const json& v, std::string_view key) {
  if (!v.is_object()) fail("{} must be an object, not {}", key, v.type_name());
  return v;
}

const json& as_array(const json& v, std::string_view key) {
  if (!v.is_array()) fail("{} must be an array, not {}", key, v.type_name());
  return v;
}

std::map<std::string, std::string> opt_string_map(const json& obj, std::string_view key) {
  std::map<std::string, std::string> out;
  const json* v = member(obj, key);
  if (!v) return out;
  for (const auto& [k, val] : as_object(*v, key).items()) out[k] = as_string(val, fmt::format("{}[\"{}\"]", key, k));
  return out;
}

std::vector<std::string> opt_string_list(const json& obj, std::string_view key) {
  std::vector<std::string> out;
  const json* v = member(obj, key);
  if (!v) return out;
  const json& arr = as_array(*v, key);
  for (size_t i = 0; i < arr.size(); ++i) out.push_back(as_string(arr[i], fmt::format("{}[{}]", key, i)));
  return out;
}

int64_t req_size(const json& obj) {
  const json& v = required(obj, "size");
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) fail("size {} is too large", u);
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) {
    auto n = v.get<int64_t>();
    if (n < 0) fail("size must not be negative, got {}", n);
    return n;
  }
  fail("size must be a non-negative integer, not {}", v.dump());
}

// Runs fn() for each element of the array `key`, with "key[i]" as context.
template <typename F>
void each(const json& arr, std::string_view key, F&& fn) {
  as_array(arr, key);
  for (size_t i = 0; i < arr.size(); ++i) with_context(fmt::format("{}[{}]", key, i), [&] { fn(arr[i]); });
}

// Converts a stray nlohmann exception into an Error naming `what`.
template <typename F>
auto guarded(std::string_view what, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const json::exception& e) {
    fail("invalid {}: {}", what, e.what());
  }
}

// ---- documents ------------------------------------------------------------

Platform parse_platform(const json& v) {
  const json& o = as_object(v, "platform");
  return with_context("platform", [&] {
    Platform p;
    p.architecture = req_string(o, "architecture");
    p.os = req_string(o, "os");
    p.variant = opt_string(o, "variant");
    p.os_version = opt_string(o, "os.version");
    return p;
  });
}

Descriptor parse_descriptor(const json& v) {
  const json& o = as_object(v, "descriptor");
  Descriptor d;
  d.media_type = req_string(o, "mediaType");
  d.digest = Digest::parse(req_string(o, "digest"));
  d.size = req_size(o);
  d.urls = opt_string_list(o, "urls");
  d.annotations = opt_string_map(o, "annotations");
  if (const json* p = member(o, "platform")) d.platform = parse_platform(*p);
  d.artifact_type = opt_string(o, "artifactType");
  return d;
}

void check_schema_version(const json& doc) {
  const json* v = member(doc, "schemaVersion");
  if (!v) fail("schemaVersion is missing (must be 2)");
  if (!v->is_number_integer() || v->get<int64_t>() != 2) fail("schemaVersion is {}, must be 2", v->dump());
}

// The document's media type after checking it against `content_type`;
// inferred as `fallback` when neither gives one.
std::string effective_media_type(const json& doc, std::string_view content_type, std::string_view fallback) {
  std::string declared = opt_string(doc, "mediaType");
  std::string ct = meaningful_content_type(content_type);
  if (!declared.empty() && !ct.empty() && declared != ct)
    fail("the document says mediaType \"{}\" but was served as \"{}\"", declared, ct);
  if (!declared.empty()) return declared;
  if (!ct.empty()) return ct;
  return std::string(fallback);
}

void check_layer(const Descriptor& d) {
  if (!is_layer_media_type(d.media_type)) fail("unsupported layer media type \"{}\"", d.media_type);
}

void check_config(const Descriptor& d) {
  if (!is_config_type(d.media_type))
    fail("media type \"{}\" is not an image config (an OCI artifact, not a container image?)", d.media_type);
}

Manifest parse_manifest_doc(const json& doc, std::string_view content_type) {
  Manifest m;
  check_schema_version(doc);
  m.media_type = effective_media_type(doc, content_type, media::kOciManifest);
  if (!is_manifest_type(m.media_type)) fail("media type \"{}\" is not an image manifest", m.media_type);
  if (member(doc, "manifests")) fail("has \"manifests\": an index, not an image manifest");
  const json& config = required(doc, "config");
  m.config = with_context("config", [&] { return parse_descriptor(config); });
  with_context("config", [&] { check_config(m.config); });
  each(required(doc, "layers"), "layers", [&](const json& l) {
    m.layers.push_back(parse_descriptor(l));
    check_layer(m.layers.back());
  });
  m.annotations = opt_string_map(doc, "annotations");
  return m;
}

Index parse_index_doc(const json& doc, std::string_view content_type) {
  Index x;
  check_schema_version(doc);
  x.media_type = effective_media_type(doc, content_type, media::kOciIndex);
  if (!is_index_type(x.media_type)) fail("media type \"{}\" is not an index", x.media_type);
  if (member(doc, "config") || member(doc, "layers"))
    fail("has \"config\" or \"layers\": an image manifest, not an index");
  each(required(doc, "manifests"), "manifests", [&](const json& d) { x.manifests.push_back(parse_descriptor(d)); });
  x.annotations = opt_string_map(doc, "annotations");
  return x;
}

// The variant to compare: arm64 without one is v8.
std::string normalized_variant(const Platform& p) {
  if (p.architecture == "arm64" && p.variant.empty()) return "v8";
  return p.variant;
}

bool platform_matches(const Platform& have, const Platform& want) {
  if (have.os != want.os || have.architecture != want.architecture) return false;
  return want.variant.empty() || normalized_variant(have) == normalized_variant(want);
}

HistoryEntry parse_history(const json& v) {
  const json& o = as_object(v, "history entry");
  HistoryEntry h;
  h.created = opt_string(o, "created");
  h.created_by = opt_string(o, "created_by");
  h.comment = opt_string(o, "comment");
  if (const json* e = member(o, "empty_layer")) {
    if (!e->is_boolean()) fail("empty_layer must be a boolean, not {}", e->type_name());
    h.empty_layer = e->get<bool>();
  }
  return h;
}

void parse_rootfs(const json& doc, ImageConfig& c) {
  const json& rootfs = as_object(required(doc, "rootfs"), "rootfs");
  with_context("rootfs", [&] {
    std::string type = req_string(rootfs, "type");
    if (type != "layers") fail("type is \"{}\", must be \"layers\"", type);
    each(required(rootfs, "diff_ids"), "diff_ids",
         [&](const json& d) { c.diff_ids.push_back(Digest::parse(as_string(d, "diff_id"))); });
  });
}

ImageConfig parse_config_doc(const json& doc) {
  ImageConfig c;
  c.architecture = req_string(doc, "architecture");
  c.os = req_string(doc, "os");
  c.variant = opt_string(doc, "variant");
  c.created = opt_string(doc, "created");
  if (const json* cfg = member(doc, "config"))
    c.labels = with_context("config", [&] { return opt_string_map(as_object(*cfg, "config"), "Labels"); });
  parse_rootfs(doc, c);
  if (const json* h = member(doc, "history"))
    each(*h, "history", [&](const json& e) { c.history.push_back(parse_history(e)); });
  return c;
}

ordered_json platform_json(const Platform& p) {
  ordered_json j;
  j["architecture"] = p.architecture;
  j["os"] = p.os;
  if (!p.os_version.empty()) j["os.version"] = p.os_version;
  if (!p.variant.empty()) j["variant"] = p.variant;
  return j;
}

// uname(2) machine names to GOARCH names (and variants).
Platform platform_of_machine(std::string_view machine) {
  static constexpr std::array<std::array<std::string_view, 3>, 12> kMap = {{
      {"x86_64", "amd64", ""},
      {"amd64", "amd64", ""},
      {"aarch64", "arm64", ""},
      {"arm64", "arm64", ""},
      {"armv7l", "arm", "v7"},
      {"armv6l", "arm", "v6"},
      {"i386", "386", ""},
      {"i686", "386", ""},
      {"ppc64le", "ppc64le", ""},
      {"s390x", "s390x", ""},
      {"riscv64", "riscv64", ""},
      {"loongarch64", "loong64", ""},
  }};
  Platform p;
  p.os = "linux";
  p.architecture = std::string(machine);
  for (const auto& [m, arch, variant] : kMap) {
    if (m == machine) {
      p.architecture = std::string(arch);
      p.variant = std::string(variant);
    }
  }
  return p;
}

}  // namespace

// ---- Platform --------------------------------------------------------------

Platform Platform::host() {
  utsname u{};
  if (uname(&u) != 0) fail_errno("uname");
  return platform_of_machine(u.machine);
}

Platform Platform::parse(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    parts.emplace_back(s.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  bool empty_part = std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty(); });
  if (parts.size() < 2 || parts.size() > 3 || empty_part)
    fail("invalid platform \"{}\": expected os/arch[/variant]", s);
  Platform p;
  p.os = parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

std::string Platform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

// ---- Manifest / Index -------------------------------------------------------

Manifest Manifest::parse(std::string_view bytes, std::string_view content_type) {
  json doc = parse_object(bytes, "manifest", kMaxManifestSize);
  return guarded("manifest", [&] {
    return with_context("invalid manifest", [&] { return parse_manifest_doc(doc, content_type); });
  });
}

Index Index::parse(std::string_view bytes, std::string_view content_type) {
  json doc = parse_object(bytes, "manifest", kMaxManifestSize);
  return guarded("index",
                 [&] { return with_context("invalid index", [&] { return parse_index_doc(doc, content_type); }); });
}

const Descriptor& Index::select(const Platform& want) const {
  std::string have;
  for (const Descriptor& d : manifests) {
    if (!d.platform) continue;
    if (platform_matches(*d.platform, want)) return d;
    have += (have.empty() ? "" : ", ") + d.platform->str();
  }
  fail("no image for {} in the index (has: {})", want.str(), have.empty() ? "no platforms" : have);
}

std::string media_type_of(std::string_view bytes, std::string_view content_type) {
  json doc = parse_object(bytes, "manifest", kMaxManifestSize);
  return guarded("manifest", [&]() -> std::string {
    std::string declared = with_context("invalid manifest", [&] { return opt_string(doc, "mediaType"); });
    if (!declared.empty()) return declared;
    if (std::string ct = meaningful_content_type(content_type); !ct.empty()) return ct;
    if (member(doc, "manifests")) return std::string(media::kOciIndex);
    if (member(doc, "config") || member(doc, "layers")) return std::string(media::kOciManifest);
    const json* v = member(doc, "schemaVersion");
    if (v && v->is_number_integer() && v->get<int64_t>() == 1) return std::string(media::kDockerSchema1);
    fail("invalid manifest: cannot tell its media type (no mediaType, config, layers or manifests)");
  });
}

DocKind classify(std::string_view bytes, std::string_view content_type) {
  std::string t = media_type_of(bytes, content_type);
  if (is_manifest_type(t)) return DocKind::kManifest;
  if (is_index_type(t)) return DocKind::kIndex;
  fail("unsupported manifest media type \"{}\"", t);
}

// ---- ImageConfig -----------------------------------------------------------

ImageConfig ImageConfig::parse(std::string_view bytes) {
  json doc = parse_object(bytes, "image config", kMaxConfigSize);
  return guarded("image config",
                 [&] { return with_context("invalid image config", [&] { return parse_config_doc(doc); }); });
}

// ---- layers and descriptors --------------------------------------------------

Compression layer_compression(std::string_view t) {
  std::optional<Compression> c = compression_of(t);
  if (!c) fail("unsupported layer media type \"{}\"", t);
  return *c;
}

bool is_layer_media_type(std::string_view t) { return compression_of(t).has_value(); }

std::string descriptor_json(const Descriptor& d) {
  ordered_json j;
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.str();
  j["size"] = d.size;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (d.platform) j["platform"] = platform_json(*d.platform);
  if (!d.artifact_type.empty()) j["artifactType"] = d.artifact_type;
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace hull::oci
