// A fixed, deterministic tar format for rechunked layers: POSIX ustar
// headers, plus a pax extended header (typeflag 'x') only when an entry
// needs one (a path or link target over 100 bytes, xattrs as
// SCHILY.xattr.NAME, ids or sizes too large for octal fields). Numeric
// owners only (uname/gname empty), one mtime for every entry, no atime or
// ctime, no devices. The same entry always gives the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hull::rechunk {

struct TarHeader {
  enum Type : char { kFile = '0', kHardlink = '1', kSymlink = '2', kDir = '5' };
  std::string path;  // relative, no leading "./"; directories without a trailing '/'
  Type type = kFile;
  uint32_t mode = 0644;  // permission bits incl. setuid/setgid/sticky (07777)
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;     // kFile only
  std::string link;      // kHardlink (a path of the same layer), kSymlink (the target)
  std::vector<std::pair<std::string, std::string>> xattrs;  // sorted by name
  uint64_t mtime = 0;
};

// The header block(s) of `h`: a multiple of 512 bytes. The content
// (h.size bytes, kFile) follows, then tar_padding(h.size) zero bytes.
std::string tar_header(const TarHeader& h);
// Zero bytes after `size` bytes of content, to the next 512-byte block.
inline size_t tar_padding(uint64_t size) { return static_cast<size_t>((512 - size % 512) % 512); }
// The end of the archive: two zero blocks.
inline constexpr size_t kTarTrailer = 1024;

}  // namespace hull::rechunk
