// Boot counting on a sysroot directory, with the real libostree writing the
// boot menu and GRUB's own grub-editenv playing GRUB's countdown:
// install arms nothing; an upgrade arms the new default in the loader.N
// that goes live with libostree's switch; a trial boot that fails is
// recorded; the fallback boot makes the rollback permanent and records
// why; upgrades do not retry that image; a good trial boot is blessed; a
// rollback arms too, and tries = 0 in boot.toml turns counting off.
#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "integration/sysroot_support.h"
#include "support/images.h"
#include "support/process.h"
#include "support/registry.h"
#include "util/file.h"

namespace hull::test {
namespace {

// What `hull install to-disk` puts in /boot before the first deployment:
// libostree's syslinux layout, and a grub.cfg that counts (the real one is
// boot::grub_cfg(); here only its marker matters, counting_supported()).
void prepare_boot(const std::string& root) {
  std::string boot = root + "/boot";
  make_dirs(boot + "/loader.0");
  make_dirs(boot + "/syslinux");
  make_dirs(boot + "/grub");
  write_file_atomic(boot + "/loader.0/syslinux.cfg", "TIMEOUT 10\n");
  fs::create_symlink("loader.0", boot + "/loader");
  fs::create_symlink("../loader/syslinux.cfg", boot + "/syslinux/syslinux.cfg");
  write_file_atomic(boot + "/grub/grub.cfg", "# hull boot counting\n");
}

// The block as grub-editenv (GRUB's own reader) lists it.
std::map<std::string, std::string> grubenv(const Sysroot& s) {
  std::map<std::string, std::string> vars;
  std::istringstream in(run_ok({"grub-editenv", s.path() + "/boot/loader/hullenv", "list"}));
  for (std::string line; std::getline(in, line);)
    if (auto eq = line.find('='); eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  return vars;
}

// GRUB's countdown: save_env rewrites the variable in place.
void grub_counts(const Sysroot& s, int left) {
  run_ok({"grub-editenv", s.path() + "/boot/loader/hullenv", "set", fmt::format("hull_left={}", left)});
}

std::string entry_nonce(const std::string& options) {
  auto p = options.find("hull.entry=");
  if (p == std::string::npos) return "";
  return options.substr(p + 11, options.find(' ', p) - p - 11);
}

std::string bootversion(const Sysroot& s) { return fs::read_symlink(s.path() + "/boot/loader").string(); }

TEST(BootCounting, ArmFailFallBackNotRetryThenBless) {
  LocalRegistry reg;
  TestImageBuilder b;
  Sysroot s;
  make_dirs(s.path());
  prepare_boot(s.path());
  const std::string ref = reg.host() + "/os/counted:latest";
  TestImageSpec v1;
  v1.version = "1";
  v1.files = {{"/usr/lib/os-release", "ID=hulltest\nVERSION_ID=1\n"}, {"/usr/share/v", "1\n"}};
  std::string d1 = b.push(b.build("c1", v1), "docker://" + ref);
  hull_ok({"install", "to-filesystem", "--quiet", "--bootloader", "syslinux", "--boot-tries", "2", "--source-imgref",
           "docker://" + ref, s.path()});

  // Installed: one deployment with its own hull.entry, nothing on trial.
  auto st = status(s);
  std::string c1 = st["status"]["booted"]["ostree"]["checksum"];
  std::string e1 = entry_nonce(entry_options(s, c1));
  ASSERT_EQ(e1.size(), 16u) << entry_options(s, c1);
  EXPECT_EQ(grubenv(s)["hull_trial"], "0");
  EXPECT_FALSE(st["status"].contains("trial")) << st.dump(2);

  // v2: the upgrade arms it in the loader.N libostree switched to.
  TestImageSpec v2 = v1;
  v2.version = "2";
  v2.files["/usr/share/v"] = "2\n";
  std::string d2 = b.push(b.build("c2", v2), "docker://" + ref);
  std::string before = bootversion(s);
  hull_ok({"upgrade", "--quiet", "--sysroot", s.path()});
  EXPECT_NE(bootversion(s), before) << "libostree did not write a new loader.N";
  st = status(s);
  std::string c2 = st["status"]["booted"]["ostree"]["checksum"];
  std::string e2 = entry_nonce(entry_options(s, c2));
  ASSERT_FALSE(e2.empty());
  EXPECT_NE(e2, e1);
  auto env = grubenv(s);
  EXPECT_EQ(env["hull_trial"], "1");
  EXPECT_EQ(env["hull_left"], "2");  // --boot-tries 2 at install
  EXPECT_EQ(env["hull_entry"], e2);
  ASSERT_TRUE(st["status"].contains("trial")) << st.dump(2);
  EXPECT_EQ(st["status"]["trial"]["checksum"], c2);
  EXPECT_EQ(st["status"]["trial"]["tries"], 2);
  std::string human = hull_ok({"status", "--format", "humanreadable", "--sysroot", s.path()});
  EXPECT_NE(human.find("Trial: 2 of 2 boots left"), std::string::npos) << human;

  // Boot 1 of v2 (GRUB counted down): a required check fails; the boot is
  // recorded and the host would reboot.
  grub_counts(s, 1);
  TempDir checks("hull-checks");
  std::string req = checks.path() + "/etc/hull/check/required.d";
  make_dirs(req);
  write_file_atomic(req + "/20-service", "#!/bin/sh\necho 'the service is not answering'\nexit 3\n", 0755);
  make_dirs(checks.path() + "/usr/lib/greenboot/check/wanted.d");
  write_file_atomic(checks.path() + "/usr/lib/greenboot/check/wanted.d/10-greenboot-wanted", "#!/bin/sh\nexit 1\n", 0755);
  auto hc = hull({"internals", "health-check", "--root", checks.path()});
  EXPECT_EQ(hc.exit_code, 1) << hc.out << hc.err;
  EXPECT_NE(hc.out.find("<3>required check 20-service failed (exit 3): the service is not answering"),
            std::string::npos) << hc.out;
  EXPECT_NE(hc.out.find("<4>wanted check 10-greenboot-wanted failed"), std::string::npos) << hc.out;
  std::string v2_cmdline = entry_options(s, c2), v1_cmdline = entry_options(s, c1);
  auto as = hull({"internals", "boot-assess", "--sysroot", s.path(), "--root", checks.path(), "--boot-complete", "no",
                  "--no-reboot", "--kernel-cmdline", v2_cmdline});
  ASSERT_EQ(as.exit_code, 0) << as.err;
  EXPECT_NE(as.out.find("failed its trial boot 1 of 2"), std::string::npos) << as.out;
  EXPECT_NE(as.out.find("rebooting: 1 more tries"), std::string::npos) << as.out;
  EXPECT_EQ(grubenv(s)["hull_trial"], "1");  // still on trial

  // Boot 2 never gets to userspace (a panic); GRUB then has no tries left
  // and boots entry 1, v1: the fallback boot.
  grub_counts(s, 0);
  as = hull({"internals", "boot-assess", "--sysroot", s.path(), "--root", checks.path(), "--boot-complete", "yes",
             "--no-reboot", "--kernel-cmdline", v1_cmdline});
  ASSERT_EQ(as.exit_code, 0) << as.err;
  EXPECT_NE(as.out.find("failed its trial (2 boots)"), std::string::npos) << as.out;
  st = status(s);
  EXPECT_EQ(st["status"]["booted"]["image"]["imageDigest"], d1) << "the rollback was not made permanent";
  EXPECT_EQ(st["status"]["rollback"]["image"]["imageDigest"], d2);
  EXPECT_EQ(grubenv(s)["hull_trial"], "0");
  EXPECT_FALSE(st["status"].contains("trial"));
  ASSERT_TRUE(st["status"].contains("failedUpdate")) << st.dump(2);
  const auto& f = st["status"]["failedUpdate"];
  EXPECT_EQ(f["image"]["imageDigest"], d2);
  EXPECT_EQ(f["checksum"], c2);
  EXPECT_EQ(f["boots"], 2);
  std::string reasons = f["reasons"].dump();
  EXPECT_NE(reasons.find("boot 1: required check 20-service failed (exit 3): the service is not answering"),
            std::string::npos) << reasons;
  EXPECT_NE(reasons.find("1 of 2 boots never reached boot-complete.target"), std::string::npos) << reasons;
  human = hull_ok({"status", "--format", "humanreadable", "--sysroot", s.path()});
  EXPECT_NE(human.find("Failed update: " + ref + " (2) did not pass its trial"), std::string::npos) << human;

  // Not retried by upgrade; a plain boot afterwards changes nothing.
  auto up = hull({"upgrade", "--sysroot", s.path()});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_NE(up.out.find("failed to boot here"), std::string::npos) << up.out;
  EXPECT_EQ(status(s)["status"]["booted"]["image"]["imageDigest"], d1);
  as = hull({"internals", "boot-assess", "--sysroot", s.path(), "--root", checks.path(), "--boot-complete", "yes",
             "--kernel-cmdline", v1_cmdline});
  ASSERT_EQ(as.exit_code, 0) << as.err;
  EXPECT_EQ(status(s)["status"]["booted"]["image"]["imageDigest"], d1);

  // v3, good: armed, then blessed on its first boot.
  TestImageSpec v3 = v1;
  v3.version = "3";
  v3.files["/usr/share/v"] = "3\n";
  std::string d3 = b.push(b.build("c3", v3), "docker://" + ref);
  hull_ok({"upgrade", "--quiet", "--sysroot", s.path()});
  st = status(s);
  std::string c3 = st["status"]["booted"]["ostree"]["checksum"];
  EXPECT_EQ(st["status"]["booted"]["image"]["imageDigest"], d3);
  EXPECT_EQ(grubenv(s)["hull_entry"], entry_nonce(entry_options(s, c3)));
  grub_counts(s, 1);
  as = hull({"internals", "boot-assess", "--sysroot", s.path(), "--root", checks.path(), "--boot-complete", "yes",
             "--kernel-cmdline", entry_options(s, c3)});
  ASSERT_EQ(as.exit_code, 0) << as.err;
  EXPECT_NE(as.out.find("blessed: " + ref + " (3) passed its trial on boot 1 of 2"), std::string::npos) << as.out;
  EXPECT_EQ(grubenv(s)["hull_trial"], "0");
  EXPECT_FALSE(status(s)["status"].contains("trial"));
  EXPECT_FALSE(status(s)["status"].contains("failedUpdate")) << "a good update blessed: the old failure is history";

  // A rollback puts the other deployment on trial too; with tries = 0 in
  // boot.toml nothing is armed.
  hull_ok({"rollback", "--sysroot", s.path()});
  st = status(s);
  EXPECT_EQ(grubenv(s)["hull_trial"], "1");
  EXPECT_EQ(grubenv(s)["hull_entry"], entry_nonce(entry_options(s, st["status"]["booted"]["ostree"]["checksum"])));
  write_file_atomic(deploy_dir(s, st["status"]["booted"]) + "/etc/hull/boot.toml", "tries = 0\n");
  hull_ok({"rollback", "--sysroot", s.path()});
  EXPECT_EQ(grubenv(s)["hull_trial"], "0");
  // A bad boot.toml is one line naming it.
  write_file_atomic(deploy_dir(s, status(s)["status"]["booted"]) + "/etc/hull/boot.toml", "tries = 99\n");
  auto bad = hull({"rollback", "--sysroot", s.path()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("boot.toml"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("tries must be 0 (off) to 10"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace hull::test
