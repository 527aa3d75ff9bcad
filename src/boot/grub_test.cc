#include "boot/grub.h"
#include "sysroot/trial.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::boot {
namespace {

uint64_t le64(const std::string& s, size_t off) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= uint64_t(uint8_t(s[off + i])) << (8 * i);
  return v;
}

TEST(PatchBootImg, WritesCoreSectorAndNopsTheDriveCheck) {
  for (uint64_t lba : {uint64_t(1), uint64_t(2048), uint64_t(1) << 33}) {
    std::string b(512, '\x11');
    patch_boot_img(b, lba);
    EXPECT_EQ(le64(b, 0x5c), lba);
    EXPECT_EQ(uint8_t(b[0x66]), 0x90);
    EXPECT_EQ(uint8_t(b[0x67]), 0x90);
    EXPECT_EQ(b[0x5b], '\x11');  // nothing else touched
    EXPECT_EQ(b[0x68], '\x11');
  }
}

TEST(PatchBootImg, RefusesWrongSize) {
  std::string b(440, '\0');
  EXPECT_THROW(patch_boot_img(b, 2048), Error);
}

std::string fake_core(size_t sectors, uint64_t start, uint16_t len) {
  std::string c(sectors * 512 - 100, '\0');  // the last sector need not be full
  for (int i = 0; i < 8; i++) c[0x1f4 + i] = char(start >> (8 * i));
  c[0x1fc] = char(len & 0xff);
  c[0x1fd] = char(len >> 8);
  return c;
}

TEST(PatchCoreImg, PointsTheBlocklistAfterItsFirstSector) {
  std::string c = fake_core(298, 2, 297);
  patch_core_img(c, 2048);
  EXPECT_EQ(le64(c, 0x1f4), 2049u);
  EXPECT_EQ(uint8_t(c[0x1fc]) | uint8_t(c[0x1fd]) << 8, 297);
}

TEST(PatchCoreImg, RefusesAnUnknownBlocklist) {
  std::string moved = fake_core(10, 7, 9), wrong_len = fake_core(10, 2, 3), tiny(600, '\0');
  EXPECT_THROW(patch_core_img(moved, 2048), Error);
  EXPECT_THROW(patch_core_img(wrong_len, 2048), Error);
  EXPECT_THROW(patch_core_img(tiny, 2048), Error);
}

TEST(Config, EarlyConfigFindsBootByUuid) {
  std::string c = early_cfg("0b0b0b0b-1111-4222-8333-444444444444");
  EXPECT_NE(c.find("search --no-floppy --fs-uuid --set=root 0b0b0b0b-1111-4222-8333-444444444444\n"), std::string::npos);
  EXPECT_NE(c.find("configfile ($root)/grub/grub.cfg"), std::string::npos);
}

TEST(Config, GrubCfgCountsThenLoadsLibostreesEntriesAsItsMenu) {
  std::string c = grub_cfg();
  size_t menu = c.find("\nextract_syslinux_entries_source /loader/syslinux.cfg\n");
  ASSERT_NE(menu, std::string::npos);
  EXPECT_EQ(c.find("syslinux_configfile"), std::string::npos);
  EXPECT_NE(c.find("terminal_output serial console"), std::string::npos);
  EXPECT_NE(c.find("hull boot counting"), std::string::npos);  // counting_supported() looks for it
  // EFI: the wrappers are sourced and grub_platform faked before the menu.
  size_t efi = c.find("source /grub/efi-compat.cfg");
  ASSERT_NE(efi, std::string::npos);
  EXPECT_LT(c.find("set grub_platform=pc"), menu);
  EXPECT_LT(efi, menu);
  // The counter: only the two whitelisted variables are loaded, every count
  // from sysroot::kMaxTries down is a plain comparison, and the save comes before the menu.
  EXPECT_NE(c.find("load_env -f /loader/hullenv hull_trial hull_left\n"), std::string::npos);
  for (int n = 1; n <= sysroot::kMaxTries; n++)
    EXPECT_NE(c.find(fmt::format("[ \"$hull_left\" = {} ]; then set hull_left={}\n", n, n - 1)), std::string::npos) << n;
  EXPECT_NE(c.find("else set hull_left=0; set default=1\n"), std::string::npos);
  size_t save = c.find("save_env -f /loader/hullenv hull_left; then true; else set default=1; fi");
  ASSERT_NE(save, std::string::npos);
  EXPECT_LT(save, menu);
  std::string compat = efi_compat_cfg();
  EXPECT_NE(compat.find("function linux16 {\n  linuxefi \"$@\"\n}"), std::string::npos);
  EXPECT_NE(compat.find("function initrd16 {\n  initrdefi \"$@\"\n}"), std::string::npos);
}

TEST(SyslinuxLayout, WhatLibostreesBackendNeeds) {
  TempDir t("grub-test");
  std::string boot = t.path() + "/boot";
  make_dirs(boot);
  prepare_syslinux_layout(boot);
  EXPECT_EQ(read_file(boot + "/loader.0/syslinux.cfg"), "TIMEOUT 10\n");
  EXPECT_EQ(std::filesystem::read_symlink(boot + "/loader"), "loader.0");
  EXPECT_EQ(std::filesystem::read_symlink(boot + "/syslinux/syslinux.cfg"), "../loader/syslinux.cfg");
  EXPECT_EQ(read_file(boot + "/syslinux/syslinux.cfg"), "TIMEOUT 10\n");  // resolves
}

void touch(const std::string& p) {
  make_dirs(std::filesystem::path(p).parent_path());
  write_file_atomic(p, "x");
}

TEST(FindImageGrub, ResolvesAbsoluteLinksInsideTheImage) {
  TempDir t("grub-test");
  std::string r = t.path();
  touch(r + "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
  touch(r + "/usr/bin/grub-mkimage");
  touch(r + "/usr/lib/grub/i386-pc/boot.img");
  make_dirs(r + "/usr/lib/grub/x86_64-efi");
  // /lib -> usr/lib and an absolute link, as in a Debian tree.
  ASSERT_EQ(symlink("usr/lib", (r + "/lib").c_str()), 0);
  ASSERT_EQ(symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", (r + "/lib64").c_str()), 0);
  ImageGrub g = find_image_grub(r);
  EXPECT_EQ(g.loader, r + "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
  EXPECT_EQ(g.libpath, r + "/usr/lib/x86_64-linux-gnu");
  EXPECT_EQ(g.pc_dir, r + "/usr/lib/grub/i386-pc");
  std::vector<std::string> a = mkimage_argv(g, Platform::kBiosPc, "/e.cfg", "/core.img");
  ASSERT_GE(a.size(), 5u);
  EXPECT_EQ(a[0], g.loader);
  EXPECT_EQ(a[1], "--inhibit-cache");
  EXPECT_EQ(a[4], g.mkimage);
  EXPECT_NE(std::find(a.begin(), a.end(), "linux16"), a.end());
  EXPECT_NE(std::find(a.begin(), a.end(), "syslinuxcfg"), a.end());
  EXPECT_EQ(std::find(a.begin(), a.end(), "linuxefi"), a.end());
  a = mkimage_argv(g, Platform::kEfiX64, "/e.cfg", "/x.efi");
  EXPECT_NE(std::find(a.begin(), a.end(), "linuxefi"), a.end());
  EXPECT_NE(std::find(a.begin(), a.end(), "x86_64-efi"), a.end());
}

TEST(FindImageGrub, NamesTheMissingPackage) {
  TempDir t("grub-test");
  std::string r = t.path();
  touch(r + "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
  touch(r + "/usr/bin/grub-mkimage");
  make_dirs(r + "/usr/lib/grub/x86_64-efi");
  try {
    find_image_grub(r);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("grub-pc-bin"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hull::boot
