// The GPT writer: its bytes checked field by field here, and read back by
// sgdisk (an independent implementation) in disk_test.cc and below.
#include "install/gpt.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <regex>
#include <tuple>

#include "install/runner.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::install {
namespace {

std::string run(std::vector<std::string> argv) { return system_runner().run({std::move(argv), {}}); }

uint64_t le(const std::string& b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | uint8_t(b[at + size_t(i)]);
  return v;
}

uint32_t crc(std::string_view b) { return uint32_t(crc32(0, reinterpret_cast<const Bytef*>(b.data()), uInt(b.size()))); }

TEST(Gpt, GuidByteOrder) {
  // The ESP type as UEFI stores it: 28 73 2A C1 1F F8 D2 11 BA 4B 00 A0 C9 3E C9 3B.
  std::string b = guid_bytes(std::string(kTypeEsp));
  const unsigned char want[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
                                  0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};
  EXPECT_EQ(b, std::string(reinterpret_cast<const char*>(want), 16));
  EXPECT_EQ(guid_bytes("c12a7328-f81f-11d2-ba4b-00a0c93ec93b"), b);
  for (const char* bad : {"", "c12a7328f81f11d2ba4b00a0c93ec93b", "c12a7328-f81f-11d2-ba4b-00a0c93ec93",
                          "c12a7328-f81f-11d2-ba4b-00a0c93ec93bb", "g12a7328-f81f-11d2-ba4b-00a0c93ec93b"})
    EXPECT_THROW(guid_bytes(bad), Error) << bad;
}

TEST(Gpt, HeadersEntriesAndProtectiveMbr) {
  LayoutOptions o;
  o.disk_size = 10 * kGiB;
  o.var_mounts = {{"/var/data", kGiB}};
  Layout l = plan_layout(o);
  GptImage g = gpt_image(l);
  ASSERT_EQ(g.head.size(), 34u * 512);
  ASSERT_EQ(g.tail.size(), 33u * 512);
  uint64_t last = l.disk_size / 512 - 1;

  // MBR: one 0xEE partition from LBA 1, the boot signature.
  EXPECT_EQ(uint8_t(g.head[446 + 4]), 0xee);
  EXPECT_EQ(le(g.head, 446 + 8, 4), 1u);
  EXPECT_EQ(le(g.head, 446 + 12, 4), last);
  EXPECT_EQ(le(g.head, 510, 2), 0xaa55u);
  EXPECT_EQ(le(g.head, 462, 16), 0u);  // no second MBR partition

  std::string primary = g.head.substr(512, 512), backup = g.tail.substr(32 * 512);
  std::string array = g.head.substr(1024, 32 * 512);
  EXPECT_EQ(g.tail.substr(0, 32 * 512), array);
  for (auto [h, my, alt, entries] : {std::tuple<std::string, uint64_t, uint64_t, uint64_t>{primary, 1, last, 2},
                                      std::tuple<std::string, uint64_t, uint64_t, uint64_t>{backup, last, 1, last - 32}}) {
    EXPECT_EQ(h.substr(0, 8), "EFI PART");
    EXPECT_EQ(le(h, 8, 4), 0x10000u);
    EXPECT_EQ(le(h, 12, 4), 92u);
    std::string zeroed = h.substr(0, 92);
    zeroed.replace(16, 4, std::string(4, '\0'));
    EXPECT_EQ(le(h, 16, 4), crc(zeroed));
    EXPECT_EQ(le(h, 24, 8), my);
    EXPECT_EQ(le(h, 32, 8), alt);
    EXPECT_EQ(le(h, 40, 8), 34u);
    EXPECT_EQ(le(h, 48, 8), last - 33);
    EXPECT_EQ(h.substr(56, 16), guid_bytes(l.disk_guid));
    EXPECT_EQ(le(h, 72, 8), entries);
    EXPECT_EQ(le(h, 80, 4), 128u);
    EXPECT_EQ(le(h, 84, 4), 128u);
    EXPECT_EQ(le(h, 88, 4), crc(array));
    EXPECT_EQ(h.find_first_not_of('\0', 92), std::string::npos);  // the rest of the sector is zero
  }
  ASSERT_EQ(l.parts.size(), 5u);
  for (size_t i = 0; i < l.parts.size(); i++) {
    const Partition& p = l.parts[i];
    std::string e = array.substr(i * 128, 128);
    EXPECT_EQ(e.substr(0, 16), guid_bytes(p.type_guid)) << p.name;
    EXPECT_EQ(e.substr(16, 16), guid_bytes(p.part_guid)) << p.name;
    EXPECT_EQ(le(e, 32, 8), p.start / 512) << p.name;
    EXPECT_EQ(le(e, 40, 8), (p.start + p.size) / 512 - 1) << p.name;
    EXPECT_EQ(le(e, 48, 8), 0u);
    std::string name;
    for (size_t c = 56; c < 128 && (e[c] || e[c + 1]); c += 2) name += e[c];
    EXPECT_EQ(name, p.name);
  }
  EXPECT_EQ(array.find_first_not_of('\0', 5 * 128), std::string::npos);
}

TEST(Gpt, Refusals) {
  LayoutOptions o;
  o.disk_size = 10 * kGiB;
  Layout l = plan_layout(o);
  Layout odd = l;
  odd.disk_size += 100;
  EXPECT_THROW(gpt_image(odd), Error);
  Layout past = l;
  past.parts.back().size += kMiB;  // into the backup table
  EXPECT_THROW(gpt_image(past), Error);
  Layout named = l;
  named.parts[0].name = std::string(37, 'x');
  EXPECT_THROW(gpt_image(named), Error);
}

// sgdisk reads what hull wrote, over an older table of another layout.
TEST(Gpt, ReadBySgdiskOverAnOldTable) {
  TempDir dir("gpt-test");
  std::string img = dir.path() + "/disk.img";
  LayoutOptions o;
  o.disk_size = 4 * kGiB;
  {
    UniqueFd f = open_file(img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_EQ(ftruncate(f.get(), off_t(o.disk_size)), 0);
    f.close(img);
  }
  run({"sgdisk", "--new=1:2048:+100M", "--new=2:0:+200M", "--new=3:0:+300M", "--new=7:0:0", img});
  write_file_atomic(dir.path() + "/iso", "CD001");
  run({"dd", "if=" + dir.path() + "/iso", "of=" + img, "bs=1", "seek=32769", "conv=notrunc", "status=none"});
  o.var_mounts = {{"/var/log", 256 * kMiB}};
  Layout l = plan_layout(o);
  write_gpt(img, l);
  std::string v = run({"sgdisk", "-v", img});
  EXPECT_NE(v.find("No problems found"), std::string::npos) << v;
  std::string p = run({"sgdisk", "-p", img});
  EXPECT_TRUE(std::regex_search(p, std::regex(R"(\n\s+4\s+3127296\s+3651583\s+256\.0 MiB\s+8300\s+var-log)"))) << p;
  EXPECT_TRUE(std::regex_search(p, std::regex(R"(\n\s+5\s+3651584\s+\d+\s+.*8304\s+root)"))) << p;
  EXPECT_EQ(p.find("\n   7 "), std::string::npos) << p;
  std::string first(64 << 10, '\0');
  UniqueFd f = open_file(img, O_RDONLY);
  ASSERT_EQ(pread(f.get(), first.data(), first.size(), 0), ssize_t(first.size()));
  EXPECT_EQ(first.find("CD001"), std::string::npos);  // the old signature is gone
  std::string i5 = run({"sgdisk", "-i", "5", img});
  std::string guid = l.root().part_guid;
  std::transform(guid.begin(), guid.end(), guid.begin(), ::toupper);
  EXPECT_NE(i5.find("Partition unique GUID: " + guid), std::string::npos) << i5;
}

}  // namespace
}  // namespace hull::install
