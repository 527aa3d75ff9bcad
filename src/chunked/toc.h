// The zstd:chunked layer format of containers/storage (pkg/chunked): the
// layer annotations, the footer, the table of contents (TOC) and the frames
// around them. Pure parsers over bytes; no I/O.
//
// A zstd:chunked blob is an ordinary zstd-compressed tar stream in which
// compression restarts before and after each regular file's payload, so
// that [offset, end_offset) of a file is a run of standalone zstd frames
// that decompresses to exactly that file. After the tar stream come three
// zstd skippable frames (magic 50 2A 4D 18, u32 LE length): the TOC
// (zstd-compressed JSON), the tar-split (zstd-compressed JSON lines; see
// chunked/tarsplit.h) and the footer. Two versions exist:
//   - current (containers/storage >= 1.44): annotations
//     io.github.containers.zstd-chunked.{manifest-checksum,manifest-position,
//     tarsplit-position}, a 64-byte footer ending in "GNUlInUx", a tar-split,
//     and the TOC's "tarSplitDigest";
//   - legacy (storage 1.43, Debian 12's buildah 1.28): annotations
//     io.containers.zstd-chunked.{manifest-checksum,manifest-position}, a
//     40-byte footer ending in "GnUlInUx", no tar-split.
// Readers trust the annotations (the manifest is digest-verified), never
// the footer; the footer is parsed for `inspect` and tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oci/digest.h"
#include "oci/manifest.h"

namespace hull::chunked {

inline constexpr std::string_view kManifestChecksumKey = "io.github.containers.zstd-chunked.manifest-checksum";
inline constexpr std::string_view kManifestPositionKey = "io.github.containers.zstd-chunked.manifest-position";
inline constexpr std::string_view kTarSplitPositionKey = "io.github.containers.zstd-chunked.tarsplit-position";
inline constexpr std::string_view kLegacyManifestChecksumKey = "io.containers.zstd-chunked.manifest-checksum";
inline constexpr std::string_view kLegacyManifestPositionKey = "io.containers.zstd-chunked.manifest-position";

// Caps on what a reader accepts (containers/storage caps the TOC at 150 MiB).
inline constexpr uint64_t kMaxTocCompressed = 64u << 20;
inline constexpr uint64_t kMaxTocUncompressed = 150u << 20;
inline constexpr uint64_t kMaxTarSplitCompressed = 64u << 20;
inline constexpr uint64_t kMaxTarSplitUncompressed = 512u << 20;

// Where a frame's content sits in the blob: `offset` points past the
// skippable frame's 8-byte header; `length` compressed bytes;
// `uncompressed` bytes once decompressed.
struct Position {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t uncompressed = 0;
  friend bool operator==(const Position&, const Position&) = default;
};

// What a layer descriptor's annotations say.
struct LayerInfo {
  bool legacy = false;               // io.containers.* annotations, no tar-split
  oci::Digest toc_digest;            // sha256 of the compressed TOC bytes
  Position toc;
  std::optional<Position> tar_split; // current format only
};

// The zstd:chunked annotations of `d`, or nullopt if it has none (an
// ordinary layer). Throws Error for malformed or inconsistent values
// (unparsable numbers, a position past the blob's size, manifest type != 1,
// sizes over the caps above, a media type that is not zstd).
std::optional<LayerInfo> layer_info(const oci::Descriptor& d);

// The annotations a writer puts on a layer descriptor (current format).
std::vector<std::pair<std::string, std::string>> annotations(const oci::Digest& toc_digest, const Position& toc,
                                                             const Position& tar_split);

struct Footer {
  bool legacy = false;
  Position toc;
  std::optional<Position> tar_split;  // current format only
};
inline constexpr size_t kFooterSize = 64;
inline constexpr size_t kLegacyFooterSize = 40;
// Parses the footer from the last bytes of a blob (`tail` holds at least
// the footer's bytes: 64 for current, 40 for legacy; its last bytes are the
// footer). Throws for a missing magic or a type other than 1.
Footer parse_footer(std::span<const std::byte> tail);
// The 64-byte current footer for `f`.
std::string footer_bytes(const Footer& f);

// The 8-byte header of a skippable frame of `len` content bytes.
std::string skippable_frame_header(uint32_t len);

// One TOC entry (containers/storage minimal.FileMetadata).
struct TocEntry {
  std::string type;       // "reg", "hardlink", "symlink", "dir", "char", "block", "fifo", "chunk"
  std::string name;       // as in the tar header (may start with "./" or "/")
  std::string link_name;  // hardlink target (a tar name) or symlink target
  uint32_t mode = 0;      // the tar header's mode field as is (permission bits incl. setuid/setgid/sticky,
                          // with the file type bits only if the tar has them), as Go's archive/tar reads it
  uint64_t size = 0;
  uint32_t uid = 0, gid = 0;
  std::optional<int64_t> mtime;  // seconds since the epoch ("modtime", RFC 3339)
  uint32_t mtime_nsec = 0;
  std::optional<int64_t> atime, ctime;  // "accesstime", "changetime" (pax or GNU headers)
  uint32_t atime_nsec = 0, ctime_nsec = 0;
  uint32_t dev_major = 0, dev_minor = 0;
  // name -> value bytes (decoded from base64), sorted by name.
  std::vector<std::pair<std::string, std::string>> xattrs;
  std::string digest;     // "sha256:<hex>" of the whole content; empty for empty files
  uint64_t offset = 0;    // reg: start of the payload frames; chunk: of this chunk
  uint64_t end_offset = 0;// reg: end of the payload frames (all chunks)
  uint64_t chunk_size = 0, chunk_offset = 0;
  std::string chunk_digest, chunk_type;  // chunk_type "" (data) or "zeros"
};

struct Toc {
  int version = 1;
  std::vector<TocEntry> entries;
  std::string tar_split_digest;  // "sha256:..." of the compressed tar-split, or empty
};

// Parses TOC JSON (already decompressed). Refuses, with a message naming
// the entry: version != 1, unknown types, a "reg" with size > 0 and no
// valid sha256 digest or no frames (end_offset <= offset), offsets with
// end_offset < offset, a chunk entry not following a reg/chunk of the same
// name, malformed base64 xattrs, negative or oversized numbers, times that
// are not RFC 3339, a chunkType other than "" or "zeros", more than
// 10,000,000 entries.
Toc parse_toc(std::string_view json);
// TOC JSON as containers/storage writes it (fields omitted when empty/zero).
std::string toc_json(const Toc& toc);

// A time as Go's time.Time.MarshalJSON writes it in UTC (RFC 3339, the
// fraction's trailing zeros dropped): "2024-05-01T10:00:00.5Z". Throws for
// years outside 0-9999.
std::string rfc3339(int64_t sec, uint32_t nsec);
// Parses RFC 3339 ("Z" or a "+hh:mm" offset, any fraction up to ns).
std::pair<int64_t, uint32_t> parse_rfc3339(std::string_view s);

// Decompresses one or more zstd frames in `data`; refuses (Error naming
// `what`) output over `max_out` bytes or a damaged stream.
std::string zstd_decompress(std::span<const std::byte> data, uint64_t max_out, std::string_view what);

}  // namespace hull::chunked
