#include "chunked/tarscan.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"

namespace hull::chunked {
namespace {

constexpr size_t kBlock = 512;
constexpr size_t kBufSize = 1u << 20;
// Go's archive/tar refuses long names and pax headers over 1 MiB.
constexpr int64_t kMaxSpecial = 1 << 20;

std::string_view field(std::string_view blk, size_t off, size_t len) { return blk.substr(off, len); }

// A NUL-terminated string field.
std::string str_field(std::string_view f) {
  size_t nul = f.find('\0');
  return std::string(f.substr(0, nul));
}

// Octal (spaces and NULs trimmed) or base-256 (high bit set), as Go's parseNumeric.
int64_t num_field(std::string_view f, std::string_view what) {
  if (!f.empty() && (static_cast<unsigned char>(f[0]) & 0x80)) {
    // Negative numbers rely on -a-1 == ~a, as Go's parseNumeric.
    unsigned char inv = (static_cast<unsigned char>(f[0]) & 0x40) ? 0xff : 0;
    uint64_t x = 0;
    for (size_t i = 0; i < f.size(); i++) {
      unsigned char c = static_cast<unsigned char>(f[i]) ^ inv;
      if (i == 0) c &= 0x7f;
      if ((x >> 56) > 0) fail("tar header: {} does not fit in 64 bits", what);
      x = (x << 8) | c;
    }
    if ((x >> 63) > 0) fail("tar header: {} does not fit in 64 bits", what);
    return inv ? ~static_cast<int64_t>(x) : static_cast<int64_t>(x);
  }
  size_t b = 0, e = f.size();
  while (b < e && (f[b] == ' ' || f[b] == '\0')) b++;
  while (e > b && (f[e - 1] == ' ' || f[e - 1] == '\0')) e--;
  int64_t v = 0;
  for (size_t i = b; i < e; i++) {
    if (f[i] < '0' || f[i] > '7') fail("tar header: {} is not an octal number", what);
    if (v > (INT64_MAX >> 3)) fail("tar header: {} does not fit in 64 bits", what);
    v = v * 8 + (f[i] - '0');
  }
  return v;
}

bool checksum_ok(std::string_view blk) {
  int64_t want;
  try {
    want = num_field(field(blk, 148, 8), "checksum");
  } catch (const Error&) {
    return false;
  }
  uint64_t u = 0;
  int64_t s = 0;
  for (size_t i = 0; i < kBlock; i++) {
    unsigned char c = (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(blk[i]);
    u += c;
    s += static_cast<signed char>(c);
  }
  return want == static_cast<int64_t>(u) || want == s;
}

int64_t parse_dec(std::string_view s, std::string_view what) {
  if (s.empty() || s.size() > 19) fail("tar pax header: bad {} \"{}\"", what, s);
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') fail("tar pax header: bad {} \"{}\"", what, s);
    v = v * 10 + (c - '0');
  }
  return v;
}

// "sec[.frac]" as Go's parsePAXTime (may be negative).
TarTime parse_pax_time(std::string_view s, std::string_view what) {
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  size_t dot = s.find('.');
  std::string_view ss = s.substr(0, dot), fs = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  int64_t sec = parse_dec(ss, what);
  uint32_t nsec = 0;
  for (size_t i = 0; i < 9; i++) {
    char c = i < fs.size() ? fs[i] : '0';
    if (c < '0' || c > '9') fail("tar pax header: bad {} \"{}\"", what, s);
    nsec = nsec * 10 + (c - '0');
  }
  for (size_t i = 9; i < fs.size(); i++)
    if (fs[i] < '0' || fs[i] > '9') fail("tar pax header: bad {} \"{}\"", what, s);
  if (neg) {
    sec = -sec;
    if (nsec) {
      sec -= 1;
      nsec = 1000000000 - nsec;
    }
  }
  return {sec, nsec};
}

using PaxRecords = std::vector<std::pair<std::string, std::string>>;

// "%d %s=%s\n" records.
PaxRecords parse_pax(std::string_view data) {
  PaxRecords out;
  while (!data.empty()) {
    size_t sp = data.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp > 19) fail("tar pax header: malformed record");
    int64_t len = parse_dec(data.substr(0, sp), "record length");
    if (len <= static_cast<int64_t>(sp) + 1 || static_cast<uint64_t>(len) > data.size() || data[len - 1] != '\n')
      fail("tar pax header: malformed record");
    std::string_view rec = data.substr(sp + 1, len - sp - 2);
    size_t eq = rec.find('=');
    if (eq == std::string_view::npos || eq == 0) fail("tar pax header: malformed record");
    std::string key(rec.substr(0, eq));
    std::string val(rec.substr(eq + 1));
    auto it = std::find_if(out.begin(), out.end(), [&](auto& kv) { return kv.first == key; });
    if (it != out.end()) {
      it->second = std::move(val);
    } else {
      out.emplace_back(std::move(key), std::move(val));
    }
    data.remove_prefix(len);
  }
  return out;
}

bool header_only(char t) { return t == '1' || t == '2' || t == '3' || t == '4' || t == '5' || t == '6'; }

}  // namespace

TarScanner::TarScanner(const Reader& in) : in_(in), buf_(kBufSize, '\0') {}

size_t TarScanner::fill(size_t n) {
  if (end_ - pos_ >= n || eof_) return end_ - pos_;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (buf_.size() < n) buf_.resize(n);
  while (end_ < n && !eof_) {
    size_t got = in_(buf_.data() + end_, buf_.size() - end_);
    if (got == 0) {
      eof_ = true;
      break;
    }
    hash_.update(buf_.data() + end_, got);
    total_ += got;
    end_ += got;
  }
  return end_ - pos_;
}

std::string_view TarScanner::take(size_t n) {
  std::string_view v(buf_.data() + pos_, n);
  pos_ += n;
  return v;
}

bool TarScanner::next(TarHeader& h, std::string& raw) {
  // The rest of the previous payload (a writer may have stopped early) and its padding.
  while (remaining_ > 0) {
    if (payload().empty()) fail("tar stream ends inside a file's content");
  }
  if (padding_ > 0) {
    if (fill(padding_) < padding_) fail("tar stream ends inside a file's padding");
    raw.append(take(padding_));
    padding_ = 0;
  }
  h = TarHeader{};
  std::optional<std::string> long_name, long_link;
  PaxRecords pax;
  for (;;) {
    size_t have = fill(kBlock);
    if (have == 0) {
      if (!seen_header_) fail("not a tar stream: it is empty");
      return false;  // no trailer: the end of input at a header boundary, as Go accepts
    }
    if (have < kBlock) fail("tar stream ends inside a header");
    std::string_view blk(buf_.data() + pos_, kBlock);
    if (blk.find_first_not_of('\0') == std::string_view::npos) {
      if (long_name || long_link || !pax.empty()) fail("tar stream ends after a long name or pax header");
      raw.append(take(kBlock));
      if (fill(kBlock) >= kBlock) {
        std::string_view b2(buf_.data() + pos_, kBlock);
        if (b2.find_first_not_of('\0') != std::string_view::npos) fail("tar stream: a zero block followed by data");
        raw.append(take(kBlock));
      } else if (end_ > pos_) {
        fail("tar stream ends inside its trailer");
      }
      return false;
    }
    if (!checksum_ok(blk)) {
      if (!seen_header_) fail("not a tar stream: the first header's checksum is wrong");
      fail("tar header checksum is wrong (after {} bytes of stream)", total_ - (end_ - pos_));
    }
    seen_header_ = true;
    std::string_view magic = field(blk, 257, 8);
    bool ustar = magic.substr(0, 6) == std::string_view("ustar\0", 6);
    bool gnu = magic == std::string_view("ustar  \0", 8);
    char type = blk[156];
    int64_t size = num_field(field(blk, 124, 12), "size");
    if (size < 0) fail("tar header: negative size");
    raw.append(take(kBlock));
    if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
      if (size > kMaxSpecial) fail("tar header: a long name or pax header of {} bytes (over 1 MiB)", size);
      uint64_t padded = (static_cast<uint64_t>(size) + kBlock - 1) / kBlock * kBlock;
      if (fill(padded) < padded) fail("tar stream ends inside a long name or pax header");
      std::string_view data = take(padded);
      raw.append(data);
      data = data.substr(0, size);
      if (type == 'L') {
        long_name = str_field(data);
      } else if (type == 'K') {
        long_link = str_field(data);
      } else {
        PaxRecords recs = parse_pax(data);
        for (auto& [k, v] : recs) {
          if (k.starts_with("GNU.sparse.")) fail("tar: sparse files are not supported ({})", k);
        }
        if (type == 'g') {
          h.typeflag = 'g';
          h.name = str_field(field(blk, 0, 100));
          return true;
        }
        for (auto& kv : recs) {
          auto it = std::find_if(pax.begin(), pax.end(), [&](auto& p) { return p.first == kv.first; });
          if (it != pax.end()) {
            it->second = std::move(kv.second);
          } else {
            pax.push_back(std::move(kv));
          }
        }
      }
      continue;
    }
    if (type == 'S') fail("tar: GNU sparse files are not supported");
    h.typeflag = type;
    h.name = str_field(field(blk, 0, 100));
    h.linkname = str_field(field(blk, 157, 100));
    h.mode = num_field(field(blk, 100, 8), "mode");
    h.uid = num_field(field(blk, 108, 8), "uid");
    h.gid = num_field(field(blk, 116, 8), "gid");
    h.size = size;
    h.mtime = {num_field(field(blk, 136, 12), "mtime"), 0};
    if (ustar || gnu) {  // as Go: for every type, not only devices
      h.devmajor = num_field(field(blk, 329, 8), "devmajor");
      h.devminor = num_field(field(blk, 337, 8), "devminor");
    }
    if (ustar) {
      std::string prefix = str_field(field(blk, 345, 155));
      if (!prefix.empty()) h.name = prefix + "/" + h.name;
    } else if (gnu) {
      if (blk[345] != '\0') h.atime = TarTime{num_field(field(blk, 345, 12), "atime"), 0};
      if (blk[357] != '\0') h.ctime = TarTime{num_field(field(blk, 357, 12), "ctime"), 0};
    }
    for (auto& [k, v] : pax) {
      if (k.starts_with("SCHILY.xattr.")) {
        // Empty values too: containers/storage takes xattrs from the pax records.
        h.xattrs.emplace_back(k.substr(13), v);
      } else if (v.empty()) {
        continue;  // an empty record keeps the header's value, as Go's mergePAX
      } else if (k == "path") {
        h.name = v;
      } else if (k == "linkpath") {
        h.linkname = v;
      } else if (k == "size") {
        h.size = parse_dec(v, "size");
      } else if (k == "uid") {
        h.uid = parse_dec(v, "uid");
      } else if (k == "gid") {
        h.gid = parse_dec(v, "gid");
      } else if (k == "mtime") {
        h.mtime = parse_pax_time(v, "mtime");
      } else if (k == "atime") {
        h.atime = parse_pax_time(v, "atime");
      } else if (k == "ctime") {
        h.ctime = parse_pax_time(v, "ctime");
      }
    }
    std::sort(h.xattrs.begin(), h.xattrs.end());
    if (long_name) h.name = *long_name;
    if (long_link) h.linkname = *long_link;
    if (h.typeflag == '\0') h.typeflag = h.name.ends_with('/') ? '5' : '0';
    switch (h.typeflag) {
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        break;
      default:
        fail("tar entry \"{}\": unsupported type '{}'", h.name, h.typeflag);
    }
    h.payload = header_only(h.typeflag) ? 0 : static_cast<uint64_t>(h.size);
    remaining_ = h.payload;
    padding_ = (kBlock - h.payload % kBlock) % kBlock;
    return true;
  }
}

std::string_view TarScanner::payload() {
  if (remaining_ == 0) return {};
  size_t have = fill(1);
  if (have == 0) fail("tar stream ends inside a file's content");
  size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, have));
  remaining_ -= n;
  return take(n);
}

std::string_view TarScanner::rest() {
  size_t have = fill(1);
  return take(have);
}

}  // namespace hull::chunked
