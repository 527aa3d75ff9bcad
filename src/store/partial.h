// Partial pulls of zstd:chunked layers: fetch the table of contents, find
// each file's content in the repository through the content index, fetch
// only the missing files' byte ranges, verify each against its sha256
// before its object is written, and build the layer's commit from the
// verified table of contents.
//
// Trust: the manifest is digest-verified, its layer annotations give the
// TOC's sha256, the TOC gives each file's sha256. With a tar-split (the
// current format), the tar stream is rebuilt from the tar-split and the
// local contents and must hash to the config's diff_id, as containers/image
// >= 5.34 requires; without one (the legacy format of containers/storage
// 1.43, Debian 12's buildah), the TOC is the authority, and a full pull of
// such a layer checks every tar entry against it (store/toc_entries.h), so
// a partial and a full pull give the same commit.
#pragma once

#include <ostree.h>

#include <optional>
#include <string>
#include <vector>

#include "chunked/tarsplit.h"
#include "chunked/toc.h"
#include "image/source.h"
#include "store/content_index.h"
#include "store/import.h"
#include "store/toc_entries.h"
#include "util/progress.h"

namespace hull::store {

// The TOC (and tar-split) of a zstd:chunked layer, verified against the
// manifest's annotation. Read by range from a registry, or from the local
// file `blob_path` (a fetched or oci: blob) when given.
struct ChunkedLayer {
  chunked::LayerInfo info;
  chunked::Toc toc;
  std::vector<TocFile> files;  // checked, in layer order
  std::optional<std::vector<chunked::TarSplitEntry>> tar_split;
  uint64_t metadata_bytes = 0;  // compressed TOC + tar-split bytes read
};
ChunkedLayer read_chunked_layer(image::Source& src, const oci::Descriptor& d, const chunked::LayerInfo& info,
                                const std::string& blob_path = {});

// What a partial pull of one layer would fetch.
struct PartialPlan {
  uint64_t files = 0;           // regular files with content
  uint64_t files_missing = 0;   // of which the repository lacks the content
  uint64_t content_bytes = 0;   // their uncompressed sizes
  uint64_t content_missing = 0;
  uint64_t fetch_bytes = 0;     // compressed bytes of the missing files' frames
  bool whole_blob = false;      // fetching the whole blob is cheaper (most of it is missing)
  bool refetch_needed = false;  // entries outside the tree hold content a tar-split rebuild needs
};
PartialPlan plan_partial(const ChunkedLayer& layer, const oci::Descriptor& d, const ContentIndex& index);

struct PartialResult {
  ImportedLayer layer;
  uint64_t bytes_fetched = 0;   // on the wire, payload ranges only
  int requests = 0;
  uint64_t files_fetched = 0;
  uint64_t files_reused = 0;    // objects used as they are
  uint64_t files_copied = 0;    // content found, rewritten with the layer's owner/mode/xattrs
  bool diff_id_checked = false; // the tar stream was rebuilt from the tar-split and matched
};

// Imports layer `d` by a partial pull (plan.whole_blob must be false).
// `repo` must be in a transaction. Refuses, with nothing kept (the
// caller's transaction aborts), a file whose bytes do not match its
// sha256, a TOC that disagrees with its tar-split, a rebuilt stream that
// does not hash to `diff_id`.
PartialResult import_partial(OstreeRepo* repo, image::Source& src, const oci::Descriptor& d, const oci::Digest& diff_id,
                             const ChunkedLayer& layer, ContentIndex& index, ProgressBar* bar, int jobs = 0);

}  // namespace hull::store
