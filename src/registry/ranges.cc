// Planning range requests and reading their answers. The multipart parser
// trusts each part's Content-Range for the length of its data (it never
// searches the data for the boundary, which may occur in a blob by chance)
// and checks that the delimiter follows exactly where that length ends.
#include "registry/ranges.h"

#include <algorithm>
#include <limits>

#include "util/error.h"

namespace hull::registry {
namespace {

constexpr size_t kMaxPartHeader = 16u << 10;  // a part's header block, and the preamble
constexpr size_t kMaxPadding = 256;           // transport padding after a boundary

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A decimal number that fills `s` and fits 64 bits.
std::optional<uint64_t> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

size_t decimal_digits(uint64_t v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    n++;
  }
  return n;
}

// Bytes "A-B" takes in a Range header.
size_t spec_size(const ByteRange& r) { return decimal_digits(r.offset) + 1 + decimal_digits(r.end() - 1); }

}  // namespace

std::vector<ByteRange> merge_ranges(std::vector<ByteRange> wanted, uint64_t max_gap) {
  std::erase_if(wanted, [](const ByteRange& r) { return r.length == 0; });
  std::sort(wanted.begin(), wanted.end(), [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  std::vector<ByteRange> out;
  for (const ByteRange& r : wanted) {
    if (!out.empty()) {
      ByteRange& last = out.back();
      uint64_t end = last.end();
      // r.offset >= last.offset, so r.offset - end is the gap when positive.
      if (r.offset <= end || r.offset - end <= max_gap) {
        last.length = std::max(end, r.end()) - last.offset;
        continue;
      }
    }
    out.push_back(r);
  }
  return out;
}

std::string range_header(std::span<const ByteRange> ranges) {
  std::string out = "bytes=";
  for (size_t i = 0; i < ranges.size(); i++) {
    if (i > 0) out += ',';
    out += fmt::format("{}-{}", ranges[i].offset, ranges[i].end() - 1);
  }
  return out;
}

std::vector<std::span<const ByteRange>> group_ranges(std::span<const ByteRange> ranges, size_t max_ranges,
                                                     size_t max_header_bytes) {
  // "Range: bytes=" then "A-B" joined by ','.
  constexpr size_t kPrefix = std::string_view("Range: bytes=").size();
  max_ranges = std::max<size_t>(max_ranges, 1);
  std::vector<std::span<const ByteRange>> groups;
  size_t first = 0, header = kPrefix;
  for (size_t i = 0; i < ranges.size(); i++) {
    size_t add = spec_size(ranges[i]) + (i > first ? 1 : 0);
    bool full = i - first >= max_ranges || (i > first && header + add >= max_header_bytes);
    if (full) {
      groups.push_back(ranges.subspan(first, i - first));
      first = i;
      header = kPrefix;
      add = spec_size(ranges[i]);
    }
    header += add;
  }
  if (first < ranges.size()) groups.push_back(ranges.subspan(first));
  return groups;
}

std::optional<ContentRange> parse_content_range_total(std::string_view value) {
  value = trim(value);
  if (value.size() < 6 || !iequals(value.substr(0, 6), "bytes ")) return std::nullopt;
  value = trim(value.substr(6));
  size_t dash = value.find('-'), slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) return std::nullopt;
  auto first = parse_number(trim(value.substr(0, dash)));
  auto last = parse_number(trim(value.substr(dash + 1, slash - dash - 1)));
  if (!first || !last || *last < *first || *last == std::numeric_limits<uint64_t>::max()) return std::nullopt;
  ContentRange cr;
  cr.range = {*first, *last - *first + 1};
  std::string_view total = trim(value.substr(slash + 1));
  if (total != "*") {
    auto t = parse_number(total);
    if (!t || *last >= *t) return std::nullopt;
    cr.total = *t;
  }
  return cr;
}

std::optional<ByteRange> parse_content_range(std::string_view value) {
  auto cr = parse_content_range_total(value);
  if (!cr) return std::nullopt;
  return cr->range;
}

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  size_t semi = content_type.find(';');
  if (!iequals(trim(content_type.substr(0, semi)), "multipart/byteranges")) return std::nullopt;
  std::string_view rest = semi == std::string_view::npos ? std::string_view() : content_type.substr(semi + 1);
  while (!rest.empty()) {
    rest = trim(rest);
    size_t eq = rest.find('=');
    size_t end = rest.find(';');
    if (eq == std::string_view::npos || (end != std::string_view::npos && end < eq)) {
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
      continue;
    }
    std::string_view name = trim(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
    rest = trim(rest);
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      // quoted-string, with backslash escapes
      size_t i = 1;
      bool closed = false;
      for (; i < rest.size(); i++) {
        if (rest[i] == '\\' && i + 1 < rest.size()) {
          value += rest[++i];
        } else if (rest[i] == '"') {
          closed = true;
          i++;
          break;
        } else {
          value += rest[i];
        }
      }
      if (!closed) return std::nullopt;
      rest.remove_prefix(i);
      size_t next = rest.find(';');
      rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
    } else {
      // A token, or what quay sends: anything up to ';' (':' included).
      size_t stop = rest.find(';');
      value = std::string(trim(rest.substr(0, stop)));
      rest = stop == std::string_view::npos ? std::string_view() : rest.substr(stop + 1);
    }
    if (iequals(name, "boundary")) {
      if (value.empty() || value.size() > 200) return std::nullopt;
      return value;
    }
  }
  return std::nullopt;
}

MultipartParser::MultipartParser(std::string boundary, PartSink sink)
    : boundary_("--" + std::move(boundary)), sink_(std::move(sink)) {}

void MultipartParser::expect_total(uint64_t total) { total_ = total; }

// After "--boundary": "--" closes the body; else optional padding and CRLF
// open a part's headers. Returns the bytes of that tail in `s`, 0 if more
// are needed.
size_t MultipartParser::boundary_tail(std::string_view s) {
  if (s.empty()) return 0;
  if (s[0] == '-') {
    if (s.size() < 2) return 0;
    if (s[1] != '-') fail("malformed multipart body: bad characters after a boundary");
    state_ = State::kEpilogue;
    return 2;
  }
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++;
  if (i > kMaxPadding) fail("malformed multipart body: padding after a boundary is too long");
  if (i == s.size() || (s[i] == '\r' && i + 1 == s.size())) return 0;
  if (s[i] != '\r' || s[i + 1] != '\n') fail("malformed multipart body: a boundary line does not end in CRLF");
  state_ = State::kHeaders;
  return i + 2;
}

// Consumes what it can of buf_ in a buffered state; returns the bytes used
// (0: needs more input).
size_t MultipartParser::step() {
  std::string_view b = buf_;
  switch (state_) {
    case State::kPreamble: {
      size_t at = 0, len = boundary_.size();
      if (b.size() < boundary_.size() && std::string_view(boundary_).starts_with(b)) return 0;
      if (!b.starts_with(boundary_)) {
        size_t p = b.find("\r\n" + boundary_);
        if (p == std::string_view::npos) {
          if (b.size() > kMaxPartHeader) fail("malformed multipart body: no boundary in its first 16 KiB");
          return 0;
        }
        at = p;
        len = boundary_.size() + 2;
      }
      size_t tail = boundary_tail(b.substr(at + len));
      if (tail == 0) return 0;
      if (state_ == State::kEpilogue) fail("malformed multipart body: it has no parts");
      return at + len + tail;
    }
    case State::kAfterData: {
      std::string want = "\r\n" + boundary_;
      size_t n = std::min(want.size(), b.size());
      if (b.substr(0, n) != std::string_view(want).substr(0, n))
        fail("malformed multipart body: part bytes {}-{} is not followed by a boundary (data past its declared "
             "length?)", part_.offset, part_.end() - 1);
      if (b.size() < want.size()) return 0;
      size_t tail = boundary_tail(b.substr(want.size()));
      return tail == 0 ? 0 : want.size() + tail;
    }
    case State::kHeaders: {
      size_t end;
      size_t used;
      if (b.starts_with("\r\n")) {
        end = 0;
        used = 2;
      } else {
        size_t p = b.find("\r\n\r\n");
        if (p == std::string_view::npos) {
          if (b.size() > kMaxPartHeader) fail("malformed multipart body: a part header is over 16 KiB");
          return 0;
        }
        if (p > kMaxPartHeader) fail("malformed multipart body: a part header is over 16 KiB");
        end = p;
        used = p + 4;
      }
      std::string_view headers = b.substr(0, end);
      std::optional<ContentRange> range;
      while (!headers.empty()) {
        size_t eol = headers.find("\r\n");
        std::string_view line = headers.substr(0, eol);
        headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) fail("malformed multipart body: a part header line without ':'");
        if (!iequals(trim(line.substr(0, colon)), "content-range")) continue;
        std::string_view v = trim(line.substr(colon + 1));
        range = parse_content_range_total(v);
        if (!range) fail("malformed multipart body: bad Content-Range \"{}\"", v.substr(0, 100));
      }
      if (!range) fail("malformed multipart body: a part without Content-Range");
      if (total_ && range->total && *range->total != *total_)
        fail("a part of the answer is of a {}-byte blob, not of this one ({} bytes)", *range->total, *total_);
      part_ = range->range;
      have_range_ = true;
      part_pos_ = 0;
      state_ = State::kData;
      return used;
    }
    case State::kData:
    case State::kEpilogue:
      break;
  }
  return 0;
}

void MultipartParser::feed(std::string_view data) {
  std::string hold;  // input left over after a buffered state ended
  while (!data.empty()) {
    if (state_ == State::kEpilogue) return;  // ignored, as RFC 2046 says
    if (state_ == State::kData) {
      uint64_t n = std::min<uint64_t>(part_.length - part_pos_, data.size());
      std::string_view piece = data.substr(0, static_cast<size_t>(n));
      data.remove_prefix(piece.size());
      uint64_t at = part_pos_;
      part_pos_ += n;
      if (part_pos_ == part_.length) state_ = State::kAfterData;
      sink_(part_, at, piece);
      continue;
    }
    buf_.append(data);
    data = {};
    for (;;) {
      State before = state_;
      size_t used = step();
      if (used == 0) break;
      buf_.erase(0, used);
      if (state_ == State::kData || state_ == State::kEpilogue) {
        hold.swap(buf_);
        buf_.clear();
        data = hold;
        break;
      }
      if (state_ == before && buf_.empty()) break;
    }
  }
}

void MultipartParser::finish() {
  switch (state_) {
    case State::kEpilogue:
      return;
    case State::kData:
      fail("the multipart body ended after {} of the {} bytes of part bytes {}-{}", part_pos_, part_.length,
           part_.offset, part_.end() - 1);
    case State::kPreamble:
      fail("the multipart body ended before its first boundary");
    default:
      fail("the multipart body ended before its closing boundary");
  }
}

}  // namespace hull::registry
