// The user's journey of design.md, end to end, on real boots under QEMU/TCG:
//
//   fixture: build hull-debian:12 with the hull just built (images/debian/build.sh)
//            and push it; build v1 of tests/e2e/os, rechunk it (`hull image
//            rechunk`: content-based layers in zstd:chunked) and push it; `hull install
//            to-disk --via-loopback` a raw disk from the registry, following
//            10.0.2.100:5000 (the registry as the guest sees it)
//   1. SeaBIOS boot: v1's marker on the serial console, systemd running, /usr
//      read-only, `hull status` names the image and the digest pushed; edit
//      /etc, write /var
//   2. v2 built, rechunked and pushed on the host; `hull upgrade` in the guest
//      fetches the changed layers file by file (partial pulls) and stages it;
//      reboot: v2 booted, the /etc edit and /var data kept, v2's /etc default
//      and package present
//      an unsigned v3 pushed over the same tag is refused (the host was
//      installed with --enforce-container-sigpolicy; v1 and v2 are signed
//      with cosign), the host stays on v2
//      v2 was armed at finalization and is blessed on its first boot
//   3. boot counting, SeaBIOS: `hull rollback` puts v1 on trial (tries = 1) with a
//      required health check that fails; the host boots it and comes back on
//      v2 by itself; status names v1 and why
//   4. OVMF: the update timer (shortened by a drop-in) only stages v3 (now signed)
//      outside its reboot window and reboots into it inside; v3 panics before
//      userspace (init=/bin/false) and GRUB's count alone brings v2 back; upgrade
//      does not take v3 again
//
// The cases share one fixture and run in this order in one process (one CTest
// test, label e2e). Figures (build, install, boot and upgrade times, disk size,
// systemd-analyze) are printed, never asserted.
//
// Environment: HULL_E2E_KEEP=1 keeps the work directory (disks, serial logs).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <utility>
#include <nlohmann/json.hpp>

#include "e2e/vm.h"
#include "support/process.h"
#include "support/registry.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::test {
namespace {

using json = nlohmann::json;
using std::chrono::seconds;

constexpr const char* kRepo = "hull-e2e/os";
constexpr const char* kGuestRegistry = "10.0.2.100:5000";

double seconds_of(const std::function<void()>& fn) {
  auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string fixed(double v, int digits = 1) { return fmt::format("{:.{}f}", v, digits); }

// Everything the cases share; built once by SetUpTestSuite.
struct Journey {
  std::unique_ptr<TempDir> work;
  std::unique_ptr<LocalRegistry> registry;
  std::vector<std::string> buildah;  // buildah with the journey's private storage
  std::string key, disk;
  std::string v1_digest, v2_digest, v3_digest;
  std::string image_ref;             // what the guest follows: 10.0.2.100:5000/hull-e2e/os:latest
  std::string context;               // the build context of tests/e2e/os, with the signature policy
  std::string cosign;                // Debian 13's cosign (scripts/get-cosign.sh)
  std::string host_policy, host_registries_d;  // the install's signature policy
  std::unique_ptr<Vm> vm;            // the machine of the case running
  bool v1_ok = false, v2_ok = false, fallback_ok = false;
  std::string setup_error;
  std::vector<std::pair<std::string, std::string>> figures;

  void figure(const std::string& name, const std::string& value) {
    figures.emplace_back(name, value);
    std::cout << "[e2e] " << name << ": " << value << std::endl;
  }
  // buildah with the journey's storage, bounded by `timeout` seconds.
  std::vector<std::string> bh(std::vector<std::string> args, int timeout = 900) const {
    std::vector<std::string> a = {"timeout", std::to_string(timeout)};
    a.insert(a.end(), buildah.begin(), buildah.end());
    a.insert(a.end(), args.begin(), args.end());
    return a;
  }
  // Builds tests/e2e/os with VERSION=version, rechunks it (content-based
  // layers, zstd:chunked: what an upgrade fetches file by file) and pushes
  // it as :latest; returns the manifest digest.
  // Signed with the journey's cosign key unless `sign` is false.
  // `bad` breaks it on purpose (tests/e2e/os/Containerfile: "check" or "init").
  std::string build_os(int version, bool sign = true, const std::string& bad = "") {
    std::string local = fmt::format("localhost/{}:{}", kRepo, version);
    run_ok(bh({"bud", "--isolation", "chroot", "--layers", "--format", "oci", "-q", "--build-arg",
               fmt::format("VERSION={}", version), "--build-arg", version > 1 ? "PACKAGES=jq" : "PACKAGES=",
               "--build-arg", "BAD=" + bad, "-t", local, context}));
    std::string layout = work->path() + fmt::format("/os-v{}", version);
    run_ok(bh({"push", "-q", local, "oci:" + layout + ":1"}));
    std::string dest = fmt::format("docker://{}/{}:latest", registry->host(), kRepo);
    run_ok({"timeout", "900", HULL_BIN, "image", "rechunk", "--quiet", "oci:" + layout + ":1", dest});
    json inspect = json::parse(run_ok({HULL_BIN, "image", "inspect", dest}));
    std::string digest = inspect["Digest"].get<std::string>();
    if (sign) sign_os(digest);
    return digest;
  }
  // Signs an image pushed earlier with the journey's cosign key.
  void sign_os(const std::string& digest) {
    run_ok({"env", "COSIGN_PASSWORD=", "HOME=" + work->path(), cosign, "sign", "--key", work->path() + "/cosign.key",
            "--tlog-upload=false", "--allow-insecure-registry", "--allow-http-registry", "-y",
            fmt::format("{}/{}@{}", registry->host(), kRepo, digest)});
  }

  // The build context (a copy of tests/e2e/os) with the guest's signature
  // policy, and the host's policy for the install, both trusting only
  // images signed by a cosign key made for this run.
  void prepare_signing() {
    cosign = trim(run_ok({"sh", HULL_SOURCE_DIR "/scripts/get-cosign.sh"}));
    RunOptions in_work;
    in_work.cwd = work->path();
    run_ok({"env", "COSIGN_PASSWORD=", "HOME=" + work->path(), cosign, "generate-key-pair", "--output-key-prefix",
            "cosign"},
           in_work);
    context = work->path() + "/os-context";
    run_ok({"cp", "-r", HULL_SOURCE_DIR "/tests/e2e/os", context});
    std::string signed_repo = fmt::format("{}/{}", registry->host(), kRepo);
    run_ok({"cp", work->path() + "/cosign.pub", context + "/containers/hull-e2e-cosign.pub"});
    // policy(SCOPE, KEY, IDENTITY): SCOPE takes only images that KEY signed.
    auto policy = [](const std::string& def, const std::string& scope, const std::string& key, json identity) {
      json req = json::object();
      req["type"] = "sigstoreSigned";
      req["keyPath"] = key;
      req["signedIdentity"] = std::move(identity);
      json p = json::object();
      p["default"] = json::array({json::object({{"type", def}})});
      p["transports"]["docker"][scope] = json::array({req});
      return p.dump(2);
    };
    // The guest sees the registry as 10.0.2.100:5000; cosign signed it as 127.0.0.1:PORT.
    write_file_atomic(context + "/containers/policy.json",
                      policy("insecureAcceptAnything", fmt::format("{}/{}", kGuestRegistry, kRepo),
                             "/etc/containers/hull-e2e-cosign.pub",
                             json::object({{"type", "exactRepository"}, {"dockerRepository", signed_repo}})));
    host_policy = work->path() + "/host-policy.json";
    write_file_atomic(host_policy, policy("reject", signed_repo, work->path() + "/cosign.pub",
                                          json::object({{"type", "matchRepository"}})));
    host_registries_d = work->path() + "/host-registries.d";
    make_dirs(host_registries_d);
    write_file_atomic(host_registries_d + "/hull-e2e.yaml",
                      fmt::format("docker:\n  {}:\n    use-sigstore-attachments: true\n", registry->host()));
  }
};

Journey* j = nullptr;

// ---------------------------------------------------------------- guest checks

json guest_status(Vm& vm) { return json::parse(vm.ssh_ok("hull status --format json")); }

std::string booted_digest(const json& st) {
  const json& b = st["status"]["booted"];
  return b.is_null() ? "" : b["image"]["imageDigest"].get<std::string>();
}

// systemd reached multi-user.target and settled: "running" or "degraded"
// (then the failed units are printed).
void expect_system_up(Vm& vm) {
  ProcessResult r = vm.ssh("systemctl is-system-running --wait", seconds(300));
  std::string state = trim(r.out);
  EXPECT_TRUE(state == "running" || state == "degraded") << "systemctl is-system-running: " << state << r.err;
  if (state == "degraded") std::cout << "[e2e] degraded; failed units:\n" << vm.ssh("systemctl --failed").out;
  EXPECT_EQ(trim(vm.ssh_ok("systemctl is-active multi-user.target")), "active");
}

void expect_usr_readonly(Vm& vm) {
  ProcessResult r = vm.ssh("touch /usr/hull-e2e-x");
  EXPECT_NE(r.exit_code, 0) << "/usr is writable";
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << r.err;
}

void print_systemd_analyze(Vm& vm, const std::string& which) {
  std::string t = trim(vm.ssh("systemd-analyze time").out);
  j->figure("systemd-analyze, " + which, t.substr(0, t.find('\n')));
  std::cout << "[e2e] systemd-analyze time, critical-chain, blame (no devices), " << which << ":\n" << t << "\n"
            << vm.ssh("systemd-analyze critical-chain --no-pager multi-user.target").out
            << vm.ssh("systemd-analyze blame --no-pager | grep -v '\\.device$' | head -8").out << std::flush;
}

// Boots `disk` and waits for the marker of `version`; returns seconds from
// QEMU's start to the marker.
double boot(std::unique_ptr<Vm>& vm, const std::string& disk, Firmware fw, const std::string& name, int version) {
  vm = std::make_unique<Vm>(VmOptions{.disk = disk,
                                      .workdir = j->work->path(),
                                      .ssh_key = j->key,
                                      .firmware = fw,
                                      .registry_port = std::stoi(j->registry->host().substr(j->registry->host().rfind(':') + 1)),
                                      .name = name});
  vm->wait_for("HULL-E2E-BOOTED", seconds(600));
  double t = vm->uptime();
  vm->wait_for(fmt::format("HULL-E2E-BOOTED version={} ", version), seconds(1));
  return t;
}

// ---------------------------------------------------------------- fixture

class JourneyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    j = new Journey;
    try {
      prepare();
    } catch (const std::exception& e) {
      j->setup_error = e.what();
    }
  }

  static void TearDownTestSuite() {
    j->vm.reset();
    if (j->work) {
      if (!j->buildah.empty()) run(j->bh({"rm", "--all"}));  // no build container left mounted
      if (const char* keep = std::getenv("HULL_E2E_KEEP"); keep && std::string(keep) == "1")
        std::cout << "[e2e] kept " << j->work->release() << std::endl;
    }
    std::cout << "\n[e2e] ---- figures (TCG, " << run_ok({"nproc"}).substr(0, 1) << " cores) ----\n";
    for (const auto& [name, value] : j->figures) {
      if (value.find('\n') == std::string::npos) std::cout << fmt::format("  {:<44} {}\n", name, value);
    }
    std::cout << std::flush;
    delete j;
    j = nullptr;
  }

  void SetUp() override {
    if (j->setup_error.empty()) return;
    std::string error = std::exchange(j->setup_error, "the fixture failed (see the first case)");
    GTEST_FAIL() << "fixture: " << error;
  }

  static void prepare() {
    if (::geteuid() != 0) fail("the e2e journey runs as root (debootstrap, buildah, mkfs)");
    std::string missing;
    for (const char* tool : {"qemu-system-x86_64", "socat", "ssh", "ssh-keygen", "buildah", "docker-registry"})
      if (!run({"sh", "-c", std::string("command -v ") + tool}).ok()) missing += std::string(" ") + tool;
    if (!missing.empty()) fail("missing:{} (scripts/install-deps.sh all)", missing);
    j->work = std::make_unique<TempDir>("hull-e2e", "/var/tmp");
    const std::string& w = j->work->path();
    j->registry = std::make_unique<LocalRegistry>();
    j->buildah = {"buildah", "--root", w + "/storage/root", "--runroot", w + "/storage/run", "--storage-driver",
                  "overlay"};
    j->image_ref = fmt::format("{}/{}:latest", kGuestRegistry, kRepo);

    // The base image, with this build's hull inside, pushed to the registry.
    std::string out;
    double t = seconds_of([&] {
      out = run_ok({"env", "SKIP_INSTALL_DEPS=1",
                    "BUILDAH_ARGS=--root " + w + "/storage/root --runroot " + w + "/storage/run --storage-driver overlay",
                    "timeout", "1800", HULL_SOURCE_DIR "/images/debian/build.sh", "--hull", HULL_BIN, "--push",
                    fmt::format("docker://{}/hull-e2e/base:12", j->registry->host())});
    });
    std::cout << out;
    j->figure("base image build (build.sh)", fixed(t) + " s");

    j->prepare_signing();
    t = seconds_of([&] { j->v1_digest = j->build_os(1); });
    j->figure("v1 build + rechunk + push + sign", fixed(t) + " s");

    run_ok({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hull-e2e", "-f", w + "/id_ed25519"});
    j->key = w + "/id_ed25519";

    j->disk = w + "/disk.raw";
    t = seconds_of([&] {
      out = run_ok({"timeout", "1200", HULL_BIN, "install", "to-disk", "--via-loopback", j->disk, "--verbose",
                    "--source-imgref", fmt::format("docker://{}/{}:latest", j->registry->host(), kRepo),
                    "--target-imgref", "docker://" + j->image_ref, "--enforce-container-sigpolicy",
                    "--policy", j->host_policy, "--registries.d", j->host_registries_d,
                    "--root-ssh-authorized-keys", j->key + ".pub", "--karg", "hull.e2e=journey"});
    });
    std::cout << out;
    j->figure("hull install to-disk", fixed(t) + " s");
    // The disk: GPT with hull's four partitions, and not overwritten by a
    // second install without --wipe.
    std::string table = run_ok({"sgdisk", "-p", j->disk});
    for (const char* want : {"EF02  BIOS-BOOT", "EF00  EFI-SYSTEM", "8300  boot", "8304  root"})
      if (table.find(want) == std::string::npos) fail("partition {} missing:\n{}", want, table);
    ProcessResult again = run({HULL_BIN, "install", "to-disk", "--via-loopback", j->disk, "--source-imgref",
                               fmt::format("docker://{}/{}:latest", j->registry->host(), kRepo)});
    if (again.ok() || again.err.find("--wipe") == std::string::npos)
      fail("a second install without --wipe was not refused: {}", again.err);
    struct stat st{};
    if (::stat(j->disk.c_str(), &st) != 0) fail_errno("stat " + j->disk);
    j->figure("disk size, apparent / allocated",
              fmt::format("{:.2f} GiB / {:.2f} GiB", st.st_size / 1073741824.0, st.st_blocks * 512 / 1073741824.0));
  }
};

// ---------------------------------------------------------------- the journey, in order

TEST_F(JourneyTest, V1BootsOnSeaBios) {
  double t = boot(j->vm, j->disk, Firmware::kSeaBios, "seabios", 1);
  j->figure("boot 1 (SeaBIOS, first boot) to marker", fixed(t) + " s");
  Vm& vm = *j->vm;

  expect_system_up(vm);
  expect_usr_readonly(vm);
  print_systemd_analyze(vm, "boot 1 (SeaBIOS, first)");
  // The boot chain: the kernel command line to-disk wrote, /boot from fstab.
  std::string cmdline = vm.ssh_ok("cat /proc/cmdline");
  for (const char* want : {"root=UUID=", " rw ", "console=tty0", "console=ttyS0,115200", "hull.e2e=journey",
                           "ostree=/ostree/boot.", "panic=10", "hull.entry="})
    EXPECT_NE(cmdline.find(want), std::string::npos) << want << " not in " << cmdline;
  EXPECT_EQ(trim(vm.ssh_ok("findmnt -n -o FSTYPE /boot")), "ext4");

  json st = guest_status(vm);
  EXPECT_EQ(st["status"]["booted"]["image"]["image"]["image"], j->image_ref) << st.dump(2);
  EXPECT_EQ(booted_digest(st), j->v1_digest) << st.dump(2);
  EXPECT_EQ(st["status"]["booted"]["image"]["image"].value("signature", ""), "containerPolicy") << st.dump(2);

  // State that must survive the upgrade: an /etc edit and /var data.
  vm.ssh_ok("sed -i 's/^setting=image$/setting=edited-in-guest/' /etc/hull-e2e.conf"
            " && grep -qx setting=edited-in-guest /etc/hull-e2e.conf"
            " && mkdir -p /var/lib/hull-e2e && echo data-from-v1 > /var/lib/hull-e2e/data && sync");
  EXPECT_EQ(trim(vm.ssh_ok("cat /etc/hull-e2e-default.conf")), "default=v1");
  j->v1_ok = !HasFailure();
}

TEST_F(JourneyTest, UpgradeToV2) {
  if (!j->v1_ok) GTEST_SKIP() << "needs the v1 boot";
  Vm& vm = *j->vm;
  double t = seconds_of([&] { j->v2_digest = j->build_os(2); });
  j->figure("v2 build + rechunk + push + sign (adds jq)", fixed(t) + " s");
  ASSERT_NE(j->v2_digest, j->v1_digest);

  // Two separate registry sessions from the guest: the check, then the upgrade.
  std::string out = vm.ssh_ok("hull upgrade --check", seconds(300));
  std::cout << "[e2e] hull upgrade --check:\n" << out << std::flush;
  EXPECT_NE(out.find("To fetch: "), std::string::npos) << out;
  t = seconds_of([&] { out = vm.ssh_ok("hull upgrade --verbose", seconds(1200)); });
  std::cout << "[e2e] hull upgrade:\n" << out << std::flush;
  j->figure("hull upgrade in the guest (fetch + stage)", fixed(t) + " s");
  // The rechunked v2 shares most files with v1: some layers come file by file.
  EXPECT_NE(out.find("file by file"), std::string::npos) << out;
  EXPECT_NE(out.find("Verified layer"), std::string::npos) << out;
  if (auto p = out.find("Fetched "); p != std::string::npos)
    j->figure("hull upgrade: fetched", out.substr(p, out.find('\n', p) - p));
  json st = guest_status(vm);
  ASSERT_FALSE(st["status"]["staged"].is_null()) << st.dump(2);
  EXPECT_EQ(st["status"]["staged"]["image"]["imageDigest"], j->v2_digest) << st.dump(2);

  t = vm.reboot();
  j->figure("reboot into v2 (finalize + boot) to marker", fixed(t) + " s");
  vm.wait_for("HULL-E2E-BOOTED version=2 ", seconds(1));
  expect_system_up(vm);
  expect_usr_readonly(vm);
  print_systemd_analyze(vm, "boot 2 (SeaBIOS, v2)");

  st = guest_status(vm);
  EXPECT_EQ(booted_digest(st), j->v2_digest) << st.dump(2);
  ASSERT_FALSE(st["status"]["rollback"].is_null()) << st.dump(2);
  EXPECT_EQ(st["status"]["rollback"]["image"]["imageDigest"], j->v1_digest) << st.dump(2);
  EXPECT_EQ(trim(vm.ssh_ok("cat /etc/hull-e2e.conf")).find("setting=edited-in-guest") != std::string::npos, true)
      << "the /etc edit was lost";
  EXPECT_EQ(trim(vm.ssh_ok("cat /var/lib/hull-e2e/data")), "data-from-v1");
  EXPECT_EQ(trim(vm.ssh_ok("cat /etc/hull-e2e-default.conf")), "default=v2") << "v2's unedited /etc default";
  EXPECT_EQ(trim(vm.ssh_ok("cat /usr/share/hull-e2e-new")), "added with jq");
  // A good update is blessed on its first boot: armed at finalization,
  // checked, its trial over.
  EXPECT_FALSE(st["status"].contains("trial")) << st.dump(2);
  EXPECT_NE(vm.ssh_ok("journalctl -b -u hull-boot-assess -o cat").find("passed its trial on boot 1 of 3"),
            std::string::npos) << vm.ssh("journalctl -b -u hull-boot-assess -u hull-health-check -o cat").out;
  EXPECT_TRUE(vm.ssh("echo '{\"a\":2}' | jq -e .a").ok()) << "the package added in v2 (jq)";
  EXPECT_TRUE(vm.ssh("dpkg -s jq").ok()) << "dpkg's database does not list v2's jq";

  // v3, unsigned, pushed over the same tag: the host was installed with
  // --enforce-container-sigpolicy and takes only signed images. (v3 is also
  // broken on purpose, init=/bin/false: signed later, it is the bad update
  // the timer brings in step 4.)
  t = seconds_of([&] { j->v3_digest = j->build_os(3, /*sign=*/false, "init"); });
  j->figure("v3 build + rechunk + push, unsigned (init=/bin/false)", fixed(t) + " s");
  ProcessResult up = vm.ssh("hull upgrade");
  std::cout << "[e2e] hull upgrade to the unsigned v3:\n" << up.out << up.err << std::flush;
  EXPECT_FALSE(up.ok()) << "an unsigned image was accepted";
  EXPECT_NE((up.out + up.err).find("sigstoreSigned"), std::string::npos) << up.out << up.err;
  st = guest_status(vm);
  EXPECT_TRUE(st["status"]["staged"].is_null()) << st.dump(2);
  EXPECT_EQ(booted_digest(st), j->v2_digest) << st.dump(2);
  j->v2_ok = !HasFailure();
}

// Counts the kernels started since the last mark (one per boot).
int kernel_boots(Vm& vm, size_t from) {
  std::string log = vm.serial().substr(from);
  int n = 0;
  for (size_t p = 0; (p = log.find("Linux version ", p)) != std::string::npos; p++) n++;
  return n;
}

json failed_update(Vm& vm) {
  json st = guest_status(vm);
  return st["status"].contains("failedUpdate") ? st["status"]["failedUpdate"] : json();
}

// A required health check that fails, on the deployment a rollback puts on
// trial (v1, with a check added to its own /etc). With tries = 1 (CI time:
// boot_counting_test counts several tries through GRUB's own grub-editenv)
// the host boots it, records why and resets itself, then GRUB falls back to
// v2 and hull makes that permanent -- no command from the test between.
TEST_F(JourneyTest, FailingCheckFallsBackOnSeaBios) {
  if (!j->v2_ok) GTEST_SKIP() << "needs the v2 boot";
  Vm& vm = *j->vm;
  vm.ssh_ok("mkdir -p /etc/hull && printf 'tries = 1\\n' > /etc/hull/boot.toml");
  std::cout << "[e2e] hull rollback:\n" << vm.ssh_ok("hull rollback") << std::flush;
  json st = guest_status(vm);
  ASSERT_TRUE(st["status"].contains("trial")) << st.dump(2);
  EXPECT_EQ(st["status"]["trial"]["checksum"], st["status"]["rollback"]["ostree"]["checksum"]) << st.dump(2);
  EXPECT_EQ(st["status"]["trial"]["tries"], 1);
  std::string v1_etc = fmt::format("/ostree/deploy/{}/deploy/{}.{}/etc", st["status"]["rollback"]["ostree"]["stateroot"].get<std::string>(),
                                   st["status"]["rollback"]["ostree"]["checksum"].get<std::string>(),
                                   st["status"]["rollback"]["ostree"]["deploySerial"].get<int>());
  vm.ssh_ok("mkdir -p " + v1_etc + "/hull/check/required.d && printf '#!/bin/sh\\necho \"hull-e2e: the service does not answer\"\\nexit 1\\n'"
            " > " + v1_etc + "/hull/check/required.d/50-hull-e2e && chmod 0755 " + v1_etc + "/hull/check/required.d/50-hull-e2e");
  size_t from = vm.serial().size();
  double t = vm.reboot(seconds(1800), "HULL-E2E-BOOTED version=2 ");
  j->figure("v1 on trial: a failed boot and the fallback to v2", fixed(t) + " s");
  EXPECT_EQ(kernel_boots(vm, from), 2) << "expected v1, then v2";
  expect_system_up(vm);

  st = guest_status(vm);
  EXPECT_EQ(booted_digest(st), j->v2_digest) << st.dump(2);
  EXPECT_EQ(st["status"]["rollback"]["image"]["imageDigest"], j->v1_digest) << st.dump(2);
  EXPECT_FALSE(st["status"]["rollbackQueued"].get<bool>()) << "the fallback was not made permanent";
  EXPECT_FALSE(st["status"].contains("trial")) << st.dump(2);
  json f = failed_update(vm);
  ASSERT_FALSE(f.is_null()) << st.dump(2);
  EXPECT_EQ(f["image"]["imageDigest"], j->v1_digest);
  EXPECT_EQ(f["boots"], 1);
  EXPECT_NE(f["reasons"].dump().find("required check 50-hull-e2e failed (exit 1): hull-e2e: the service does not answer"),
            std::string::npos) << f.dump(2);
  std::string human = vm.ssh_ok("hull status --format humanreadable");
  std::cout << "[e2e] hull status after the fallback:\n" << human << std::flush;
  EXPECT_NE(human.find("Failed update: "), std::string::npos) << human;
  EXPECT_NE(vm.ssh_ok("journalctl -b -u hull-boot-assess -o cat").find("failed its trial"), std::string::npos);
  j->fallback_ok = !HasFailure();
}

// Under OVMF, the update timer (shortened by a drop-in) brings v3, now
// signed: outside the reboot window of /etc/hull/updates.toml it only
// stages it; inside, it reboots into it. v3 never reaches userspace
// (init=/bin/false: a panic, then panic=10 resets it): GRUB's count alone
// brings v2 back, and upgrades do not take v3 again.
TEST_F(JourneyTest, UefiTimerBringsABadUpdateAndGrubFallsBack) {
  if (!j->fallback_ok) GTEST_SKIP() << "needs the SeaBIOS fallback";
  j->vm->poweroff();
  j->vm.reset();
  double t = boot(j->vm, j->disk, Firmware::kOvmf, "ovmf", 2);
  j->figure("boot under OVMF (v2) to marker", fixed(t) + " s");
  Vm& vm = *j->vm;
  EXPECT_TRUE(vm.ssh("test -d /sys/firmware/efi").ok()) << "not booted through UEFI";
  expect_system_up(vm);

  j->sign_os(j->v3_digest);
  // A drop-in makes the timer fire 2 s after it is (re)started; the window
  // starts two hours from now.
  vm.ssh_ok("printf 'tries = 1\\n' > /etc/hull/boot.toml"
            " && mkdir -p /etc/systemd/system/hull-fetch-apply-updates.timer.d"
            " && printf '[Timer]\\nOnBootSec=\\nOnUnitInactiveSec=\\nOnActiveSec=2s\\nRandomizedDelaySec=0\\n'"
            " > /etc/systemd/system/hull-fetch-apply-updates.timer.d/e2e.conf"
            " && h=$(date +%H) && printf '[reboot]\\nhours = \"%02d:00-%02d:00\"\\n' $(( (10#$h + 2) % 24 )) $(( (10#$h + 3) % 24 ))"
            " > /etc/hull/updates.toml"
            " && systemctl daemon-reload && systemctl restart hull-fetch-apply-updates.timer");
  json st;
  for (int i = 0; i < 120; i++) {
    st = guest_status(vm);
    if (!st["status"]["staged"].is_null() &&
        trim(vm.ssh("systemctl is-active hull-fetch-apply-updates.service").out) != "activating")
      break;
    std::this_thread::sleep_for(seconds(5));
  }
  std::string journal = vm.ssh("journalctl -u hull-fetch-apply-updates -o cat").out;
  std::cout << "[e2e] the timer outside its window:\n" << journal << std::flush;
  ASSERT_FALSE(st["status"]["staged"].is_null()) << "the timer staged nothing";
  EXPECT_EQ(st["status"]["staged"]["image"]["imageDigest"], j->v3_digest);
  EXPECT_EQ(booted_digest(st), j->v2_digest) << "rebooted outside the window";

  // Inside the window (the default: any time) the next run reboots into it.
  vm.mark();
  size_t from = vm.serial().size();
  vm.ssh_ok("rm /etc/hull/updates.toml && systemctl restart hull-fetch-apply-updates.timer");
  t = vm.wait_for_reboot("HULL-E2E-BOOTED version=2 ", seconds(1500));
  j->figure("timer inside its window: v3 (panics) and the fallback to v2 (OVMF)", fixed(t) + " s");
  EXPECT_NE(vm.serial().find("Attempted to kill init", from), std::string::npos) << "v3 was not booted";
  EXPECT_EQ(kernel_boots(vm, from), 2) << "expected v3, then v2";
  expect_system_up(vm);
  st = guest_status(vm);
  EXPECT_EQ(booted_digest(st), j->v2_digest) << st.dump(2);
  json f = failed_update(vm);
  ASSERT_FALSE(f.is_null()) << st.dump(2);
  EXPECT_EQ(f["image"]["imageDigest"], j->v3_digest);
  EXPECT_NE(f["reasons"].dump().find("1 of 1 boots never reached boot-complete.target"), std::string::npos) << f.dump(2);
  // Not retried on its own.
  std::string up = vm.ssh_ok("hull upgrade", seconds(300));
  EXPECT_NE(up.find("failed to boot here"), std::string::npos) << up;
  EXPECT_TRUE(guest_status(vm)["status"]["staged"].is_null());
  vm.poweroff();
  j->vm.reset();
}

}  // namespace
}  // namespace hull::test
