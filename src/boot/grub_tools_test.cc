// What hull writes for GRUB, read by GRUB's own code on this machine:
// grub-editenv (the environment block), grub-script-check (grub.cfg's
// syntax) and grub-syslinux2cfg (GRUB's syslinux reader: libostree's
// syslinux.cfg with hull's TIMEOUT line gives one menu entry per deployment,
// in boot order).
#include <gtest/gtest.h>

#include "boot/grub.h"
#include "sysroot/trial.h"
#include "support/process.h"
#include "util/file.h"

namespace hull::boot {
namespace {

using test::run;
using test::run_ok;
using namespace sysroot;

TEST(GrubTools, GrubEditenvListsTheBlock) {
  TempDir t("grub-tools");
  std::string f = t.path() + "/hullenv";
  write_file_atomic(f, render_env_block(trial_vars(arm("0123456789abcdef", 3, "os:latest (2)"))));
  std::string out = run_ok({"grub-editenv", f, "list"});
  EXPECT_NE(out.find("hull_trial=1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("hull_left=3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("hull_entry=0123456789abcdef\n"), std::string::npos) << out;
  // And what GRUB's save_env would write (grub-editenv set, on a copy) reads back.
  std::string copy = t.path() + "/copy";
  write_file_atomic(copy, read_file(f));
  run_ok({"grub-editenv", copy, "set", "hull_left=2"});
  Trial t2 = trial_from_vars(parse_env_block(read_file(copy)));
  EXPECT_EQ(t2.left, 2);
  EXPECT_EQ(t2.entry, "0123456789abcdef");
}

TEST(GrubTools, GrubCfgIsValidGrubScript) {
  TempDir t("grub-tools");
  write_file_atomic(t.path() + "/grub.cfg", grub_cfg());
  // efi-compat.cfg only defines functions (grub-script-check wants a command).
  write_file_atomic(t.path() + "/efi.cfg", efi_compat_cfg() + grub_cfg());
  for (const char* f : {"/grub.cfg", "/efi.cfg"}) {
    test::ProcessResult r = run({"grub-script-check", t.path() + f});
    EXPECT_TRUE(r.ok()) << f << ": " << r.out << r.err;
  }
  // The check is real: a broken script fails it.
  write_file_atomic(t.path() + "/bad.cfg", grub_cfg() + "if [ x = y ]; then\n");
  EXPECT_FALSE(run({"grub-script-check", t.path() + "/bad.cfg"}).ok());
}

TEST(GrubTools, SyslinuxCfgWithTimeoutBecomesAMenuInBootOrder) {
  TempDir t("grub-tools");
  std::string boot = t.path() + "/boot";
  make_dirs(boot);
  prepare_syslinux_layout(boot);
  // libostree keeps the lines before its entries and appends DEFAULT + LABELs.
  std::string cfg = read_file(boot + "/loader.0/syslinux.cfg") +
                    "DEFAULT Debian 2 (ostree:0)\n"
                    "LABEL Debian 2 (ostree:0)\n\tKERNEL /boot/ostree/d-1/vmlinuz\n\tINITRD /boot/ostree/d-1/initramfs.img\n"
                    "\tAPPEND rw ostree=/ostree/boot.1/d/1/0 hull.entry=aaaa\n"
                    "LABEL Debian 1 (ostree:1)\n\tKERNEL /boot/ostree/d-1/vmlinuz\n\tINITRD /boot/ostree/d-1/initramfs.img\n"
                    "\tAPPEND rw ostree=/ostree/boot.1/d/1/1 hull.entry=bbbb\n";
  write_file_atomic(t.path() + "/s.cfg", cfg);
  std::string out = run_ok({"grub-syslinux2cfg", t.path() + "/s.cfg"});
  size_t first = out.find("menuentry 'Debian 2 (ostree:0)'");
  size_t second = out.find("menuentry 'Debian 1 (ostree:1)'");
  ASSERT_NE(first, std::string::npos) << out;
  ASSERT_NE(second, std::string::npos) << out;
  EXPECT_LT(first, second);
  EXPECT_NE(out.find("hull.entry=aaaa"), std::string::npos);
}

}  // namespace
}  // namespace hull::boot
