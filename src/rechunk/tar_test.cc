#include "rechunk/tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

namespace hull::rechunk {
namespace {

std::string pack(const std::vector<std::pair<TarHeader, std::string>>& entries) {
  std::string out;
  for (auto& [h, content] : entries) {
    out += tar_header(h);
    out += content;
    out.append(tar_padding(content.size()), '\0');
  }
  out.append(kTarTrailer, '\0');
  return out;
}

TEST(TarHeader, LibarchiveReadsBackEveryField) {
  std::string long_name = "usr/share/" + std::string(150, 'x') + "/file";
  std::vector<std::pair<TarHeader, std::string>> in;
  in.push_back({TarHeader{"usr", TarHeader::kDir, 0755, 0, 0, 0, "", {}, 7}, ""});
  in.push_back({TarHeader{"usr/bin/su", TarHeader::kFile, 04755, 0, 0, 5, "", {{"security.capability", std::string("\x01\x00\x02", 3)}}, 7}, "hello"});
  in.push_back({TarHeader{long_name, TarHeader::kFile, 0600, 1000, 3000000, 3, "", {}, 7}, "abc"});
  in.push_back({TarHeader{"usr/bin/sudo", TarHeader::kHardlink, 04755, 0, 0, 0, "usr/bin/su", {}, 7}, ""});
  in.push_back({TarHeader{"bin", TarHeader::kSymlink, 0777, 0, 0, 0, "usr/bin", {}, 7}, ""});
  std::string tar = pack(in);
  EXPECT_EQ(tar.size() % 512, 0u);
  EXPECT_EQ(tar, pack(in));  // deterministic

  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  archive_entry* e;
  std::vector<std::string> names;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    names.push_back(name);
    EXPECT_EQ(archive_entry_mtime(e), 7);
    EXPECT_STREQ(archive_entry_uname(e) ? archive_entry_uname(e) : "", "");
    if (name == "usr/bin/su") {
      EXPECT_EQ(archive_entry_perm(e), 04755u);
      char buf[16];
      EXPECT_EQ(archive_read_data(a, buf, sizeof buf), 5);
      EXPECT_EQ(std::string(buf, 5), "hello");
      const char* xn;
      const void* xv;
      size_t xs;
      ASSERT_EQ(archive_entry_xattr_reset(e), 1);
      archive_entry_xattr_next(e, &xn, &xv, &xs);
      EXPECT_STREQ(xn, "security.capability");
      EXPECT_EQ(std::string(static_cast<const char*>(xv), xs), std::string("\x01\x00\x02", 3));
    }
    if (name == long_name) {
      EXPECT_EQ(archive_entry_uid(e), 1000);
      EXPECT_EQ(archive_entry_gid(e), 3000000);
      EXPECT_EQ(archive_entry_size(e), 3);
    }
    if (name == "usr/bin/sudo") EXPECT_STREQ(archive_entry_hardlink(e), "usr/bin/su");
    if (name == "bin") EXPECT_STREQ(archive_entry_symlink(e), "usr/bin");
  }
  archive_read_free(a);
  EXPECT_EQ(names, (std::vector<std::string>{"usr/", "usr/bin/su", long_name, "usr/bin/sudo", "bin"}));
}

}  // namespace
}  // namespace hull::rechunk
