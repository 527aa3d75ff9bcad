#include "install/gpt.h"

#include <zlib.h>

#include <cctype>
#include <cstdint>

#include "util/error.h"

namespace hull::install {
namespace {

constexpr uint64_t kEntries = 128, kEntrySize = 128;
constexpr uint64_t kArraySectors = kEntries * kEntrySize / kSector;  // 32
constexpr uint64_t kHeaderSize = 92;

void put_le(std::string& b, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) b[at + size_t(i)] = char((v >> (8 * i)) & 0xff);
}

uint32_t crc(std::string_view b) {
  return uint32_t(crc32(0, reinterpret_cast<const Bytef*>(b.data()), uInt(b.size())));
}

// One header sector: at `my_lba`, its copy at `alternate`, entries from `entries_lba`.
std::string header(const Layout& l, uint64_t my_lba, uint64_t alternate, uint64_t entries_lba, uint32_t array_crc) {
  uint64_t last = l.disk_size / kSector - 1;
  std::string h(kSector, '\0');
  h.replace(0, 8, "EFI PART");
  put_le(h, 8, 0x00010000, 4);  // revision 1.0
  put_le(h, 12, kHeaderSize, 4);
  put_le(h, 24, my_lba, 8);
  put_le(h, 32, alternate, 8);
  put_le(h, 40, 2 + kArraySectors, 8);         // first usable LBA: 34
  put_le(h, 48, last - kArraySectors - 1, 8);  // last usable LBA
  h.replace(56, 16, guid_bytes(l.disk_guid));
  put_le(h, 72, entries_lba, 8);
  put_le(h, 80, kEntries, 4);
  put_le(h, 84, kEntrySize, 4);
  put_le(h, 88, array_crc, 4);
  put_le(h, 16, crc(std::string_view(h).substr(0, kHeaderSize)), 4);  // over the header with this field 0
  return h;
}

}  // namespace

std::string guid_bytes(const std::string& guid) {
  // 8-4-4-4-12 hex digits; the first three groups are stored little-endian.
  static constexpr int kGroups[] = {8, 4, 4, 4, 12};
  std::string hex;
  size_t at = 0;
  for (int g = 0; g < 5; g++) {
    for (int i = 0; i < kGroups[g]; i++, at++) {
      if (at >= guid.size() || !std::isxdigit(static_cast<unsigned char>(guid[at]))) fail("malformed GUID \"{}\"", guid);
      hex += guid[at];
    }
    if (g < 4 && (at >= guid.size() || guid[at++] != '-')) fail("malformed GUID \"{}\"", guid);
  }
  if (at != guid.size()) fail("malformed GUID \"{}\"", guid);
  std::string b(16, '\0');
  for (size_t i = 0; i < 16; i++) b[i] = char(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  std::swap(b[0], b[3]);
  std::swap(b[1], b[2]);
  std::swap(b[4], b[5]);
  std::swap(b[6], b[7]);
  return b;
}

GptImage gpt_image(const Layout& l) {
  if (l.disk_size % kSector) fail("the disk size {} is not a whole number of {}-byte sectors", l.disk_size, kSector);
  uint64_t sectors = l.disk_size / kSector;
  if (sectors < 2 * (2 + kArraySectors)) fail("a disk of {} sectors cannot hold a GPT", sectors);
  if (l.parts.size() > kEntries) fail("{} partitions: a GPT holds {}", l.parts.size(), kEntries);
  uint64_t last_usable = sectors - 1 - kArraySectors - 1;

  std::string array(kEntries * kEntrySize, '\0');
  for (size_t i = 0; i < l.parts.size(); i++) {
    const Partition& p = l.parts[i];
    if (p.start % kSector || p.size % kSector || p.size == 0) fail("partition {} is not whole sectors", p.name);
    if (p.start / kSector < 2 + kArraySectors || p.end_sector() > last_usable)
      fail("partition {} lies outside the usable sectors {}..{}", p.name, 2 + kArraySectors, last_usable);
    if (p.name.size() > 36) fail("partition name \"{}\" is longer than 36 characters", p.name);
    size_t e = i * kEntrySize;
    array.replace(e, 16, guid_bytes(p.type_guid));
    array.replace(e + 16, 16, guid_bytes(p.part_guid));
    put_le(array, e + 32, p.start / kSector, 8);
    put_le(array, e + 40, p.end_sector(), 8);
    for (size_t c = 0; c < p.name.size(); c++) {  // UTF-16LE
      if (static_cast<unsigned char>(p.name[c]) > 0x7f) fail("partition name \"{}\" is not ASCII", p.name);
      array[e + 56 + 2 * c] = p.name[c];
    }
  }
  uint32_t array_crc = crc(array);

  // The protective MBR: one partition of type 0xEE over the whole disk
  // (capped at 2^32-1 sectors), CHS "unused".
  std::string mbr(kSector, '\0');
  const unsigned char entry[8] = {0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff};
  for (int i = 0; i < 8; i++) mbr[446 + size_t(i)] = char(entry[i]);
  put_le(mbr, 446 + 8, 1, 4);
  put_le(mbr, 446 + 12, std::min<uint64_t>(sectors - 1, 0xffffffff), 4);
  mbr[510] = char(0x55);
  mbr[511] = char(0xaa);

  GptImage g;
  g.head = mbr + header(l, 1, sectors - 1, 2, array_crc) + array;
  g.tail = array + header(l, sectors - 1, 1, sectors - 1 - kArraySectors, array_crc);
  return g;
}

}  // namespace hull::install
