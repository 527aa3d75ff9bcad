// Where an image is read from: a registry, an OCI layout, an oci-archive.
// Every blob a Source hands out has been verified against its digest.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "image/transport.h"
#include "oci/manifest.h"
#include "registry/client.h"
#include "util/progress.h"

namespace hull::image {

// A manifest or index document: its bytes, media type and digest.
using Doc = registry::FetchedManifest;

class Source {
 public:
  virtual ~Source() = default;
  // "docker://...", "oci:DIR:NAME" for messages.
  virtual std::string describe() const = 0;
  // The top-level document: an image manifest or an index.
  virtual Doc top() = 0;
  // A document that `top()` refers to, fetched by digest and verified.
  virtual Doc child(const oci::Descriptor& d) = 0;
  // A small blob (a config), verified; refuses blobs over `limit`.
  virtual std::string blob_bytes(const oci::Descriptor& d, size_t limit) = 0;
  // Writes blob `d` into the empty file `fd`, verified. Thread-safe.
  virtual void fetch_blob(const oci::Descriptor& d, int fd, ProgressBar* bar) = 0;
  // True if fetch_ranges() works: registry sources.
  virtual bool can_fetch_ranges() const { return false; }
  // Byte ranges of blob `d`, as registry::Client::fetch_ranges() (the
  // bytes are not verified: the caller checks what it builds from them).
  // Thread-safe. Sources without range access throw.
  virtual registry::Client::RangeStats fetch_ranges(const oci::Descriptor& d,
                                                    std::span<const registry::ByteRange> ranges,
                                                    const registry::Client::RangeSink& sink, ProgressBar* bar);
  // A local file that holds blob `d`, if the source has one.
  virtual std::optional<std::string> local_blob(const oci::Descriptor& d) { return std::nullopt; }
  // The registry reference, for registry sources (cross-repository mounts).
  virtual const oci::Reference* registry_ref() const { return nullptr; }
};

// Opens `name` for reading. An oci-archive is unpacked into a temporary
// directory that lives as long as the Source.
std::unique_ptr<Source> open_source(const ImageName& name, const registry::Options& opts);

// The image manifest for `platform` (default: the host's): `top` itself if
// it is a manifest, else the matching entry of the index.
Doc resolve_manifest(Source& src, const Doc& top, const std::optional<oci::Platform>& platform);

}  // namespace hull::image
