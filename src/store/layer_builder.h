// Building one layer's commit from its entries, whatever they are read
// from: a tar stream (store/import.h) or a zstd:chunked table of contents
// with files fetched by range or found in the repository (store/partial.h).
// Both paths feed the same builder in layer order, so the same layer gives
// the same commit either way.
//
// Regular files take a slot when they are added, in layer order, and the
// slot is filled later with exactly one of write(), stream() or
// set_object(): in memory content is hashed (sha256, for the content
// index) and written by a pool of threads while the caller goes on; large
// content is streamed on the caller's thread; an existing object is used
// as it is. Whiteouts are kept as empty `.wh.NAME` / `.wh..wh..opq`
// markers for store/merge.h; directories without an entry of their own get
// the implicit-directory marker (store/import.h).
#pragma once

#include <ostree.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "layer/reader.h"
#include "oci/manifest.h"
#include "store/content_index.h"

namespace hull::store {

class LayerBuilder {
 public:
  // `repo` must be in a transaction. `index` (may be null) receives the
  // sha256 of every file object written.
  LayerBuilder(OstreeRepo* repo, int threads, ContentIndex* index);
  ~LayerBuilder();
  LayerBuilder(const LayerBuilder&) = delete;
  LayerBuilder& operator=(const LayerBuilder&) = delete;

  // Records a directory, symlink, hardlink, whiteout or opaque entry.
  void add(const layer::Entry& e);
  // Records a regular file; returns its slot.
  size_t add_file(const layer::Entry& e);
  // Fills `slot` with `data` (e.size bytes), hashed and written by the
  // pool. With `want_sha256` (hex), a content whose sha256 differs is
  // refused before anything is written. May block while the pool is full.
  void write(size_t slot, const layer::Entry& e, std::vector<std::byte> data, std::string want_sha256 = {});
  // Fills `slot` with content streamed from `next` (empty span at the end;
  // exactly e.size bytes) on this thread; returns its sha256 (hex).
  std::string stream(size_t slot, const layer::Entry& e, const std::function<std::span<const std::byte>()>& next);
  // Fills `slot` with an existing object of exactly e's metadata.
  void set_object(size_t slot, const std::string& checksum, const std::string& sha256_hex);

  // Waits for every pool write; rethrows the first error.
  void finish_files();
  // True once a pool write failed (the caller may stop early).
  bool failed() const;
  // After finish_files(): the object checksum and content sha256 of a slot.
  const std::string& checksum(size_t slot) const;
  const std::string& sha256(size_t slot) const;

  // After finish_files(): writes the tree and the layer commit (metadata
  // hull.layer-digest, hull.diff-id; timestamp 0) and returns the commit.
  std::string commit(const oci::Descriptor& d, const std::string& diff_id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hull::store
