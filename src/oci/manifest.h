// The image-spec documents hull reads and writes: descriptors, image
// manifests (OCI and Docker schema2), indexes (OCI index and Docker manifest
// list) and image configs. Parsers take bytes, validate, and throw Error
// with a message naming what is wrong; they never do I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oci/digest.h"

namespace hull::oci {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNd = "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNdGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNdZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
// Docker schema1 (signed or not): recognised only to be refused by name.
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
// Uncompressed Docker layers (moby's MediaTypeUncompressedLayer).
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerForeign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
// The Accept header for manifest requests: every type hull can read.
inline constexpr std::string_view kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";
}  // namespace media

// Manifests and indexes over this size are refused (as containers/image does).
inline constexpr size_t kMaxManifestSize = 4u << 20;
// Image configs over this size are refused.
inline constexpr size_t kMaxConfigSize = 8u << 20;

enum class Compression { kNone, kGzip, kZstd };

struct Platform {
  std::string architecture;  // GOARCH names: amd64, arm64, ...
  std::string os;            // linux
  std::string variant;       // v8, ...
  std::string os_version;

  // linux/amd64 on this machine.
  static Platform host();
  // "os/arch[/variant]"; throws on malformed input.
  static Platform parse(std::string_view s);
  std::string str() const;
  friend bool operator==(const Platform&, const Platform&) = default;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;
  std::string artifact_type;
};

// An image manifest, OCI or Docker schema2.
struct Manifest {
  std::string media_type;  // as declared, or inferred from the content type
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;

  // `content_type` is the HTTP Content-Type or the descriptor's media type
  // (may be empty). Refuses unknown layer/config media types, naming them.
  static Manifest parse(std::string_view bytes, std::string_view content_type = {});
};

// An OCI index or Docker manifest list.
struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;

  // `content_type` as for Manifest::parse. Refuses an image manifest (or a
  // document with both "manifests" and "config"/"layers"), naming the cause.
  static Index parse(std::string_view bytes, std::string_view content_type = {});
  // The manifest for `want` (variant only compared when `want` has one);
  // throws "no image for linux/arm64 in the index (has: ...)".
  const Descriptor& select(const Platform& want) const;
};

// What a manifest document is.
enum class DocKind { kManifest, kIndex };
// Throws for a document that is neither, or too large, naming its media type.
DocKind classify(std::string_view bytes, std::string_view content_type = {});
// The media type a document declares, else `content_type`, else inferred.
std::string media_type_of(std::string_view bytes, std::string_view content_type = {});

struct HistoryEntry {
  std::string created;
  std::string created_by;
  std::string comment;
  bool empty_layer = false;
};

struct ImageConfig {
  std::string architecture;
  std::string os;
  std::string variant;
  std::string created;
  std::map<std::string, std::string> labels;
  std::vector<Digest> diff_ids;
  std::vector<HistoryEntry> history;

  static ImageConfig parse(std::string_view bytes);
  Platform platform() const { return {architecture, os, variant, {}}; }
};

// Compression of a layer from its media type; throws for unknown types.
Compression layer_compression(std::string_view media_type);
// True for the layer media types hull accepts.
bool is_layer_media_type(std::string_view media_type);

// JSON text of a descriptor (for index.json and manifest building).
std::string descriptor_json(const Descriptor& d);

}  // namespace hull::oci
