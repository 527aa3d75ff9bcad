// Hostile layers: hand-made tar streams that try to leave the tree or to
// smuggle in what an image must not hold. Each pull must fail with one line
// naming the layer and the path, leave no ref, and write nothing outside
// the repository (a canary tree beside it, and the host's /etc/passwd, stay
// as they were).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "integration/store_tree.h"
#include "support/images.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/hash.h"

namespace hull::test {
namespace {

namespace fs = std::filesystem;

TarEntry dir(std::string path) { return {.path = std::move(path), .kind = TarEntry::kDir, .mode = 0755}; }
TarEntry file(std::string path, std::string content = "x\n") {
  return {.path = std::move(path), .content = std::move(content)};
}

struct HostileCase {
  const char* name;
  std::vector<TarEntry> layer;  // the second layer, on top of a good one
  std::string path;             // the path the error must name (as quoted by the reader)
  std::string why;              // a part of the reason
};

std::vector<HostileCase> cases() {
  std::string long_name(256, 'n');
  std::string huge_name(5000, 'n');  // pax headers carry any length
  return {
      {"dotdot", {file("../etc/passwd", "root::0:0::/:/bin/sh\n")}, "\"../etc/passwd\"", ".."},
      {"dotdot-deep", {dir("usr/"), file("usr/../../canary/etc/passwd", "pwned\n")}, "\"usr/../../canary/etc/passwd\"",
       ".."},
      {"symlink-escape",
       {dir("usr/"), {.path = "usr/evil", .kind = TarEntry::kSymlink, .target = "../../canary/etc/passwd", .mode = 0777}},
       "\"usr/evil\"", "escapes the tree"},
      {"hardlink-out",
       {dir("usr/"), file("usr/ok"), {.path = "usr/hl", .kind = TarEntry::kHardlink, .target = "../../etc/passwd"}},
       "\"usr/hl\"", "hardlink target"},
      {"hardlink-absent",
       {dir("usr/"), {.path = "usr/hl", .kind = TarEntry::kHardlink, .target = "etc/passwd"}},
       "\"usr/hl\"", "is not an earlier file of this layer"},
      {"chardev", {dir("usr/"), {.path = "usr/null", .kind = TarEntry::kCharDev, .mode = 0666}}, "\"usr/null\"",
       "character device refused"},
      {"blockdev",
       {dir("usr/"), {.path = "usr/sda", .kind = TarEntry::kBlockDev, .mode = 0660, .rdev_major = 8, .rdev_minor = 0}},
       "\"usr/sda\"", "block device refused"},
      {"fifo", {dir("usr/"), {.path = "usr/fifo", .kind = TarEntry::kFifo, .mode = 0644}}, "\"usr/fifo\"",
       "FIFO refused"},
      // Long names are quoted shortened (start…end, with the length).
      {"long-name", {dir("usr/"), file("usr/" + long_name)}, "\"usr/nnnn", "(260 bytes): a component is 256 bytes"},
      {"huge-name", {dir("usr/"), file("usr/" + huge_name)}, "\"usr/nnnn",
       "(5004 bytes): a component is 5000 bytes (limit 255)"},
      {"whiteout-dir", {dir("usr/"), file("usr/.wh.x/y")}, "\"usr/.wh.x/y\"", "last component"},
      {"through-symlink",
       {dir("usr/"), {.path = "usr/link", .kind = TarEntry::kSymlink, .target = "/", .mode = 0777},
        file("usr/link/canary/etc/passwd", "pwned\n")},
       "\"usr/link/canary/etc/passwd\"", "replace file with directory"},
  };
}

// Every path under `root` (relative) with its content for files, skipping
// the subtrees in `skip`.
std::map<std::string, std::string> snapshot(const std::string& root, const std::set<std::string>& skip) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = fs::relative(it->path(), root).string();
    if (skip.count(rel)) {
      it.disable_recursion_pending();
      continue;
    }
    out[rel] = it->is_regular_file() && !it->is_symlink() ? read_file(it->path().string()) : "";
  }
  return out;
}

TEST(StoreHostile, LayersThatLeaveTheTreeAreRefused) {
  TempDir tmp("hull-hostile");
  std::string canary = tmp.path() + "/canary";
  make_dirs(canary + "/etc");
  write_file_atomic(canary + "/etc/passwd", "canary\n");
  std::string pull_tmp = tmp.path() + "/pull-tmp";
  make_dirs(pull_tmp);
  store::Repo repo = store::create_repo(tmp.path() + "/repo", OSTREE_REPO_MODE_BARE);
  std::string layout = tmp.path() + "/layout";
  std::string good = make_tar(fake_kernel_entries());
  std::string host_passwd = sha256_hex(read_file("/etc/passwd"));
  const std::set<std::string> skip = {"repo", "layout"};
  auto before = snapshot(tmp.path(), skip);

  for (const HostileCase& c : cases()) {
    SCOPED_TRACE(c.name);
    HandImage img;
    img.layers = {good, make_tar(c.layer)};
    WrittenImage w = write_oci_layout(layout, c.name, img);
    std::string imgref = "oci:" + layout + ":" + c.name;
    std::string err = error_of([&] { pull(repo.get(), imgref, pull_tmp); });
    // "pulling IMG: importing layer sha256:<12 hex>: "PATH": why", one line.
    std::string prefix = "pulling " + imgref + ": importing layer " + w.layer_digests[1].substr(0, 19) + ": ";
    EXPECT_EQ(err.substr(0, prefix.size()), prefix) << err;
    EXPECT_NE(err.find(c.path), std::string::npos) << err;
    EXPECT_NE(err.find(c.why), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
    EXPECT_LT(err.size(), 300u) << err;  // one short line, even for a 5,000-byte name
    // No ref, not even the good first layer's.
    EXPECT_TRUE(list_refs(repo.get()).empty());
    EXPECT_EQ(snapshot(tmp.path(), skip), before);
  }
  EXPECT_EQ(read_file(canary + "/etc/passwd"), "canary\n");
  EXPECT_EQ(sha256_hex(read_file("/etc/passwd")), host_passwd);
  EXPECT_FALSE(path_exists(tmp.path() + "/etc"));
  EXPECT_FALSE(path_exists("/canary"));
  // The repository still works: a good image imports.
  HandImage ok;
  ok.layers = {good};
  write_oci_layout(layout, "ok", ok);
  store::PullResult r = pull(repo.get(), "oci:" + layout + ":ok", pull_tmp);
  EXPECT_EQ(list_refs(repo.get()).size(), 2u);
  EXPECT_TRUE(CommitTree(repo.get(), r.image.commit).exists("usr/lib/modules/6.1.0-hull-test/initramfs.img"));
}

// A symlink of a lower layer is not followed by a higher one: the higher
// layer's directory of the same name replaces it (as overlayfs shows it),
// and the content lands inside the image.
TEST(StoreHostile, SymlinkOfALowerLayerIsReplacedNotFollowed) {
  TempDir tmp("hull-hostile");
  std::string pull_tmp = tmp.path() + "/pull-tmp";
  make_dirs(pull_tmp);
  store::Repo repo = store::create_repo(tmp.path() + "/repo", OSTREE_REPO_MODE_BARE);
  std::string layout = tmp.path() + "/layout";
  std::vector<TarEntry> l1 = fake_kernel_entries();
  l1.push_back({.path = "usr/up", .kind = TarEntry::kSymlink, .target = "../..", .mode = 0777});
  l1.push_back({.path = "usr/root", .kind = TarEntry::kSymlink, .target = "/", .mode = 0777});
  HandImage img;
  img.layers = {make_tar({dir("usr/"), {.path = "usr/root", .kind = TarEntry::kSymlink, .target = "/", .mode = 0777}}),
                make_tar({dir("usr/"), dir("usr/root/"), dir("usr/root/etc/"), file("usr/root/etc/passwd", "inside\n")}),
                make_tar(fake_kernel_entries())};
  write_oci_layout(layout, "1", img);
  store::PullResult r = pull(repo.get(), "oci:" + layout + ":1", pull_tmp);
  CommitTree t(repo.get(), r.image.commit);
  EXPECT_TRUE(t.stat("usr/root")->is_dir());
  EXPECT_EQ(t.read("usr/root/etc/passwd"), "inside\n");
  EXPECT_FALSE(t.exists("usr/etc/passwd"));
  // An escaping symlink is refused even in the first layer.
  HandImage bad;
  bad.layers = {make_tar(l1)};
  WrittenImage w = write_oci_layout(layout, "2", bad);
  std::string err = error_of([&] { pull(repo.get(), "oci:" + layout + ":2", pull_tmp); });
  EXPECT_NE(err.find("importing layer " + w.layer_digests[0].substr(0, 19) + ": \"usr/up\": symlink target \"../..\" escapes the tree"),
            std::string::npos)
      << err;
}

}  // namespace
}  // namespace hull::test
