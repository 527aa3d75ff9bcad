// A zstd:chunked table of contents read as a layer: its entries checked by
// the same rules as a tar stream's (layer::EntryChecker), in layer order,
// and the comparison of a tar stream against it (what a full pull of a
// zstd:chunked layer checks, so that a partial and a full pull of one
// layer give the same commit or a refusal).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "chunked/toc.h"
#include "layer/reader.h"

namespace hull::store {

struct TocFile {
  layer::Entry entry;      // checked and normalized
  std::string sha256_hex;  // kRegular with content: the TOC's digest (hex); else empty
  uint64_t offset = 0;     // kRegular with content: its payload frames in the blob
  uint64_t end_offset = 0;
};

// The entries of `toc` that a layer reader with `lo` would emit, in order
// ("chunk" entries folded into their file). Throws Error naming the entry.
std::vector<TocFile> toc_files(const chunked::Toc& toc, const layer::Options& lo);

// Checks the entries of a tar stream, one after another, against `files`.
class TocMatcher {
 public:
  explicit TocMatcher(const std::vector<TocFile>& files) : files_(files) {}
  // Throws "the table of contents disagrees with the tar stream at PATH: ..."
  void next(const layer::Entry& e);
  // A regular file's content hash, once known (entry index from next()'s order).
  void content(size_t index, const std::string& sha256_hex) const;
  // Throws if the TOC lists entries the stream did not have.
  void finish() const;
  size_t seen() const { return pos_; }

 private:
  const std::vector<TocFile>& files_;
  size_t pos_ = 0;
};

}  // namespace hull::store
