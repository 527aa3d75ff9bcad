// Byte ranges of a blob: planning the requests of a partial pull and
// reading the answers (RFC 7233). Pure functions over values and bytes;
// registry/client.h sends the requests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hull::registry {

// [offset, offset + length) of a blob.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t end() const { return offset + length; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// Merges `wanted` (any order, may overlap or touch) into sorted,
// non-overlapping ranges, joining two when the gap between them is at most
// `max_gap` bytes (fetching a small gap is cheaper than a part header).
std::vector<ByteRange> merge_ranges(std::vector<ByteRange> wanted, uint64_t max_gap);

// "bytes=0-99,200-299" for ranges[first, first + count).
std::string range_header(std::span<const ByteRange> ranges);

// Splits sorted `ranges` into groups of at most `max_ranges` whose Range
// header stays under `max_header_bytes` (nginx refuses header lines over
// 8 KiB); each group is one request.
std::vector<std::span<const ByteRange>> group_ranges(std::span<const ByteRange> ranges, size_t max_ranges,
                                                     size_t max_header_bytes = 6000);

// "bytes 100-199/5000" -> {100, 100}; nullopt if malformed (also for "*").
std::optional<ByteRange> parse_content_range(std::string_view value);

// A Content-Range with the blob size it declares ("/5000"; unset for "/*").
struct ContentRange {
  ByteRange range;
  std::optional<uint64_t> total;
};
// As parse_content_range(), keeping the total; nullopt also when the range
// ends past the total.
std::optional<ContentRange> parse_content_range_total(std::string_view value);

// The boundary of "multipart/byteranges; boundary=XYZ" (quoted or not, as
// quay writes it with an unquoted ':'); nullopt for other content types.
std::optional<std::string> multipart_boundary(std::string_view content_type);

// A streaming parser of a multipart/byteranges body: feed() it the body in
// pieces as they arrive; it calls `part(range, offset_in_range, bytes)` for
// the data of each part, placed by that part's own Content-Range (servers
// may reorder or merge parts). Throws Error for a malformed body: a part
// without Content-Range, bytes past a part's declared length, a part
// header over 16 KiB, a body that ends inside a part (finish()).
class MultipartParser {
 public:
  using PartSink = std::function<void(const ByteRange& part, uint64_t offset_in_part, std::string_view data)>;
  MultipartParser(std::string boundary, PartSink sink);
  void feed(std::string_view data);
  // Checks that the body ended after the closing boundary.
  void finish();
  // Makes a part that declares a blob size other than `total` an error
  // (an answer about another blob).
  void expect_total(uint64_t total);

 private:
  size_t step();
  size_t boundary_tail(std::string_view s);
  enum class State { kPreamble, kHeaders, kData, kAfterData, kEpilogue };
  std::string boundary_;
  PartSink sink_;
  State state_ = State::kPreamble;
  std::string buf_;
  ByteRange part_;
  bool have_range_ = false;
  uint64_t part_pos_ = 0;
  std::optional<uint64_t> total_;
};

}  // namespace hull::registry
