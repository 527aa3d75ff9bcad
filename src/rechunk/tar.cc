#include "rechunk/tar.h"

#include <cstring>

#include <fmt/format.h>

namespace hull::rechunk {
namespace {

constexpr uint64_t kMaxOctal8 = 07777777;        // 8-byte fields: 7 digits
constexpr uint64_t kMaxOctal12 = 077777777777;  // 12-byte fields: 11 digits

void put_octal(char* field, size_t width, uint64_t v) {
  std::string s = fmt::format("{:0{}o}", v, width - 1);
  std::memcpy(field, s.data(), width - 1);
  field[width - 1] = '\0';
}

void put_str(char* field, size_t width, const std::string& s) { std::memcpy(field, s.data(), std::min(width, s.size())); }

// One pax record: "LEN key=value\n", LEN counting itself.
std::string pax_record(const std::string& key, const std::string& value) {
  size_t body = 1 + key.size() + 1 + value.size() + 1;  // ' ' key '=' value '\n'
  size_t len = body + 1;
  while (std::to_string(len).size() + body > len) len++;
  return fmt::format("{} {}={}\n", len, key, value);
}

// A 512-byte ustar header block.
std::string ustar_block(const std::string& name, char type, uint32_t mode, uint64_t uid, uint64_t gid, uint64_t size,
                        const std::string& link, uint64_t mtime) {
  std::string b(512, '\0');
  char* p = b.data();
  put_str(p + 0, 100, name);
  put_octal(p + 100, 8, mode & 07777);
  put_octal(p + 108, 8, uid);
  put_octal(p + 116, 8, gid);
  put_octal(p + 124, 12, size);
  put_octal(p + 136, 12, mtime);
  p[156] = type;
  put_str(p + 157, 100, link);
  std::memcpy(p + 257, "ustar\0" "00", 8);
  std::memset(p + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : b) sum += c;
  std::string cs = fmt::format("{:06o}", sum);
  std::memcpy(p + 148, cs.data(), 6);
  p[154] = '\0';
  p[155] = ' ';
  return b;
}

}  // namespace

std::string tar_header(const TarHeader& h) {
  std::string name = h.type == TarHeader::kDir ? h.path + "/" : h.path;
  std::string pax;
  if (name.size() > 100) pax += pax_record("path", name);
  if (h.link.size() > 100) pax += pax_record("linkpath", h.link);
  if (h.uid > kMaxOctal8) pax += pax_record("uid", std::to_string(h.uid));
  if (h.gid > kMaxOctal8) pax += pax_record("gid", std::to_string(h.gid));
  if (h.size > kMaxOctal12) pax += pax_record("size", std::to_string(h.size));
  for (auto& [k, v] : h.xattrs) pax += pax_record("SCHILY.xattr." + k, v);

  std::string out;
  if (!pax.empty()) {
    // The pax header's own name: fixed, as Go's archive/tar names it.
    std::string base = name.substr(name.find_last_of('/', name.size() - 2) + 1);
    std::string pname = ("PaxHeaders.0/" + base).substr(0, 99);
    out += ustar_block(pname, 'x', 0644, 0, 0, pax.size(), "", h.mtime);
    out += pax;
    out.append(tar_padding(pax.size()), '\0');
  }
  auto cut = [](const std::string& s) { return s.size() > 100 ? s.substr(0, 100) : s; };
  out += ustar_block(cut(name), static_cast<char>(h.type), h.mode, std::min<uint64_t>(h.uid, kMaxOctal8),
                     std::min<uint64_t>(h.gid, kMaxOctal8), h.type == TarHeader::kFile ? std::min(h.size, kMaxOctal12) : 0,
                     cut(h.link), h.mtime);
  return out;
}

}  // namespace hull::rechunk
