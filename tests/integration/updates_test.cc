// Automatic updates on a sysroot *directory*: `hull upgrade --auto` as
// hull-fetch-apply-updates.service runs it, with the policy in the default
// deployment's /etc/hull/updates.toml (or --updates-config), and
// --download-only / --from-downloaded, which only a booted host has.
// Images built by buildah, served by the real docker-registry or an OCI
// layout. Every hull here runs with a `systemctl` first in PATH that only
// records its arguments: nothing may reboot on a directory.
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

// hull with a fake systemctl first in PATH; reboots() tells whether it ran.
class Hull {
 public:
  Hull() {
    make_dirs(bin_.path());
    write_file_atomic(bin_.path() + "/systemctl", fmt::format("#!/bin/sh\necho \"$@\" >> {}\n", calls()), 0755);
  }
  ProcessResult operator()(std::vector<std::string> args) const {
    const char* path = getenv("PATH");
    args.insert(args.begin(), {"env", "PATH=" + bin_.path() + ":" + (path ? path : "/usr/bin:/bin"), HULL_BIN});
    return run(args);
  }
  std::string ok(std::vector<std::string> args) const {
    auto r = (*this)(args);
    std::string cmd;
    for (auto& a : args) cmd += a + " ";
    EXPECT_EQ(r.exit_code, 0) << "hull " << cmd << "\n" << r.err;
    return r.out;
  }
  bool rebooted() const { return path_exists(calls()); }

 private:
  std::string calls() const { return bin_.path() + "/systemctl-calls"; }
  TempDir bin_{"hull-fake-bin"};
};

nlohmann::json status_of(const Hull& hull, const Sysroot& s) {
  return nlohmann::json::parse(hull.ok({"status", "--format", "json", "--sysroot", s.path()}));
}

// The checkout of the default deployment (shown as "booted" offline).
std::string default_dir(const Hull& hull, const Sysroot& s) {
  auto e = status_of(hull, s)["status"]["booted"];
  return s.path() + "/ostree/deploy/" + e["ostree"]["stateroot"].get<std::string>() + "/deploy/" +
         e["ostree"]["checksum"].get<std::string>() + "." + std::to_string(e["ostree"]["deploySerial"].get<int>());
}

std::string booted_digest(const Hull& hull, const Sysroot& s) {
  return status_of(hull, s)["status"]["booted"]["image"]["imageDigest"];
}

// Writes the deployment's /etc/hull/updates.toml.
std::string write_policy(const std::string& deploy_dir, const std::string& text) {
  make_dirs(deploy_dir + "/etc/hull");
  std::string file = deploy_dir + "/etc/hull/updates.toml";
  fs::remove(file);
  write_file_atomic(file, text);
  return file;
}

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TestImageSpec version(const std::string& v) {
  TestImageSpec spec;
  spec.version = v;
  spec.files = {{"/usr/share/hull/version", v + "\n"}};
  return spec;
}

// Nothing is staged or finalized in a directory: both flags are refused in
// one line before anything is fetched, and their usage errors first.
TEST(Updates, DownloadOnlyAndFromDownloadedNeedABootedHost) {
  Hull hull;
  TestImageBuilder b;
  TempDir tmp("hull-updates-layout");
  std::string layout = tmp.path() + "/layout";
  b.push(b.build("v1", version("1")), "oci:" + layout + ":os");
  Sysroot s;
  make_dirs(s.path());
  hull.ok({"install", "to-filesystem", "-q", "--sysroot", s.path(), "--source-imgref", "oci:" + layout + ":os", s.path()});
  std::string d1 = booted_digest(hull, s);
  std::string d2 = b.push(b.build("v2", version("2")), "oci:" + layout + ":os");
  std::string refs = run_ok({"ostree", "refs", "--repo", s.path() + "/ostree/repo"});

  for (const char* flag : {"--download-only", "--from-downloaded"}) {
    SCOPED_TRACE(flag);
    auto r = hull({"upgrade", flag, "--sysroot", s.path()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, fmt::format("hull: {} works on the booted host only: nothing is staged or finalized in a "
                                 "sysroot directory ({})\n",
                                 flag, s.path()));
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(booted_digest(hull, s), d1);
  EXPECT_TRUE(status_of(hull, s)["status"]["rollback"].is_null());
  EXPECT_EQ(run_ok({"ostree", "refs", "--repo", s.path() + "/ostree/repo"}), refs);  // nothing fetched

  // Flags that make no sense together are usage errors (exit 2).
  const std::vector<std::vector<std::string>> bad = {
      {"--download-only", "--check"}, {"--download-only", "--apply"},  {"--download-only", "--from-downloaded"},
      {"--from-downloaded", "--check"}, {"--auto", "--check"},         {"--auto", "--apply"},
      {"--auto", "--download-only"},  {"--updates-config", "/x.toml"},
  };
  for (auto args : bad) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    args.insert(args.begin(), "upgrade");
    args.insert(args.end(), {"--sysroot", s.path()});
    auto r = hull(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("hull upgrade: "), std::string::npos) << r.err;
  }
  EXPECT_EQ(booted_digest(hull, s), d1);
  EXPECT_FALSE(hull.rebooted());
  (void)d2;
}

// mode = "check" only reports, "stage" deploys (a directory has nothing to
// stage, so the new deployment is the default), "apply" on a directory
// deploys and never reboots; the policy is the default deployment's, read
// with its links resolved inside the deployment; a bad policy is one line
// and nothing happens; --updates-config overrides the file.
TEST(Updates, AutoFollowsTheModeOfTheDeploymentsPolicy) {
  Hull hull;
  LocalRegistry reg;
  TestImageBuilder b;
  Sysroot s;
  make_dirs(s.path());
  const std::string ref = reg.host() + "/os/auto:latest";
  std::string d1 = b.push(b.build("v1", version("1")), "docker://" + ref);
  hull.ok({"install", "to-filesystem", "-q", "--sysroot", s.path(), "--source-imgref", "docker://" + ref, s.path()});
  std::string dep1 = default_dir(hull, s);

  // No update: every mode says so and changes nothing.
  write_policy(dep1, "mode = \"apply\"\n");
  EXPECT_NE(hull.ok({"upgrade", "--auto", "--sysroot", s.path()}).find("No update available"), std::string::npos);

  std::string d2 = b.push(b.build("v2", version("2")), "docker://" + ref);

  // check, through a link that must be resolved inside the deployment (on
  // the host, /etc/hull/check.toml does not exist: the defaults would apply).
  make_dirs(dep1 + "/etc/hull");
  write_file_atomic(dep1 + "/etc/hull/check.toml", "mode = \"check\"\n[reboot]\ndays = \"Sat-Sun\"\n");
  fs::remove(dep1 + "/etc/hull/updates.toml");
  fs::create_symlink("/etc/hull/check.toml", dep1 + "/etc/hull/updates.toml");
  std::string out = hull.ok({"upgrade", "--auto", "--sysroot", s.path()});
  EXPECT_NE(out.find("Update available for: docker://" + ref), std::string::npos) << out;
  EXPECT_NE(out.find(d2), std::string::npos) << out;
  auto quiet = hull({"upgrade", "--auto", "--quiet", "--sysroot", s.path()});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "");
  EXPECT_EQ(booted_digest(hull, s), d1);

  // A bad policy: one line naming the file, the key and the value; nothing fetched or deployed.
  std::string refs = run_ok({"ostree", "refs", "--repo", s.path() + "/ostree/repo"});
  std::string file = write_policy(dep1, "mode = \"sometimes\"\n");
  auto bad = hull({"upgrade", "--auto", "--quiet", "--sysroot", s.path()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err, "hull: " + file + ": mode = \"sometimes\" is not a mode (apply, stage or check)\n");
  EXPECT_EQ(bad.out, "");
  write_policy(dep1, "[reboot]\nhours = \"22:00-26:00\"\n");
  bad = hull({"upgrade", "--auto", "--sysroot", s.path()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(lines(bad.err), 1) << bad.err;
  EXPECT_NE(bad.err.find(file + ": reboot.hours = \"22:00-26:00\": \"26:00\" is not an end time"), std::string::npos)
      << bad.err;
  EXPECT_EQ(booted_digest(hull, s), d1);
  EXPECT_EQ(run_ok({"ostree", "refs", "--repo", s.path() + "/ostree/repo"}), refs);  // nothing fetched

  // --updates-config: that file, not the deployment's (which is still bad).
  TempDir cfg("hull-updates-cfg");
  write_file_atomic(cfg.path() + "/check.toml", "mode = \"check\"\n");
  out = hull.ok({"upgrade", "--auto", "--updates-config", cfg.path() + "/check.toml", "--sysroot", s.path()});
  EXPECT_NE(out.find("Update available for: docker://" + ref), std::string::npos) << out;
  EXPECT_EQ(booted_digest(hull, s), d1);

  // stage: deployed (a directory deploys directly; nothing is staged there).
  write_policy(dep1, "mode = \"stage\"\n");
  out = hull.ok({"upgrade", "--auto", "--sysroot", s.path()});
  EXPECT_NE(out.find("Deployed: docker://" + ref + " (2)"), std::string::npos) << out;
  EXPECT_EQ(out.find("reboot window"), std::string::npos) << out;
  auto st = status_of(hull, s);
  EXPECT_EQ(st["status"]["booted"]["image"]["imageDigest"], d2);
  EXPECT_EQ(st["status"]["rollback"]["image"]["imageDigest"], d1);
  EXPECT_TRUE(st["status"]["staged"].is_null());

  // The new default's /etc kept the machine's policy (the /etc merge); now
  // apply, with a window that is never now, and --quiet: deployed, silent,
  // and no reboot (nothing is ever staged in a directory).
  std::string dep2 = default_dir(hull, s);
  EXPECT_EQ(read_file(dep2 + "/etc/hull/updates.toml"), "mode = \"stage\"\n");
  std::tm now{};
  std::time_t t = std::time(nullptr);
  localtime_r(&t, &now);
  const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  write_policy(dep2, fmt::format("mode = \"apply\"\n[reboot]\ndays = [\"{}\"]\nhours = \"00:00-24:00\"\n",
                                 days[(now.tm_wday + 3) % 7]));
  std::string d3 = b.push(b.build("v3", version("3")), "docker://" + ref);
  auto applied = hull({"upgrade", "--auto", "--quiet", "--sysroot", s.path()});
  EXPECT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_EQ(applied.out, "");
  EXPECT_EQ(applied.err, "");
  EXPECT_EQ(booted_digest(hull, s), d3);
  // apply inside the window (the default: any time): still no reboot.
  write_policy(default_dir(hull, s), "mode = \"apply\"\n");
  std::string d4 = b.push(b.build("v4", version("4")), "docker://" + ref);
  out = hull.ok({"upgrade", "--auto", "--sysroot", s.path()});
  EXPECT_NE(out.find("Deployed: docker://" + ref + " (4)"), std::string::npos) << out;
  EXPECT_EQ(out.find("Rebooting"), std::string::npos) << out;
  EXPECT_EQ(booted_digest(hull, s), d4);
  EXPECT_FALSE(hull.rebooted());
}

}  // namespace
}  // namespace hull::test
