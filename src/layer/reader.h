// Reading an OCI layer (a tar stream, plain, gzip or zstd) as a stream of
// checked entries, for the store to import. Nothing is written anywhere:
// the reader hands each entry to a visitor, file contents included, and
// never holds more of a file than one block in memory.
//
// What the visitor sees (OCI image-spec layer.md):
//  - Paths normalized by layer/path.h: relative, no "./", no "..".
//  - `DIR/.wh.NAME` becomes a kWhiteout entry for DIR/NAME and
//    `DIR/.wh..wh..opq` a kOpaque entry for DIR; the marker files
//    themselves are not emitted. Other `.wh..wh.*` names are AUFS
//    bookkeeping and are dropped (as containers/storage does). A `.wh.`
//    name anywhere but the last component is refused.
//  - Duplicate paths are passed through in order; the later one wins (tar
//    semantics) and applying that is the consumer's job.
//  - Owners are the numeric uid/gid; user and group names are ignored (OCI).
//
// What is refused, with Error `"PATH": why` (the caller adds the layer):
//  - bad names (layer/path.h), a non-directory at the layer root;
//  - character and block devices, FIFOs, sockets, unknown types;
//  - hardlinks whose target was not seen earlier in this layer as a
//    non-directory (so it also cannot be outside the tree), or to itself;
//  - symlinks with an empty target or one over kMaxPathBytes, and symlinks
//    whose target climbs above the root (link_escapes), unless
//    Options::allow_escaping_symlinks. Targets are otherwise data: absolute
//    ones are normal in Debian ("lib64/ld.so -> /lib/...",
//    "/etc/alternatives/x") and accepted, as is "usr/bin/sh -> dash";
//  - uid/gid outside 0..2^32-2; more than Options::max_entries entries;
//  - anything libarchive reports, warnings included (a damaged header, a
//    malformed pax record, a truncated or corrupt gzip/zstd stream): the
//    whole stream is read to its end, so truncation is always an error;
//  - a declared compression that is not what the stream holds.
// Unknown tar type flags are read as regular files, as POSIX requires and
// libarchive does; only types libarchive cannot map are refused.
// libarchive bounds pax and GNU long-name headers at 1 MiB each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "layer/path.h"
#include "oci/manifest.h"

struct archive;

namespace hull::layer {

enum class EntryType { kRegular, kDirectory, kSymlink, kHardlink, kWhiteout, kOpaque };

// "regular", "directory", ... for messages.
const char* type_name(EntryType t);

struct Entry {
  // Normalized; empty for the layer root. For kWhiteout the path removed,
  // for kOpaque the directory whose lower contents are hidden.
  std::string path;
  EntryType type = EntryType::kRegular;
  uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime = 0;  // seconds since the epoch
  uint32_t mtime_nsec = 0;
  uint64_t size = 0;  // content bytes of a kRegular entry, else 0
  // kSymlink: the target as written (text, may be absolute).
  // kHardlink: the normalized path of an earlier entry of this layer.
  std::string link_target;
  // Extended attributes (pax SCHILY.xattr.* / LIBARCHIVE.xattr.*), sorted
  // by name; values are bytes.
  std::vector<std::pair<std::string, std::string>> xattrs;
};

// The content of the kRegular entry being visited; empty for other types.
// Valid only during the visit. Whatever the visitor does not read is
// skipped (and still checked) by the reader.
class Content {
 public:
  // The next piece of the content, valid until the next call; empty at the
  // end. Zero-copy from libarchive's buffer (holes of sparse files come as
  // zeros). Throws Error naming the path if the stream is damaged.
  std::span<const std::byte> next();
  // Copies up to `n` bytes into `buf`; 0 at the end.
  size_t read(void* buf, size_t n);
  // Bytes not yet returned.
  uint64_t remaining() const { return size_ - pos_ + copy_left_.size(); }

 private:
  friend class LayerReader;
  Content() = default;
  void reset(archive* a, const std::string* path, uint64_t size);
  std::span<const std::byte> next_piece();
  archive* a_ = nullptr;
  const std::string* path_ = nullptr;
  uint64_t size_ = 0;
  uint64_t pos_ = 0;
  // Hole bookkeeping for sparse entries: where libarchive's next block
  // starts, and that block, kept until the zeros before it are returned.
  uint64_t block_off_ = 0;
  std::span<const std::byte> pending_;
  std::span<const std::byte> copy_left_;  // unread rest of a piece for read()
  bool eof_ = false;
};

// Called once per entry, in stream order. May throw; the error propagates
// unchanged out of read_layer.
using Visitor = std::function<void(const Entry&, Content&)>;

struct Options {
  // The compression the layer's media type declares (oci::layer_compression);
  // the stream must match it. nullopt: detect plain, gzip or zstd.
  std::optional<oci::Compression> compression;
  // Entries under these top-level directories ("dev", "proc", ...) and the
  // directories themselves are dropped after name checks and before type
  // checks: not emitted, not valid hardlink targets. Whiteouts of such paths
  // are dropped too. For the store's "/run, /tmp, /proc, /sys, /dev are not
  // part of the image" rule, so that a rootfs tar with /dev/null imports.
  std::vector<std::string> drop_top_level;
  uint64_t max_entries = 10'000'000;
  size_t max_name = kMaxNameBytes;
  size_t max_path = kMaxPathBytes;
  bool allow_escaping_symlinks = false;
  // Compute the sha256 of the uncompressed stream (the config's diff_id).
  bool compute_diff_id = true;
};

struct Summary {
  uint64_t entries = 0;        // emitted to the visitor
  uint64_t dropped = 0;        // by drop_top_level or as AUFS bookkeeping
  uint64_t content_bytes = 0;  // sum of kRegular sizes
  uint64_t tar_bytes = 0;      // size of the uncompressed stream
  oci::Compression compression = oci::Compression::kNone;  // as found
  std::string diff_id;  // "sha256:<hex>" if Options::compute_diff_id
};

// What one tar header says, before any check: the input of EntryChecker.
// read_layer fills it from libarchive; the store fills it from a
// zstd:chunked table of contents, so that a layer read either way obeys
// the same rules.
struct RawEntry {
  enum class Type { kRegular, kDirectory, kSymlink, kHardlink, kChar, kBlock, kFifo, kSocket, kUnknown };
  std::string_view name;  // the tar name as written
  Type type = Type::kRegular;
  unsigned unknown_type = 0;  // kUnknown: the file type bits, for the message
  std::string_view link;      // kSymlink: the target; kHardlink: the target's tar name
  uint32_t perm = 0;          // 07777 bits
  int64_t uid = 0, gid = 0;
  int64_t mtime = 0;
  uint32_t mtime_nsec = 0;
  int64_t size = 0;           // kRegular
  std::vector<std::pair<std::string, std::string>> xattrs;  // any order; a name twice: the last wins
};

// The rules of the header comment above, applied to one header after
// another of one layer (hardlink targets must be earlier entries).
class EntryChecker {
 public:
  explicit EntryChecker(const Options& opts);
  // Fills `out` from `raw`; false if the entry is dropped (AUFS
  // bookkeeping, Options::drop_top_level). Throws Error `"PATH": why`.
  bool check(const RawEntry& raw, Entry& out);
  // The normalized path of the last header checked, for messages.
  const std::string& last_path() const { return last_path_; }

 private:
  bool check_name(const RawEntry& raw, Entry& entry);
  bool whiteout(std::string_view base, Entry& entry);
  bool dropped(std::string_view path) const;
  void check_type(const RawEntry& raw, Entry& entry);
  void check_hardlink(std::string_view raw_target, Entry& entry);
  void check_symlink(std::string_view target, Entry& entry);
  void check_xattrs(const RawEntry& raw, Entry& entry);

  const Options& opts_;
  std::string last_path_;
  // Keys of the non-directory paths seen so far, for hardlink targets. A
  // 64-bit hash rather than the path keeps memory small on big layers; a
  // collision could only let through a hardlink whose target the store
  // then fails to find, never one outside the tree (".." is refused first).
  std::unordered_set<uint64_t> seen_;
};

// Reads the layer from `fd`'s current offset to its end (the fd is not
// closed), calling `visit` for each entry. Throws Error on anything refused
// (see above) or on I/O errors; entries before the bad one have already
// been visited, so the consumer must discard its work on error.
Summary read_layer(int fd, const Options& opts, const Visitor& visit);
// The same for the file at `path`.
Summary read_layer_file(const std::string& path, const Options& opts, const Visitor& visit);

}  // namespace hull::layer
