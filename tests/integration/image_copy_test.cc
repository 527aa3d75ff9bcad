// `hull image copy` / `hull image inspect` as a user runs them, against the
// real docker-registry, with images built by buildah and read back by
// skopeo and buildah.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/registry.h"
#include "util/fd.h"
#include "util/hash.h"
#include "util/file.h"

namespace hull::test {
namespace {

const std::string kHull = HULL_BIN;

// buildah with its own storage, so tests running in parallel share nothing.
struct Buildah {
  TempDir dir{"hull-buildah"};
  std::vector<std::string> cmd(std::vector<std::string> args) const {
    std::vector<std::string> v = {"buildah", "--root", dir.path() + "/root", "--runroot", dir.path() + "/run",
                                  "--storage-driver", "vfs"};
    v.insert(v.end(), args.begin(), args.end());
    return v;
  }
  // Builds a small image from scratch (busybox, one RUN, a label) for
  // `arch`; returns its local name.
  std::string build(const std::string& tag, const std::string& marker, const std::string& arch = "amd64") const {
    std::string ctx = dir.path() + "/ctx-" + tag;
    make_dirs(ctx);
    run_ok({"cp", "/bin/busybox", ctx + "/busybox"});
    std::string containerfile = "FROM scratch\nCOPY busybox /bin/busybox\n";
    // RUN needs the host's architecture; other architectures get COPY only.
    if (arch == "amd64")
      containerfile += "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox mkdir -p /etc && echo " + marker +
                       " > /etc/marker\"]\n";
    containerfile += "LABEL containers.bootc=1 org.opencontainers.image.version=" + marker + "\n";
    write_file_atomic(ctx + "/Containerfile", containerfile);
    std::string name = "localhost/hull-test/" + tag;
    run_ok(cmd({"bud", "--isolation", "chroot", "--arch", arch, "-q", "-t", name, ctx}));
    return name;
  }
};

ProcessResult hull(std::vector<std::string> args) {
  args.insert(args.begin(), kHull);
  return run(args);
}

std::string skopeo_digest(const std::string& ref) {
  auto j = nlohmann::json::parse(run_ok({"skopeo", "inspect", "--tls-verify=false", "docker://" + ref}));
  return j["Digest"];
}

std::string layout_digest(const std::string& dir, const std::string& name) {
  auto j = nlohmann::json::parse(read_file(dir + "/index.json"));
  for (auto& m : j["manifests"])
    if (m["annotations"]["org.opencontainers.image.ref.name"] == name) return m["digest"];
  return "";
}

// One line on stderr, naming what and why, and a non-zero exit.
void expect_one_line_error(const ProcessResult& r, const std::vector<std::string>& parts) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << "missing \"" << p << "\" in: " << r.err;
}

TEST(ImageCopy, BuildahPushedImagePulledWithSkopeosDigest) {
  LocalRegistry reg;
  Buildah b;
  std::string img = b.build("bb", "v1");
  std::string ref = reg.host() + "/test/bb:1";
  run_ok(b.cmd({"push", "-q", "--tls-verify=false", img, "docker://" + ref}));
  std::string want = skopeo_digest(ref);

  TempDir tmp("hull-test");
  std::string dir = tmp.path() + "/layout";
  auto r = hull({"image", "copy", "--quiet", "docker://" + ref, "oci:" + dir + ":1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // --quiet
  EXPECT_EQ(layout_digest(dir, "1"), want);

  // skopeo reads what hull wrote.
  auto s = nlohmann::json::parse(run_ok({"skopeo", "inspect", "oci:" + dir + ":1"}));
  EXPECT_EQ(s["Digest"], want);

  // inspect agrees on both transports.
  auto i1 = nlohmann::json::parse(run_ok({kHull, "image", "inspect", "docker://" + ref}));
  auto i2 = nlohmann::json::parse(run_ok({kHull, "image", "inspect", "oci:" + dir + ":1"}));
  EXPECT_EQ(i1["Digest"], want);
  EXPECT_EQ(i2["Digest"], want);
  EXPECT_EQ(i1["Labels"]["containers.bootc"], "1");
  EXPECT_EQ(i1["Architecture"], "amd64");
  EXPECT_FALSE(i1["Layers"].empty());
  EXPECT_EQ(i1["Layers"], i2["Layers"]);
  // --raw is the manifest byte for byte.
  std::string raw = run_ok({kHull, "image", "inspect", "--raw", "docker://" + ref});
  EXPECT_EQ("sha256:" + sha256_hex(raw), want);

  // A second copy fetches nothing.
  auto again = hull({"image", "copy", "docker://" + ref, "oci:" + dir + ":again"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("Copied 0 blobs"), std::string::npos) << again.err;
}

TEST(ImageCopy, HullPushedImageReadBySkopeoAndBuildah) {
  LocalRegistry reg;
  Buildah b;
  std::string img = b.build("bb", "v2");
  TempDir tmp("hull-test");
  std::string dir = tmp.path() + "/layout";
  run_ok(b.cmd({"push", "-q", img, "oci:" + dir + ":v2"}));
  std::string want = layout_digest(dir, "v2");
  ASSERT_FALSE(want.empty());

  for (std::string chunk : {"0", "100000"}) {
    std::string ref = reg.host() + "/pushed/bb-" + chunk + ":v2";
    auto r = hull({"image", "copy", "--quiet", "--dest-chunk-size", chunk, "oci:" + dir + ":v2", "docker://" + ref});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(skopeo_digest(ref), want);
    run_ok({"skopeo", "copy", "-q", "--src-tls-verify=false", "docker://" + ref, "oci:" + tmp.path() + "/sk-" + chunk});
    run_ok(b.cmd({"pull", "-q", "--tls-verify=false", "docker://" + ref}));
    std::string out = run_ok(b.cmd({"inspect", "--format", "{{.FromImageDigest}}", ref}));
    EXPECT_NE(out.find(want), std::string::npos) << out;
  }
}

TEST(ImageCopy, ArchiveRoundTripKeepsDigest) {
  LocalRegistry reg;
  Buildah b;
  std::string ref = reg.host() + "/test/bb:1";
  run_ok(b.cmd({"push", "-q", "--tls-verify=false", b.build("bb", "v1"), "docker://" + ref}));
  std::string want = skopeo_digest(ref);
  TempDir tmp("hull-test");
  std::string tar = tmp.path() + "/img.tar";
  ASSERT_EQ(hull({"image", "copy", "-q", "docker://" + ref, "oci-archive:" + tar + ":1"}).exit_code, 0);
  // skopeo reads the archive hull wrote.
  EXPECT_EQ(nlohmann::json::parse(run_ok({"skopeo", "inspect", "oci-archive:" + tar + ":1"}))["Digest"], want);
  auto r = hull({"image", "copy", "-q", "oci-archive:" + tar + ":1", "docker://" + reg.host() + "/back/bb:1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(skopeo_digest(reg.host() + "/back/bb:1"), want);
}

TEST(ImageCopy, IndexSelectsHostPlatformOrCopiesAll) {
  LocalRegistry reg;
  Buildah b;
  std::string amd = b.build("amd", "v1", "amd64");
  std::string arm = b.build("arm", "v1", "arm64");
  run_ok(b.cmd({"manifest", "create", "localhost/hull-test/list"}));
  run_ok(b.cmd({"manifest", "add", "localhost/hull-test/list", amd}));
  run_ok(b.cmd({"manifest", "add", "localhost/hull-test/list", arm}));
  std::string ref = reg.host() + "/multi/bb:1";
  run_ok(b.cmd({"manifest", "push", "-q", "--all", "--tls-verify=false", "localhost/hull-test/list", "docker://" + ref}));

  TempDir tmp("hull-test");
  auto host = nlohmann::json::parse(run_ok({kHull, "image", "inspect", "docker://" + ref}));
  EXPECT_EQ(host["Architecture"], "amd64");
  auto armj = nlohmann::json::parse(run_ok({kHull, "image", "inspect", "--platform", "linux/arm64", "docker://" + ref}));
  EXPECT_EQ(armj["Architecture"], "arm64");
  auto bad = hull({"image", "inspect", "--platform", "linux/s390x", "docker://" + ref});
  expect_one_line_error(bad, {"linux/s390x", "linux/amd64", "linux/arm64"});

  // Default: the host's image only, under the name.
  ASSERT_EQ(hull({"image", "copy", "-q", "docker://" + ref, "oci:" + tmp.path() + "/one:1"}).exit_code, 0);
  EXPECT_EQ(layout_digest(tmp.path() + "/one", "1"), host["Digest"]);
  // --all: the index itself, with both images.
  ASSERT_EQ(hull({"image", "copy", "-q", "--all", "docker://" + ref, "oci:" + tmp.path() + "/all:1"}).exit_code, 0);
  std::string raw = run_ok({kHull, "image", "inspect", "--raw", "docker://" + ref});
  EXPECT_EQ(layout_digest(tmp.path() + "/all", "1"), "sha256:" + sha256_hex(raw));
  EXPECT_EQ(nlohmann::json::parse(run_ok({kHull, "image", "inspect", "--platform", "linux/arm64",
                                          "oci:" + tmp.path() + "/all:1"}))["Digest"],
            armj["Digest"]);
}

TEST(ImageCopy, BasicAuthFromAuthfile) {
  LocalRegistry::Options o;
  o.auth = LocalRegistry::Auth::kBasic;
  LocalRegistry reg(o);
  Buildah b;
  TempDir tmp("hull-test");
  run_ok(b.cmd({"push", "-q", b.build("bb", "v1"), "oci:" + tmp.path() + "/src:1"}));
  std::string ref = reg.host() + "/private/bb:1";

  // No credentials: a clear refusal, nothing pushed.
  TempDir home("hull-home");
  auto denied = run({"env", "HOME=" + home.path(), "XDG_RUNTIME_DIR=" + home.path(), kHull, "image", "copy", "-q",
                     "oci:" + tmp.path() + "/src:1", "docker://" + ref});
  expect_one_line_error(denied, {reg.host() + "/private/bb", "401"});

  std::string authfile = reg.write_authfile();
  auto ok = hull({"image", "copy", "-q", "--authfile", authfile, "oci:" + tmp.path() + "/src:1", "docker://" + ref});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  auto back = hull({"image", "copy", "-q", "--authfile", authfile, "docker://" + ref, "oci:" + tmp.path() + "/back:1"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(layout_digest(tmp.path() + "/back", "1"), layout_digest(tmp.path() + "/src", "1"));
}

TEST(ImageCopy, ErrorsNameTheImageAndLeaveTheDestinationAlone) {
  LocalRegistry reg;
  Buildah b;
  TempDir tmp("hull-test");
  std::string dir = tmp.path() + "/layout";
  run_ok(b.cmd({"push", "-q", b.build("bb", "v1"), "oci:" + dir + ":keep"}));
  std::string index_before = read_file(dir + "/index.json");
  auto count_files = [&] {
    size_t n = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir)) n += e.is_regular_file();
    return n;
  };
  size_t files_before = count_files();

  auto missing = hull({"image", "copy", "-q", "docker://" + reg.host() + "/nope/nothing:1", "oci:" + dir + ":x"});
  expect_one_line_error(missing, {reg.host() + "/nope/nothing", "404"});

  int port = free_port();
  auto down = hull({"image", "copy", "-q", "docker://127.0.0.1:" + std::to_string(port) + "/x/y:1", "oci:" + dir + ":x"});
  expect_one_line_error(down, {"127.0.0.1:" + std::to_string(port), "connect"});

  auto badref = hull({"image", "copy", "-q", "docker://Not/Valid:1", "oci:" + dir + ":x"});
  expect_one_line_error(badref, {"Not/Valid", "invalid"});

  auto noimage = hull({"image", "copy", "-q", "oci:" + dir + ":absent", "oci:" + tmp.path() + "/other"});
  expect_one_line_error(noimage, {"absent", "keep"});

  EXPECT_EQ(read_file(dir + "/index.json"), index_before);
  EXPECT_EQ(count_files(), files_before);
}

TEST(Cli, VersionHelpAndBootcName) {
  auto v = hull({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(v.out.starts_with("hull ")) << v.out;
  TempDir tmp("hull-test");
  std::string link = tmp.path() + "/bootc";
  ASSERT_EQ(symlink(kHull.c_str(), link.c_str()), 0);
  auto bv = run({link, "--version"});
  EXPECT_TRUE(bv.out.starts_with("bootc ")) << bv.out;

  auto help = hull({"image", "copy", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--dest-tls-verify"), std::string::npos);

  auto typo = hull({"imgae"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("did you mean 'image'"), std::string::npos) << typo.err;
  auto typo2 = run({link, "image", "cpy"});
  EXPECT_NE(typo2.err.find("did you mean 'copy'"), std::string::npos) << typo2.err;
}

}  // namespace
}  // namespace hull::test
