// The host commands on a sysroot *directory* (--sysroot), as the user runs
// them: install to-filesystem, status, upgrade (--check), rollback, switch,
// with images built by buildah and served by the real docker-registry.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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

TEST(Sysroot, InstallUpgradeRollbackSwitchOnADirectory) {
  LocalRegistry reg;
  TestImageBuilder b;
  Sysroot s;
  make_dirs(s.path());
  const std::string ref = reg.host() + "/os/test:latest";

  TestImageSpec v1;
  v1.version = "1";
  v1.files = {{"/usr/lib/os-release", "ID=hulltest\nNAME=\"hull test\"\nVERSION_ID=1\n"},
              {"/etc/hull/default.conf", "a=1\n"},
              {"/etc/hull/untouched.conf", "u1\n"},
              {"/etc/hull/remove-me.conf", "r\n"},
              {"/usr/share/hull/version", "1\n"},
              {"/var/lib/hull/seed", "seed1\n"}};
  v1.kargs_toml = "kargs = [\"hull.k1=1\", \"hull.gone=1\"]\n";
  std::string d1 = b.push(b.build("v1", v1), "docker://" + ref);

  // install; libostree's per-entry notes on the image's /var are not shown
  // (hull seeds /var from the image at install).
  auto inst = hull({"install", "to-filesystem", "--quiet", "--sysroot", s.path(), "--source-imgref", "docker://" + ref,
                    "--karg", "hull.local=1", s.path()});
  ASSERT_EQ(inst.exit_code, 0) << inst.err;
  EXPECT_EQ(inst.err.find("note:"), std::string::npos) << inst.err;
  EXPECT_EQ(inst.out.find("note:"), std::string::npos) << inst.out;
  auto st = status(s);
  EXPECT_EQ(st["apiVersion"], "org.containers.bootc/v1");
  EXPECT_EQ(st["kind"], "BootcHost");
  EXPECT_EQ(st["spec"]["image"]["image"], ref);
  EXPECT_EQ(st["spec"]["image"]["transport"], "registry");
  auto& booted = st["status"]["booted"];
  EXPECT_EQ(booted["image"]["image"]["image"], ref);
  EXPECT_EQ(booted["image"]["imageDigest"], d1);
  EXPECT_EQ(booted["image"]["version"], "1");
  EXPECT_EQ(booted["image"]["architecture"], "amd64");
  EXPECT_FALSE(booted["image"]["timestamp"].is_null());
  EXPECT_EQ(booted["ostree"]["stateroot"], "default");
  EXPECT_EQ(booted["ostree"]["deploySerial"], 0);
  EXPECT_TRUE(st["status"]["staged"].is_null());
  EXPECT_TRUE(st["status"]["rollback"].is_null());
  EXPECT_EQ(st["status"]["rollbackQueued"], false);
  EXPECT_EQ(st["status"]["type"], "bootcHost");

  std::string dep1 = deploy_dir(s, booted);
  std::string var = s.path() + "/ostree/deploy/default/var";
  EXPECT_EQ(slurp(dep1 + "/etc/hull/default.conf"), "a=1\n");
  EXPECT_EQ(slurp(dep1 + "/usr/etc/hull/default.conf"), "a=1\n");
  EXPECT_EQ(slurp(var + "/lib/hull/seed"), "seed1\n");  // /var seeded at install
  EXPECT_TRUE(path_exists(s.path() + "/.bootc-aleph.json"));
  std::string opts1 = entry_options(s, booted["ostree"]["checksum"]);
  EXPECT_NE(opts1.find("hull.k1=1"), std::string::npos) << opts1;
  EXPECT_NE(opts1.find("hull.gone=1"), std::string::npos) << opts1;
  EXPECT_NE(opts1.find("hull.local=1"), std::string::npos) << opts1;

  // The machine's own changes.
  write_file_atomic(dep1 + "/etc/hull/default.conf", "a=local\n");
  write_file_atomic(dep1 + "/etc/hull/added.conf", "mine\n");
  fs::remove(dep1 + "/etc/hull/remove-me.conf");
  make_dirs(var + "/lib/hull");
  write_file_atomic(var + "/lib/hull/data", "precious\n");

  // v2 changes defaults, adds a file, changes /var content and kargs.d.
  TestImageSpec v2 = v1;
  v2.version = "2";
  v2.files["/etc/hull/default.conf"] = "a=2\n";
  v2.files["/etc/hull/untouched.conf"] = "u2\n";
  v2.files["/etc/hull/new.conf"] = "new\n";
  v2.files["/usr/share/hull/version"] = "2\n";
  v2.files["/var/lib/hull/seed"] = "seed2\n";
  v2.kargs_toml = "kargs = [\"hull.k1=1\", \"hull.k2=2\"]\n";
  std::string d2 = b.push(b.build("v2", v2), "docker://" + ref);
  ASSERT_NE(d1, d2);

  auto check = hull({"upgrade", "--check", "--sysroot", s.path()});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("Update available"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find(d2), std::string::npos) << check.out;
  EXPECT_EQ(status(s)["status"]["booted"]["image"]["imageDigest"], d1);  // --check changes nothing

  auto up = hull({"upgrade", "--sysroot", s.path()});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  // An upgrade does not apply the image's /var: one line says so, in place
  // of libostree's line per entry.
  EXPECT_EQ(up.err.find("note: Deploying commit"), std::string::npos) << up.err;
  EXPECT_EQ(count_lines_with(up.out, "/var of the image ("), 1) << up.out;
  size_t var_at = up.out.find("/var of the image (");
  std::string var_line = var_at == std::string::npos ? "" : up.out.substr(var_at, up.out.find('\n', var_at) - var_at);
  EXPECT_NE(var_line.find("lib"), std::string::npos) << var_line;  // v2 has /var/lib/hull/seed
  st = status(s);
  EXPECT_EQ(st["status"]["booted"]["image"]["imageDigest"], d2);
  EXPECT_EQ(st["status"]["booted"]["image"]["version"], "2");
  EXPECT_EQ(st["status"]["rollback"]["image"]["imageDigest"], d1);
  std::string dep2 = deploy_dir(s, st["status"]["booted"]);
  EXPECT_EQ(slurp(dep2 + "/etc/hull/default.conf"), "a=local\n");  // modified locally: kept
  EXPECT_EQ(slurp(dep2 + "/etc/hull/added.conf"), "mine\n");       // added locally: kept
  EXPECT_EQ(slurp(dep2 + "/etc/hull/remove-me.conf"), "<absent>");  // removed locally: stays removed
  EXPECT_EQ(slurp(dep2 + "/etc/hull/untouched.conf"), "u2\n");     // untouched: the new default
  EXPECT_EQ(slurp(dep2 + "/etc/hull/new.conf"), "new\n");          // new in the image
  EXPECT_EQ(slurp(dep2 + "/usr/share/hull/version"), "2\n");
  EXPECT_EQ(slurp(var + "/lib/hull/seed"), "seed1\n");   // /var is never touched by an upgrade
  EXPECT_EQ(slurp(var + "/lib/hull/data"), "precious\n");
  std::string opts2 = entry_options(s, st["status"]["booted"]["ostree"]["checksum"]);
  EXPECT_NE(opts2.find("hull.k2=2"), std::string::npos) << opts2;
  EXPECT_NE(opts2.find("hull.local=1"), std::string::npos) << opts2;
  EXPECT_EQ(opts2.find("hull.gone=1"), std::string::npos) << opts2;

  auto again = hull({"upgrade", "--sysroot", s.path()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("No update available"), std::string::npos) << again.out;

  // rollback, and the rollback of the rollback
  hull_ok({"rollback", "--sysroot", s.path()});
  st = status(s);
  EXPECT_EQ(st["status"]["booted"]["image"]["imageDigest"], d1);
  EXPECT_EQ(st["status"]["rollback"]["image"]["imageDigest"], d2);
  hull_ok({"rollback", "--sysroot", s.path()});
  st = status(s);
  EXPECT_EQ(st["status"]["booted"]["image"]["imageDigest"], d2);

  // switch to another image; then one more upgrade there leaves v2 unused,
  // and its image and layers are pruned.
  const std::string other = reg.host() + "/os/other:latest";
  TestImageSpec o1 = v2;
  o1.version = "o1";
  o1.files["/usr/share/hull/other"] = "o1\n";
  std::string od1 = b.push(b.build("o1", o1), "docker://" + other);
  auto sw = hull({"switch", "--sysroot", s.path(), other});
  ASSERT_EQ(sw.exit_code, 0) << sw.err;
  st = status(s);
  EXPECT_EQ(st["spec"]["image"]["image"], other);
  EXPECT_EQ(st["status"]["booted"]["image"]["imageDigest"], od1);
  EXPECT_EQ(st["status"]["rollback"]["image"]["imageDigest"], d2);

  TestImageSpec o2 = o1;
  o2.version = "o2";
  o2.files["/usr/share/hull/other"] = "o2\n";
  std::string od2 = b.push(b.build("o2", o2), "docker://" + other);
  auto up2 = hull({"upgrade", "--sysroot", s.path()});
  ASSERT_EQ(up2.exit_code, 0) << up2.err;
  EXPECT_NE(up2.out.find("Pruned"), std::string::npos) << up2.out;
  std::string refs = run_ok({"ostree", "refs", "--repo", s.path() + "/ostree/repo"});
  EXPECT_EQ(refs.find("os_2F_test"), std::string::npos) << refs;  // v2's image ref is gone
  EXPECT_NE(refs.find("os_2F_other"), std::string::npos) << refs;
  st = status(s);
  EXPECT_EQ(st["status"]["booted"]["image"]["imageDigest"], od2);
  EXPECT_EQ(st["status"]["rollback"]["image"]["imageDigest"], od1);

  // Human and YAML renderings name the image too.
  std::string yaml = hull_ok({"status", "--format", "yaml", "--sysroot", s.path()});
  EXPECT_NE(yaml.find("apiVersion: org.containers.bootc/v1"), std::string::npos) << yaml;
  std::string human = hull_ok({"status", "--format", "humanreadable", "--sysroot", s.path()});
  EXPECT_NE(human.find(other), std::string::npos) << human;
}

// The value main.sh gives --target-imgref (its TARGET_IMGREF= line), and a
// check that its install command passes it.
std::string main_sh_target_imgref() {
  std::string sh = read_file(std::string(HULL_SOURCE_DIR) + "/scripts/main.sh");
  EXPECT_NE(sh.find("install to-disk --via-loopback --source-imgref \"oci:$WORK/hull-debian:12\" --target-imgref "
                    "\"$TARGET_IMGREF\""),
            std::string::npos);
  auto at = sh.find("\nTARGET_IMGREF=");
  if (at == std::string::npos) return "";
  at += 15;
  return sh.substr(at, sh.find('\n', at) - at);
}

// main.sh's host follows a name it could reach, not the build machine's
// layout path; an upgrade from an origin that cannot be reached (a layout
// that is gone, a registry that refuses the connection) fails in one line
// that names the origin and says how to switch.
TEST(Sysroot, MainJobTargetAndUnreachableOrigins) {
  TestImageBuilder b;
  TempDir tmp("hull-origin");
  std::string layout = tmp.path() + "/layout";
  TestImageSpec v1;
  v1.files = {{"/var/lib/hull/seed", "seed\n"}};
  b.push(b.build("v1", v1), "oci:" + layout + ":1");

  // As main.sh installs: the status names the target, transport registry.
  std::string target = main_sh_target_imgref();
  ASSERT_EQ(target, "localhost/hull-debian:12");
  Sysroot s;
  make_dirs(s.path());
  auto inst = hull({"install", "to-filesystem", "-q", "--sysroot", s.path(), "--source-imgref", "oci:" + layout + ":1",
                    "--target-imgref", target, s.path()});
  ASSERT_EQ(inst.exit_code, 0) << inst.err;
  EXPECT_EQ(inst.err.find("note:"), std::string::npos) << inst.err;
  auto st = status(s);
  EXPECT_EQ(st["spec"]["image"]["image"], target);
  EXPECT_EQ(st["spec"]["image"]["transport"], "registry");
  EXPECT_EQ(st["status"]["booted"]["image"]["image"]["image"], target);
  // Nothing listens on localhost's HTTP port here (plain HTTP for localhost).
  auto up = hull({"upgrade", "--sysroot", s.path()});
  EXPECT_NE(up.exit_code, 0);
  EXPECT_EQ(std::count(up.err.begin(), up.err.end(), '\n'), 1) << up.err;
  EXPECT_TRUE(up.err.starts_with("hull: cannot reach docker://localhost/hull-debian:12 (the origin of the default "
                                 "deployment): "))
      << up.err;
  EXPECT_NE(up.err.find("cannot connect to localhost"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find("; use 'hull switch IMAGE' to follow another image"), std::string::npos) << up.err;

  // Installed from the layout, which is then removed.
  Sysroot s2;
  make_dirs(s2.path());
  hull_ok({"install", "to-filesystem", "-q", "--sysroot", s2.path(), "--source-imgref", "oci:" + layout + ":1",
           s2.path()});
  fs::remove_all(layout);
  for (auto args : {std::vector<std::string>{"upgrade"}, std::vector<std::string>{"upgrade", "--check"}}) {
    args.insert(args.end(), {"--sysroot", s2.path()});
    auto r = hull(args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.err, "hull: cannot reach oci:" + layout + ":1 (the origin of the default deployment): no such "
                     "directory; use 'hull switch IMAGE' to follow another image\n");
  }
  // And still a machine that works: switch follows another image.
  std::string layout2 = tmp.path() + "/layout2";
  b.push(b.build("v2", v1), "oci:" + layout2 + ":2");
  auto sw = hull({"switch", "--sysroot", s2.path(), "--transport", "oci", layout2 + ":2"});
  ASSERT_EQ(sw.exit_code, 0) << sw.err;
  EXPECT_EQ(status(s2)["spec"]["image"]["image"], layout2 + ":2");
}

// A host that follows a zstd:chunked image (Debian 12's buildah writes the
// legacy format) upgrades file by file: only the changed file is fetched.
// (An upgrade goes through the reached origin; bench/update once found it
// pulling whole layers because that path did not pass ranges through.)
TEST(Sysroot, UpgradePullsZstdChunkedLayersFileByFile) {
  LocalRegistry reg;
  TestImageBuilder b;
  auto noise = [](size_t n, uint32_t seed) {
    std::string out(n, '\0');
    uint32_t x = seed * 2654435761u + 1;
    for (auto& c : out) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      c = static_cast<char>(x & 0xff);
    }
    return out;
  };
  TestImageSpec v1;
  for (int i = 0; i < 60; i++) v1.files[fmt::format("/usr/share/hull/f{:02}", i)] = noise(8192, i + 1);
  TestImageSpec v2 = v1;
  v2.version = "2";
  v2.files["/usr/share/hull/f07"] = noise(8192, 777);
  std::string ref = reg.host() + "/os/chunked:latest";
  auto push = [&](const std::string& local) {
    run_ok(b.cmd({"push", "-q", "--tls-verify=false", "--compression-format", "zstd:chunked", local, "docker://" + ref}));
  };
  push(b.build("chunked1", v1));
  Sysroot s;
  make_dirs(s.path());
  hull_ok({"install", "to-filesystem", "-q", "--sysroot", s.path(), "--source-imgref", "docker://" + ref, s.path()});
  push(b.build("chunked2", v2));

  std::string check = hull_ok({"upgrade", "--check", "--sysroot", s.path()});
  EXPECT_NE(check.find("To fetch: 1 files, "), std::string::npos) << check;
  EXPECT_NE(check.find("layers file by file"), std::string::npos) << check;
  std::string up = hull_ok({"upgrade", "--verbose", "--sysroot", s.path()});
  EXPECT_NE(up.find("1 file by file: 1 files fetched"), std::string::npos) << up;
  EXPECT_NE(up.find("table of contents (no tar-split)"), std::string::npos) << up;
  auto st = status(s);
  std::string dir = deploy_dir(s, st["status"]["booted"]);  // a directory sysroot: the new default
  EXPECT_EQ(slurp(dir + "/usr/share/hull/f07"), noise(8192, 777));
  EXPECT_EQ(slurp(dir + "/usr/share/hull/f08"), noise(8192, 9));
}

TEST(Sysroot, NonBootableImageIsRefusedAndNothingDeployed) {
  LocalRegistry reg;
  TestImageBuilder b;
  Sysroot s;
  make_dirs(s.path());
  TestImageSpec nokernel;
  nokernel.files = {{"/usr/lib/os-release", "ID=hulltest\n"}};
  nokernel.fake_kernel = false;
  std::string ref = reg.host() + "/os/nokernel:1";
  b.push(b.build("nokernel", nokernel), "docker://" + ref);
  auto r = hull({"install", "to-filesystem", "-q", "--sysroot", s.path(), "--source-imgref", "docker://" + ref, s.path()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not a bootable image: no kernel at /usr/lib/modules/KVER/vmlinuz"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  std::string refs = run_ok({"ostree", "refs", "--repo", s.path() + "/ostree/repo"});
  EXPECT_EQ(refs.find("hull/"), std::string::npos) << refs;

  TestImageSpec nolabel;
  nolabel.files = {{"/usr/lib/os-release", "ID=hulltest\n"}};
  nolabel.bootable_label = false;
  std::string ref2 = reg.host() + "/os/nolabel:1";
  b.push(b.build("nolabel", nolabel), "docker://" + ref2);
  auto r2 = hull({"install", "to-filesystem", "-q", "--sysroot", s.path(), "--source-imgref", "docker://" + ref2, s.path()});
  EXPECT_NE(r2.exit_code, 0);
  EXPECT_NE(r2.err.find("containers.bootc=1"), std::string::npos) << r2.err;

  auto st = hull({"upgrade", "--sysroot", s.path()});
  EXPECT_NE(st.exit_code, 0);
  EXPECT_NE(st.err.find("no deployments"), std::string::npos) << st.err;
}

}  // namespace
}  // namespace hull::test
