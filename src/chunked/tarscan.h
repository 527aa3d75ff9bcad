// Private to hull_chunked: a tokenizer over a raw tar stream that hands
// back every byte it reads, so a writer can re-emit the stream unchanged.
// It reads headers as Go's archive/tar does (the reader containers/storage
// and tar-split use): ustar prefixes, GNU 'L'/'K' long names, GNU
// atime/ctime fields, pax 'x' records (path, linkpath, size, uid, gid,
// mtime, atime, ctime, SCHILY.xattr.*), pax 'g' headers returned as entries
// of their own, base-256 numbers. Sparse files are refused.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/hash.h"

namespace hull::chunked {

struct TarTime {
  int64_t sec = 0;
  uint32_t nsec = 0;
};

struct TarHeader {
  char typeflag = '0';  // '\0' is reported as '0' (or '5' for a name ending in '/')
  std::string name;
  std::string linkname;
  int64_t mode = 0;
  int64_t size = 0;     // as the header (or pax) says
  int64_t uid = 0, gid = 0;
  TarTime mtime;
  std::optional<TarTime> atime, ctime;
  int64_t devmajor = 0, devminor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;  // sorted by name
  uint64_t payload = 0;  // content bytes following the header (0 for header-only types)
};

class TarScanner {
 public:
  using Reader = std::function<size_t(void*, size_t)>;
  explicit TarScanner(const Reader& in);

  // Reads the next entry. Appends to `raw` every byte consumed: the
  // previous entry's padding, then its header blocks (long names, pax).
  // Returns false at the end of the archive; `raw` then also holds the
  // trailer, and rest() yields what follows it. Throws Error on a
  // malformed header.
  bool next(TarHeader& h, std::string& raw);
  // The next piece of the current entry's payload (a view into the
  // buffer, valid until the next call); empty when the payload is done.
  std::string_view payload();
  // After next() returned false: the next piece of the bytes after the
  // trailer; empty at the end of the stream.
  std::string_view rest();

  // sha256 and count of every byte read from the input.
  std::string input_sha256_hex() { return hash_.hex_final(); }
  uint64_t input_bytes() const { return total_; }

 private:
  // Makes at least `n` bytes available (fewer only at the end of input).
  size_t fill(size_t n);
  std::string_view take(size_t n);

  const Reader& in_;
  std::string buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  uint64_t remaining_ = 0;  // payload bytes left in the current entry
  uint64_t padding_ = 0;    // padding after it
  bool seen_header_ = false;
  Hasher hash_;
  uint64_t total_ = 0;
};

}  // namespace hull::chunked
