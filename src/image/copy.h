// Copying an image between any two transports, as `skopeo copy` does:
// blobs the destination lacks are fetched in parallel and verified, then
// the manifest(s), then the name. Manifests are copied byte for byte, so
// the image keeps its digest -- unless the layers are recompressed
// (CopyOptions::compress): then each layer is fetched, verified,
// decompressed and compressed again (chunked/compress.h), and the image
// gets a new OCI manifest naming the new layer blobs; the config and its
// diff_ids do not change.
#pragma once

#include <functional>
#include <optional>

#include "chunked/compress.h"
#include "image/dest.h"
#include "image/source.h"

namespace hull::image {

struct CopyOptions {
  bool all = false;                       // every image of an index, and the index
  std::optional<oci::Platform> platform;  // else the host's
  int jobs = 6;                           // blobs in flight at once
  // Recompress every layer to this format (not with `all`).
  std::optional<chunked::Format> compress;
  int level = 3;                          // for `compress`, as CompressOptions::level
  // Called with the manifest to copy (with `all`, the top-level index)
  // before anything else is read; throws to refuse it (the signature
  // policy: signature::verify_image).
  std::function<void(const Doc&)> check;
};

struct CopyResult {
  oci::Digest digest;       // of the top manifest written
  std::string media_type;
  int blobs_copied = 0;
  int blobs_present = 0;
  int layers_recompressed = 0;
  uint64_t bytes_copied = 0;
};

CopyResult copy_image(Source& src, Dest& dst, const CopyOptions& opts, Progress& progress);

}  // namespace hull::image
