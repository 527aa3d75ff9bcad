// `hull image rechunk` as a user runs it: two builds of a small Debian-like
// tree (a fake dpkg database in usr/lib/sysimage/dpkg) that differ in one
// package, rechunked, compared layer by layer, and read back by skopeo,
// buildah and hull.
#include <sys/stat.h>
#include <sys/xattr.h>

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "support/images.h"
#include "support/process.h"
#include "support/registry.h"
#include "util/file.h"

namespace hull::test {
namespace {

const std::string kHull = HULL_BIN;

ProcessResult hull(std::vector<std::string> args) {
  args.insert(args.begin(), kHull);
  return run(args);
}

// Content that does not compress away and differs by `seed`.
std::string blob(size_t n, int seed) {
  std::string s(n, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(seed + 1);
  for (auto& c : s) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

std::string status_paragraph(const std::string& pkg, const std::string& version, const std::string& source = "") {
  std::string s = "Package: " + pkg + "\nStatus: install ok installed\nPriority: optional\nInstalled-Size: 100\n";
  if (!source.empty()) s += "Source: " + source + "\n";
  return s + "Version: " + version + "\nDescription: test\n\n";
}

// The tree of build `gamma_version` (1 or 2): gamma's files, its .md5sums,
// the status file and ld.so.cache change with it, nothing else.
HandImage debian_like(int gamma_version) {
  const std::string db = "usr/lib/sysimage/dpkg/";
  std::vector<TarEntry> base = {
      {"usr/", TarEntry::kDir, "", "", 0755},
      {"usr/bin/", TarEntry::kDir, "", "", 0755},
      {"usr/lib/", TarEntry::kDir, "", "", 0755},
      {"usr/lib/alpha/", TarEntry::kDir, "", "", 0750, 1000, 1000},
      {"usr/lib/gamma/", TarEntry::kDir, "", "", 0755},
      {"usr/lib/sysimage/", TarEntry::kDir, "", "", 0755},
      {db, TarEntry::kDir, "", "", 0755},
      {db + "info/", TarEntry::kDir, "", "", 0755},
      {"var/", TarEntry::kDir, "", "", 0755},
      {"var/lib/", TarEntry::kDir, "", "", 0755},
      {"var/lib/dpkg", TarEntry::kSymlink, "", "../../usr/lib/sysimage/dpkg", 0777},
      {"bin", TarEntry::kSymlink, "", "usr/bin", 0777},
      {"etc/", TarEntry::kDir, "", "", 0755},
      {"etc/config", TarEntry::kFile, "key=value\n"},
      {"etc/removed", TarEntry::kFile, "gone in layer 2\n"},
      {"etc/ld.so.cache", TarEntry::kFile, "cache " + std::to_string(gamma_version) + "\n"},
      // alpha: big, with a setuid binary, a hardlink, an owner, an xattr
      {"usr/bin/alpha", TarEntry::kFile, blob(1500000, 1), "", 04755},
      {"usr/bin/alpha-too", TarEntry::kHardlink, "", "usr/bin/alpha"},
      {"usr/lib/alpha/data", TarEntry::kFile, "owned by 1000\n", "", 0640, 1000, 1000, {{"user.hull-test", "x1"}}},
      // beta: small, listed as /bin/beta (merged /usr)
      {"usr/bin/beta", TarEntry::kFile, "#!/bin/sh\necho beta\n", "", 0755},
      // libfoo + libfoo-bin: one source
      {"usr/lib/libfoo.so.1", TarEntry::kFile, blob(1200000, 2)},
      {"usr/bin/foo", TarEntry::kFile, blob(3000, 3), "", 0755},
      // gamma: the package that changes
      {"usr/lib/gamma/data", TarEntry::kFile, blob(1100000, 10 + gamma_version)},
      {"usr/bin/gamma", TarEntry::kFile, "gamma " + std::to_string(gamma_version) + "\n", "", 0755},
      // dpkg database
      {db + "status", TarEntry::kFile,
       status_paragraph("alpha", "1") + status_paragraph("beta", "1") + status_paragraph("libfoo1", "1", "foo") +
           status_paragraph("libfoo-bin", "1", "foo (1)") + status_paragraph("gamma", std::to_string(gamma_version))},
      {db + "info/format", TarEntry::kFile, "1\n"},
      {db + "info/alpha.list", TarEntry::kFile, "/.\n/usr\n/usr/bin\n/usr/bin/alpha\n/usr/bin/alpha-too\n/usr/lib/alpha\n/usr/lib/alpha/data\n"},
      {db + "info/beta.list", TarEntry::kFile, "/.\n/bin\n/bin/beta\n"},
      {db + "info/libfoo1:amd64.list", TarEntry::kFile, "/usr/lib/libfoo.so.1\n"},
      {db + "info/libfoo-bin.list", TarEntry::kFile, "/usr/bin/foo\n"},
      {db + "info/gamma.list", TarEntry::kFile, "/usr/lib/gamma\n/usr/lib/gamma/data\n/usr/bin/gamma\n"},
      {db + "info/gamma.md5sums", TarEntry::kFile, "md5 " + std::to_string(gamma_version) + "\n"},
  };
  std::vector<TarEntry> top = {
      {"etc/.wh.removed", TarEntry::kFile, ""},
      {"usr/share/", TarEntry::kDir, "", "", 0755},
      {"usr/share/extra/", TarEntry::kDir, "", "", 0755},
      {"usr/share/extra/unowned", TarEntry::kFile, "no package\n"},
  };
  HandImage img;
  img.layers = {make_tar(base), make_tar(top)};
  img.labels["org.opencontainers.image.version"] = "1";  // the same in both builds
  return img;
}

nlohmann::json manifest_of(const std::string& dir, const std::string& tag) {
  auto index = nlohmann::json::parse(read_file(dir + "/index.json"));
  for (auto& m : index["manifests"])
    if (m["annotations"]["org.opencontainers.image.ref.name"] == tag) {
      std::string d = m["digest"];
      auto j = nlohmann::json::parse(read_file(dir + "/blobs/sha256/" + d.substr(7)));
      j["_digest"] = d;
      return j;
    }
  ADD_FAILURE() << "no " << tag << " in " << dir;
  return {};
}

nlohmann::json blob_json(const std::string& dir, const std::string& digest) {
  return nlohmann::json::parse(read_file(dir + "/blobs/sha256/" + digest.substr(7)));
}

class Rechunk : public ::testing::Test {
 protected:
  void SetUp() override {
    write_oci_layout(in_, "v1", debian_like(1));
    write_oci_layout(in_, "v2", debian_like(2));
  }
  std::string rechunk(const std::string& from, const std::string& to, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"image", "rechunk", from, to};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = hull(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.err;
  }
  TempDir tmp_{"hull-rechunk-test"};
  std::string in_ = tmp_.path() + "/in";
  std::string out_ = tmp_.path() + "/out";
};

TEST_F(Rechunk, OnePackageChangedChangesItsLayerAndTheMetadataOnly) {
  std::string summary = rechunk("oci:" + in_ + ":v1", "oci:" + out_ + ":v1");
  EXPECT_NE(summary.find("Rechunked 2 layers"), std::string::npos) << summary;
  rechunk("oci:" + in_ + ":v2", "oci:" + out_ + ":v2");
  auto m1 = manifest_of(out_, "v1"), m2 = manifest_of(out_, "v2");
  ASSERT_EQ(m1["layers"].size(), m2["layers"].size());
  auto c1 = blob_json(out_, m1["config"]["digest"]);
  auto h = c1["history"];
  ASSERT_EQ(h.size(), m1["layers"].size());
  ASSERT_EQ(c1["rootfs"]["diff_ids"].size(), m1["layers"].size());
  EXPECT_EQ(c1["config"]["Labels"]["containers.bootc"], "1");  // carried over
  std::set<std::string> labels;
  for (auto& e : h) {
    EXPECT_EQ(e["created"], "2024-01-02T03:04:05Z");
    labels.insert(e["created_by"]);
  }
  EXPECT_TRUE(labels.count("hull rechunk: packages libfoo-bin libfoo1")) << h.dump();
  EXPECT_TRUE(labels.count("hull rechunk: packages alpha")) << h.dump();
  // beta.list says /bin/beta: found at usr/bin/beta through the bin -> usr/bin link.
  EXPECT_TRUE(labels.count("hull rechunk: small packages beta")) << h.dump();
  EXPECT_TRUE(labels.count("hull rechunk: files in /usr/share/extra")) << h.dump();
  EXPECT_EQ(h.back()["created_by"], "hull rechunk: dpkg database and files that change with every build");

  std::vector<std::string> differing;
  for (size_t i = 0; i < m1["layers"].size(); i++)
    if (m1["layers"][i]["digest"] != m2["layers"][i]["digest"]) differing.push_back(h[i]["created_by"]);
  EXPECT_EQ(differing, (std::vector<std::string>{"hull rechunk: packages gamma",
                                                 "hull rechunk: dpkg database and files that change with every build"}));

  // zstd:chunked by default; another format keeps the same tar streams.
  for (auto& l : m1["layers"]) {
    EXPECT_EQ(l["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd");
    EXPECT_TRUE(l["annotations"].contains("io.github.containers.zstd-chunked.manifest-checksum")) << l.dump();
  }
  rechunk("oci:" + in_ + ":v1", "oci:" + tmp_.path() + "/gz:v1", {"--dest-compress-format", "gzip", "--quiet"});
  auto mg = manifest_of(tmp_.path() + "/gz", "v1");
  EXPECT_EQ(mg["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
  EXPECT_EQ(blob_json(tmp_.path() + "/gz", mg["config"]["digest"])["rootfs"], c1["rootfs"]);

  // Twice: the same manifest, byte for byte.
  rechunk("oci:" + in_ + ":v1", "oci:" + tmp_.path() + "/again:v1");
  EXPECT_EQ(manifest_of(tmp_.path() + "/again", "v1")["_digest"], m1["_digest"]);

  // Every layer holds the directories of its entries.
  for (auto& l : m1["layers"]) {
    std::string d = l["digest"];
    std::string list = run_ok({"tar", "-tf", out_ + "/blobs/sha256/" + d.substr(7)});
    std::set<std::string> names;
    size_t pos = 0;
    while (pos < list.size()) {
      size_t end = list.find('\n', pos);
      std::string n = list.substr(pos, end - pos);
      pos = end + 1;
      if (n.ends_with('/')) n.pop_back();
      names.insert(n);
    }
    for (auto& n : names)
      if (auto s = n.rfind('/'); s != std::string::npos)
        EXPECT_TRUE(names.count(n.substr(0, s))) << n << " without its parent in " << d;
  }
}

TEST_F(Rechunk, ReadBySkopeoBuildahAndHullWithOwnersModesAndLinks) {
  rechunk("oci:" + in_ + ":v1", "oci:" + out_ + ":v1", {"--max-layers", "4", "--quiet"});
  EXPECT_LE(manifest_of(out_, "v1")["layers"].size(), 4u);
  run_ok({"skopeo", "copy", "-q", "oci:" + out_ + ":v1", "oci:" + tmp_.path() + "/sk:v1"});
  auto inspect = hull({"image", "inspect", "oci:" + out_ + ":v1"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(nlohmann::json::parse(inspect.out)["Labels"]["containers.bootc"], "1");

  TestImageBuilder b;
  auto storage = b.cmd({});  // buildah --root R --runroot RR --storage-driver D
  std::string store = "containers-storage:[" + storage[6] + "@" + storage[2] + "+" + storage[4] + "]";
  run_ok({"skopeo", "copy", "-q", "oci:" + out_ + ":v1", store + "localhost/rechunked:v1"});
  std::string ctr = run_ok(b.cmd({"from", "-q", "localhost/rechunked:v1"}));
  while (!ctr.empty() && ctr.back() == '\n') ctr.pop_back();
  std::string root = run_ok(b.cmd({"mount", ctr}));
  while (!root.empty() && root.back() == '\n') root.pop_back();
  struct stat st;
  ASSERT_EQ(::lstat((root + "/usr/bin/alpha").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_size, 1500000);
  ino_t alpha_ino = st.st_ino;
  ASSERT_EQ(::lstat((root + "/usr/bin/alpha-too").c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, alpha_ino);  // the hardlink survived
  ASSERT_EQ(::lstat((root + "/usr/lib/alpha").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, 1000u);
  ASSERT_EQ(::lstat((root + "/usr/lib/alpha/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1000u);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(read_file(root + "/usr/bin/beta"), "#!/bin/sh\necho beta\n");
  EXPECT_EQ(read_file(root + "/etc/config"), "key=value\n");  // /etc stays /etc
  EXPECT_FALSE(path_exists(root + "/usr/etc"));
  EXPECT_FALSE(path_exists(root + "/etc/removed"));  // the whiteout was applied
  EXPECT_EQ(read_file(root + "/usr/share/extra/unowned"), "no package\n");
  ASSERT_EQ(::lstat((root + "/bin").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  char x[16];
  ssize_t xn = ::lgetxattr((root + "/usr/lib/alpha/data").c_str(), "user.hull-test", x, sizeof x);
  EXPECT_EQ(xn > 0 ? std::string(x, static_cast<size_t>(xn)) : "", "x1");
  run(b.cmd({"umount", ctr}));
  run(b.cmd({"rm", ctr}));
}

// Straight into a registry: the same manifest as in a layout, read by skopeo.
TEST_F(Rechunk, ToARegistryGivesTheSameManifest) {
  LocalRegistry reg;
  std::string ref = reg.host() + "/rechunked/os:1";
  rechunk("oci:" + in_ + ":v2", "docker://" + ref, {"--quiet"});
  rechunk("oci:" + in_ + ":v2", "oci:" + out_ + ":v2", {"--quiet"});
  auto j = nlohmann::json::parse(run_ok({"skopeo", "inspect", "--tls-verify=false", "docker://" + ref}));
  EXPECT_EQ(j["Digest"], manifest_of(out_, "v2")["_digest"]);
  EXPECT_EQ(j["Labels"]["containers.bootc"], "1");
}

TEST_F(Rechunk, RefusesWhatItCannotDo) {
  auto r = hull({"image", "rechunk", "--dest-compress-format", "lz4", "oci:" + in_ + ":v1", "oci:" + out_ + ":x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("lz4"), std::string::npos) << r.err;
  r = hull({"image", "rechunk", "oci:" + in_ + ":nope", "oci:" + out_ + ":x"});
  EXPECT_NE(r.exit_code, 0);
  if (path_exists(out_ + "/index.json"))
    EXPECT_TRUE(nlohmann::json::parse(read_file(out_ + "/index.json"))["manifests"].empty());
}

}  // namespace
}  // namespace hull::test
