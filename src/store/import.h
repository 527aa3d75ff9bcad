// Importing one OCI layer into libostree as its own commit.
//
// The layer is read as a stream (layer/reader.h: safe paths, no devices,
// whiteouts recognised). Each file becomes a content object with its
// owner, mode and xattrs; small files are hashed and written by a pool of
// threads while the reader decompresses the next ones, large files are
// streamed through ostree's content writer. Whiteouts are kept in the
// layer commit as empty `.wh.NAME` / `.wh..wh..opq` markers; store/merge.h
// applies them when the layers are stacked.
//
// Layer commits are keyed by the layer's digest (layer_ref), so a layer
// already imported is never fetched or imported again.
#pragma once

#include <ostree.h>

#include <optional>
#include <string>
#include <vector>

#include "layer/reader.h"
#include "oci/manifest.h"

namespace hull::store {

class ContentIndex;  // store/content_index.h
struct TocFile;      // store/toc_entries.h

struct ImportOptions {
  int jobs = 0;  // writer threads; 0: one per core
  // The config's diff_id for this layer; the uncompressed stream must hash
  // to it.
  std::optional<oci::Digest> diff_id;
  // Receives the sha256 of every file written (may be null).
  ContentIndex* index = nullptr;
  // A zstd:chunked layer's table of contents, already verified against the
  // manifest's checksum: every entry of the tar stream and every file's
  // content must be what it says, in its order (may be null).
  const std::vector<TocFile>* toc = nullptr;
};

struct ImportedLayer {
  std::string commit;
  std::string diff_id;  // "sha256:..." of the uncompressed tar
  uint64_t entries = 0;
  uint64_t content_bytes = 0;
};

// Directories that a layer does not list itself (parents of its entries
// without their own tar entry, and the root without a "./" entry) get this
// marker in the layer commit: 0755 root:root plus an xattr of this name.
// The merge (store/merge.h) keeps what the lower layers said about such a
// directory, as a runtime unpacking the layer onto them does, and makes a
// new one 0755 root:root. The marker never reaches the image's tree.
inline constexpr const char* kImplicitDirXattr = "user.hull.implicit-dir";

// "hull/blob/sha256_<hex>".
std::string layer_ref(const oci::Digest& blob);

// The layer reader's options for a layer of media type d.media_type: its
// compression, and /dev, /proc, /sys, /run, /tmp dropped.
layer::Options import_layer_options(const oci::Descriptor& d);

// Imports the layer blob `d` read from `fd` into `repo`, which must be in a
// transaction (store/ostree.h). Returns the layer commit; the caller sets
// the ref in the same transaction. Errors name the path in the layer.
ImportedLayer import_layer(OstreeRepo* repo, int fd, const oci::Descriptor& d, const ImportOptions& opts);

}  // namespace hull::store
