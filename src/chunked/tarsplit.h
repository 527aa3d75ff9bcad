// tar-split (vbatts/tar-split tar/storage): the JSON-lines record of a tar
// stream that lets a reader rebuild the stream byte for byte from the
// files' contents. containers/storage puts it, zstd-compressed, in a
// zstd:chunked layer; containers/image >= 5.34 requires the rebuilt stream
// to hash to the config's diff_id.
//
// One JSON object per line:
//   {"type":1,"name":"usr/bin/x","size":123,"payload":"<base64 crc64>","position":N}
//       a file's content (type 1 = FileType; payload: CRC-64/ISO of the
//       content, 8 bytes big-endian as Go's hash.Sum writes it);
//   {"type":2,"payload":"<base64 raw bytes>","position":N}
//       raw bytes of the stream (headers, padding, the trailer; type 2 =
//       SegmentType).
// `position` counts entries from 0. Names may be given as "name_raw"
// (base64) when they are not valid UTF-8.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace hull::chunked {

struct TarSplitEntry {
  enum Type { kFile = 1, kSegment = 2 };
  Type type = kSegment;
  std::string name;     // kFile: the tar name of the entry
  uint64_t size = 0;    // kFile: content bytes
  std::string payload;  // kSegment: raw stream bytes; kFile: the 8 CRC bytes (may be empty for size 0)
};

// Parses tar-split JSON lines (already decompressed). Refuses positions out
// of order, unknown types, bad base64, more than 20,000,000 entries.
std::vector<TarSplitEntry> parse_tar_split(std::string_view jsonl);

// Appends one entry as a JSON line to `out` (positions are counted by the writer).
class TarSplitWriter {
 public:
  void segment(std::string_view raw);  // merges nothing: one line per call
  void file(std::string_view name, uint64_t size, uint64_t crc64);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
  int64_t position_ = 0;
};

// CRC-64/ISO as Go's hash/crc64 with crc64.ISO computes it (tar-split's
// checksum). Incremental: crc = crc64_iso_update(crc, data); start with 0.
uint64_t crc64_iso_update(uint64_t crc, std::string_view data);

// Reads up to `n` bytes of one file's content into `buf`; 0 at its end.
using ContentReader = std::function<size_t(void* buf, size_t n)>;

// Rebuilds the tar stream that `entries` record: segments as they are, and
// for each kFile entry with size > 0 the bytes read from open(entry), which
// must be exactly `size` bytes whose CRC-64/ISO is the entry's payload
// (Error naming the file otherwise). The stream goes to `out` in pieces, in
// order. Files of size 0 are not opened.
void rebuild_tar(const std::vector<TarSplitEntry>& entries,
                 const std::function<ContentReader(const TarSplitEntry&)>& open,
                 const std::function<void(std::string_view)>& out);

}  // namespace hull::chunked
