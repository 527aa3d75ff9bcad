// The image store: OCI images kept in a libostree repository.
//
//   layer blob  --import-->  commit  hull/blob/sha256_<hex>     (one per layer)
//   layers      --merge--->  commit  hull/image/<escaped name>  (the image)
//
// The image commit carries the manifest, its digest, the config and the
// image name in its metadata, so that status and upgrade need nothing but
// the repository. Layers already imported are neither fetched nor imported
// again; everything of one pull is written in one ostree transaction, so a
// failed pull leaves no ref behind.
#pragma once

#include <ostree.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "image/source.h"
#include "oci/manifest.h"
#include "signature/verify.h"
#include "util/progress.h"

namespace hull::store {

// What the store knows about one image commit.
struct ImageRecord {
  std::string commit;
  std::string imgref;         // "docker://...", "oci:...": where it came from
  oci::Digest manifest_digest;
  std::string manifest;       // bytes of the image manifest
  std::string config;         // bytes of the image config
  std::string version;        // org.opencontainers.image.version, or empty
  std::string created;        // config "created"
  std::string architecture;
  uint64_t timestamp = 0;     // commit timestamp (seconds)
};

// "hull/image/<escaped transport:name>".
std::string image_ref(const image::ImageName& name);

// The manifest and config of an image without fetching layers (for
// `upgrade --check`): what a pull would fetch.
//
// A missing zstd:chunked layer of a source that serves byte ranges (a
// registry) is pulled file by file when that is cheaper (store/partial.h):
// its table of contents is read here, and the files whose content the
// repository lacks are what a pull fetches.
struct ChunkedLayer;  // store/partial.h
class ContentIndex;   // store/content_index.h
struct LayerFetch {
  oci::Descriptor layer;
  bool partial = false;      // fetched file by file
  uint64_t fetch_bytes = 0;  // what a pull fetches for it: the blob, or the missing files' frames
  uint64_t files = 0;        // zstd:chunked: regular files with content
  uint64_t files_missing = 0;
  std::shared_ptr<const ChunkedLayer> chunked;  // the verified TOC, when read
};
struct Preview {
  image::Doc manifest;
  std::string config;
  std::vector<oci::Descriptor> missing_layers;  // not yet in the repo; each digest once
  uint64_t missing_bytes = 0;                   // their blob sizes
  std::vector<LayerFetch> fetches;              // one per missing layer, in the same order
  uint64_t fetch_bytes = 0;                     // what a pull would fetch in all
  uint64_t image_bytes = 0;                     // every layer's blob size
  std::shared_ptr<ContentIndex> index;          // opened when a plan needed it; a pull reuses it
};
struct PreviewOptions {
  bool partial = true;  // plan file-level pulls where the source serves ranges
  // Called with the resolved image manifest before anything else is
  // fetched; throws to refuse it: the signature policy
  // (signature::verify_image) sees the manifest digest first.
  std::function<void(const image::Doc&)> check;
};
Preview preview_image(OstreeRepo* repo, image::Source& src, const std::optional<oci::Platform>& platform,
                      const PreviewOptions& popts = {});

// "412 files, 3.1 MB of 253 MB" (file-level) or "2 layers, 31 MB of 253 MB".
std::string describe_fetch(const Preview& p);

struct PullResult {
  ImageRecord image;
  int layers_fetched = 0;
  int layers_reused = 0;
  uint64_t bytes_fetched = 0;   // blobs and ranges, as received
  uint64_t image_bytes = 0;     // every layer's blob size
  int layers_partial = 0;       // of layers_fetched, pulled file by file
  uint64_t files_fetched = 0;   // by those partial pulls
  uint64_t files_local = 0;     // found in the repository instead
  // How each zstd:chunked layer was trusted: "diff_id of the rebuilt tar
  // stream", "table of contents (no tar-split)", one line per layer.
  std::vector<std::string> checks;
  signature::Verdict verdict;
};

// "Fetched 2 layers (3.1 MB of 253 MB; 412 files by range, 9,120 found locally), reused 8".
std::string describe_pull(const PullResult& r);

struct PullOptions {
  std::optional<oci::Platform> platform;
  int jobs = 4;         // layers fetched at once
  std::string tmp_dir;  // where fetched blobs wait for import; default /var/tmp
                        // (blobs of an oci: layout are verified and read in place)
  bool partial = true;  // file-level pulls of zstd:chunked layers where they pay
  // The signature policy the manifest must satisfy before anything else of
  // the image is fetched; null: none (tests, benchmarks).
  const signature::Trust* trust = nullptr;
};

// Fetches what is missing of `name`, imports it and writes the image
// commit under image_ref(name). With opts.trust, the manifest is checked
// against the signature policy before its config or any layer is fetched,
// and exactly that manifest (its digest) is what gets stored. Refuses, saying exactly what is missing and
// leaving no ref behind, an image that is not bootable: without the label
// containers.bootc=1 (or ostree.bootable=1; checked before any layer is
// fetched), without a kernel at /usr/lib/modules/KVER/vmlinuz with its
// initramfs.img, or without os-release.
PullResult pull_image(OstreeRepo* repo, image::Source& src, const image::ImageName& name, const PullOptions& opts,
                      Progress& progress);

// The record of `commit` if it is an image commit written by pull_image,
// else nullopt (a commit deployed by another tool).
std::optional<ImageRecord> find_image(OstreeRepo* repo, const std::string& commit);

// Reads the record of an image commit; throws if the commit is not one.
ImageRecord read_image(OstreeRepo* repo, const std::string& commit);

struct PruneResult {
  int refs_removed = 0;
  int objects_removed = 0;
  uint64_t bytes_freed = 0;
};

// Deletes image refs whose commits are not in `keep_commits` and layer
// refs no kept image uses, then prunes unreachable objects.
PruneResult prune(OstreeRepo* repo, const std::set<std::string>& keep_commits);

}  // namespace hull::store
