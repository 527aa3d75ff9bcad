// The image store (store/store.h) on a real bare repository: images built by
// buildah (tests/support/images.h) or written by hand as OCI layouts, read
// from an oci: layout or from the real docker-registry on 127.0.0.1, pulled
// with store::pull_image, and checked in the merged tree through libostree.
#include <gtest/gtest.h>

#include <filesystem>

#include "oci/manifest.h"
#include "store/import.h"
#include "store/ostree.h"
#include "store/store.h"
#include "support/images.h"
#include "support/registry.h"
#include "integration/store_tree.h"
#include "util/file.h"
#include "util/hash.h"

namespace hull::test {
namespace {

using store::PullResult;

// A bare repository in a temporary directory, and room for the pull's
// temporary blobs beside it.
struct RepoEnv {
  TempDir tmp{"hull-store-test"};
  std::string repo_path = tmp.path() + "/repo";
  std::string pull_tmp = tmp.path() + "/pull-tmp";
  store::Repo repo;
  RepoEnv() {
    make_dirs(pull_tmp);
    repo = store::create_repo(repo_path, OSTREE_REPO_MODE_BARE);
  }
  PullResult pull(const std::string& imgref) { return test::pull(repo.get(), imgref, pull_tmp); }
};

uint64_t layers_size(const oci::Manifest& m) {
  uint64_t n = 0;
  for (auto& l : m.layers) n += static_cast<uint64_t>(l.size);
  return n;
}

TarEntry dir(std::string path, uint32_t mode = 0755, uint32_t uid = 0, uint32_t gid = 0) {
  return {.path = std::move(path), .kind = TarEntry::kDir, .mode = mode, .uid = uid, .gid = gid};
}
TarEntry file(std::string path, std::string content, uint32_t mode = 0644) {
  return {.path = std::move(path), .content = std::move(content), .mode = mode};
}

// A layer that makes a hand-made image bootable.
std::string kernel_layer() { return make_tar(fake_kernel_entries()); }

// ---- buildah images --------------------------------------------------------

// Everything one image can hold, built by buildah: /etc, /usr, /var, a
// setuid file, a hardlink, a symlink, an owned file with an xattr, files
// under /run and /tmp, and whiteouts of a later layer.
TEST(Store, ImportsBuildahImageFromLayout) {
  RepoEnv env;
  TestImageBuilder b(env.tmp.path());
  TestImageSpec s;
  s.version = "1.0";
  s.files = {{"/etc/hull/app.conf", "v1\n"},
             {"/etc/hull/gone.conf", "bye\n"},
             {"/usr/lib/hull/data", "data\n"},
             {"/usr/lib/hull/gone", "gone\n"},
             {"/var/lib/hull/state", "state\n"}};
  s.entries = {dir("opt/"), dir("opt/owned/", 0750, 1000, 1001),
               {.path = "opt/owned/secret", .content = "s3cret\n", .mode = 0640, .uid = 1000, .gid = 1001,
                .xattrs = {{"user.hull", "v1"}}}};
  s.run = {"chmod 4755 /usr/lib/hull/data && ln /usr/lib/hull/data /usr/lib/hull/data-hard && "
           "ln -s data /usr/lib/hull/data-sym && mkdir -p /tmp && echo x > /tmp/dropped && echo y > /run/dropped"};
  s.remove = {"/etc/hull/gone.conf", "/usr/lib/hull/gone"};
  std::string local = b.build("full", s);
  std::string layout = env.tmp.path() + "/layout";
  std::string digest = b.push(local, "oci:" + layout + ":1");
  std::string imgref = "oci:" + layout + ":1";

  PullResult r = env.pull(imgref);
  oci::Manifest m = oci::Manifest::parse(r.image.manifest);
  // base (busybox, its symlinks) + COPY + ADD + RUN + RUN rm
  ASSERT_EQ(m.layers.size(), 6u);
  EXPECT_EQ(r.layers_fetched, 6);
  EXPECT_EQ(r.layers_reused, 0);
  EXPECT_EQ(r.bytes_fetched, layers_size(m));

  // The record: what buildah pushed.
  EXPECT_EQ(r.image.manifest_digest.str(), digest);
  EXPECT_EQ("sha256:" + sha256_hex(r.image.manifest), digest);
  EXPECT_EQ(r.image.imgref, imgref);
  EXPECT_EQ(r.image.version, "1.0");
  EXPECT_EQ(r.image.architecture, "amd64");
  EXPECT_NE(r.image.config.find("containers.bootc"), std::string::npos);
  auto ref = store::resolve_ref(env.repo.get(), store::image_ref(image::ImageName::parse(imgref)));
  ASSERT_TRUE(ref);
  EXPECT_EQ(*ref, r.image.commit);
  store::ImageRecord rec = store::read_image(env.repo.get(), r.image.commit);
  EXPECT_EQ(rec.manifest_digest.str(), digest);
  EXPECT_EQ(rec.manifest, r.image.manifest);
  EXPECT_EQ(rec.config, r.image.config);
  EXPECT_EQ(rec.version, "1.0");
  EXPECT_EQ(rec.imgref, imgref);
  EXPECT_GT(rec.timestamp, 0u);
  // One ref per layer, and the image's.
  auto refs = list_refs(env.repo.get());
  EXPECT_EQ(refs.size(), 7u);
  for (auto& l : m.layers) EXPECT_TRUE(refs.count(store::layer_ref(l.digest))) << l.digest.str();

  CommitTree t(env.repo.get(), r.image.commit);
  // /etc is /usr/etc; whiteouts of a later layer applied there and in /usr.
  EXPECT_FALSE(t.exists("etc"));
  EXPECT_EQ(t.read("usr/etc/hull/app.conf"), "v1\n");
  EXPECT_FALSE(t.exists("usr/etc/hull/gone.conf"));
  EXPECT_TRUE(t.exists("usr/etc/hosts"));  // made by buildah's RUN
  EXPECT_FALSE(t.exists("usr/lib/hull/gone"));
  EXPECT_EQ(t.read("var/lib/hull/state"), "state\n");
  // Mount points: empty directories, whatever the layers put there.
  for (const char* mp : {"dev", "proc", "sys", "run", "tmp"}) {
    auto n = t.stat(mp);
    ASSERT_TRUE(n && n->is_dir()) << mp;
    EXPECT_TRUE(t.list(mp).empty()) << mp;
  }
  EXPECT_EQ(t.stat("tmp")->mode, 01777u);
  // setuid, hardlink, symlink from the RUN layer.
  auto data = t.stat("usr/lib/hull/data");
  ASSERT_TRUE(data && data->is_file());
  EXPECT_EQ(data->mode, 04755u);
  EXPECT_EQ(t.read("usr/lib/hull/data"), "data\n");
  auto hard = t.stat("usr/lib/hull/data-hard");
  ASSERT_TRUE(hard);
  EXPECT_EQ(hard->checksum, data->checksum);
  auto sym = t.stat("usr/lib/hull/data-sym");
  ASSERT_TRUE(sym && sym->is_symlink());
  EXPECT_EQ(sym->target, "data");
  // Owner, mode and xattr from the ADDed tar.
  auto owned = t.stat("opt/owned");
  ASSERT_TRUE(owned && owned->is_dir());
  EXPECT_EQ(owned->mode, 0750u);
  EXPECT_EQ(owned->uid, 1000u);
  EXPECT_EQ(owned->gid, 1001u);
  auto secret = t.stat("opt/owned/secret");
  ASSERT_TRUE(secret && secret->is_file());
  EXPECT_EQ(secret->mode, 0640u);
  EXPECT_EQ(secret->uid, 1000u);
  EXPECT_EQ(secret->gid, 1001u);
  EXPECT_EQ(secret->xattrs["user.hull"], "v1");
  EXPECT_EQ(t.read("opt/owned/secret"), "s3cret\n");
  // The busybox base.
  auto bb = t.stat("bin/busybox");
  ASSERT_TRUE(bb && bb->is_file());
  EXPECT_EQ(bb->mode, 0755u);
  auto sh = t.stat("bin/sh");
  ASSERT_TRUE(sh && sh->is_symlink());
  EXPECT_EQ(sh->target, "/bin/busybox");
  EXPECT_TRUE(t.exists("usr/lib/modules/6.1.0-hull-test/vmlinuz"));

  // The same image again: nothing fetched, the same commit.
  PullResult again = env.pull(imgref);
  EXPECT_EQ(again.layers_fetched, 0);
  EXPECT_EQ(again.bytes_fetched, 0u);
  EXPECT_EQ(again.image.commit, r.image.commit);
  EXPECT_EQ(list_refs(env.repo.get()), refs);
}

// v1 and v2 share their base layers and differ in one: pulling v2 from the
// registry fetches that one only; prune then drops what only v1 used.
TEST(Store, UpgradeFetchesOnlyTheChangedLayerAndPruneFreesTheOld) {
  RepoEnv env;
  LocalRegistry reg;
  TestImageBuilder b(env.tmp.path());
  TestImageSpec s1;
  s1.version = "1";
  s1.files = {{"/etc/hull/app.conf", "v1\n"}, {"/usr/lib/hull/lib", "same\n"}};
  TestImageSpec s2 = s1;
  s2.version = "2";
  s2.files["/etc/hull/app.conf"] = "v2\n";
  std::string v1 = b.build("up1", s1), v2 = b.build("up2", s2);
  std::string imgref = "docker://" + reg.host() + "/hull/os:latest";

  std::string d1 = b.push(v1, imgref);
  PullResult r1 = env.pull(imgref);
  EXPECT_EQ(r1.image.manifest_digest.str(), d1);
  EXPECT_EQ(r1.image.version, "1");
  oci::Manifest m1 = oci::Manifest::parse(r1.image.manifest);
  ASSERT_EQ(m1.layers.size(), 3u);  // busybox, its symlinks, the files
  EXPECT_EQ(r1.layers_fetched, 3);
  EXPECT_EQ(r1.bytes_fetched, layers_size(m1));

  std::string d2 = b.push(v2, imgref);
  ASSERT_NE(d1, d2);
  PullResult r2 = env.pull(imgref);
  EXPECT_EQ(r2.image.manifest_digest.str(), d2);
  EXPECT_EQ(r2.image.version, "2");
  oci::Manifest m2 = oci::Manifest::parse(r2.image.manifest);
  ASSERT_EQ(m2.layers.size(), 3u);
  EXPECT_EQ(m2.layers[0].digest, m1.layers[0].digest);
  EXPECT_EQ(m2.layers[1].digest, m1.layers[1].digest);
  EXPECT_NE(m2.layers[2].digest, m1.layers[2].digest);
  EXPECT_EQ(r2.layers_fetched, 1);
  EXPECT_EQ(r2.layers_reused, 2);
  EXPECT_EQ(r2.bytes_fetched, static_cast<uint64_t>(m2.layers[2].size));
  EXPECT_NE(r2.image.commit, r1.image.commit);
  EXPECT_EQ(*store::resolve_ref(env.repo.get(), store::image_ref(image::ImageName::parse(imgref))), r2.image.commit);
  EXPECT_EQ(CommitTree(env.repo.get(), r2.image.commit).read("usr/etc/hull/app.conf"), "v2\n");
  EXPECT_TRUE(has_commit(env.repo.get(), r1.image.commit));
  EXPECT_EQ(list_refs(env.repo.get()).size(), 5u);  // 4 layers + the image

  // Only v2 is deployed: v1's own layer goes, and v1's commit with it.
  store::PruneResult p = store::prune(env.repo.get(), {r2.image.commit});
  EXPECT_EQ(p.refs_removed, 1);
  EXPECT_GT(p.objects_removed, 0);
  EXPECT_GT(p.bytes_freed, 0u);
  auto refs = list_refs(env.repo.get());
  EXPECT_EQ(refs.size(), 4u);
  EXPECT_FALSE(refs.count(store::layer_ref(m1.layers[2].digest)));
  for (auto& l : m2.layers) EXPECT_TRUE(refs.count(store::layer_ref(l.digest))) << l.digest.str();
  EXPECT_FALSE(has_commit(env.repo.get(), r1.image.commit));
  CommitTree t2(env.repo.get(), r2.image.commit);
  EXPECT_EQ(t2.read("usr/etc/hull/app.conf"), "v2\n");
  EXPECT_EQ(t2.read("usr/lib/hull/lib"), "same\n");

  // Nothing left to prune; v2 again fetches nothing.
  store::PruneResult p2 = store::prune(env.repo.get(), {r2.image.commit});
  EXPECT_EQ(p2.refs_removed, 0);
  EXPECT_EQ(p2.objects_removed, 0);
  PullResult r3 = env.pull(imgref);
  EXPECT_EQ(r3.layers_fetched, 0);
  EXPECT_EQ(r3.image.commit, r2.image.commit);
}

// ---- hand-made layouts -----------------------------------------------------

// Three layers stacked as a container runtime stacks them.
TEST(Store, StacksLayersWithWhiteoutsOpaqueDirsAndLinks) {
  RepoEnv env;
  std::vector<TarEntry> l1 = fake_kernel_entries();
  std::vector<TarEntry> more = {
      dir("usr/lib/a/", 0700, 3, 4),
      file("usr/lib/a/x", "x\n"),
      file("usr/lib/a/y", "y\n"),
      file("usr/lib/a/-dash", "dash\n"),
      dir("usr/lib/opq/"),
      file("usr/lib/opq/old", "old\n"),
      dir("usr/lib/opq/sub/"),
      file("usr/lib/opq/sub/deep", "deep\n"),
      dir("usr/lib/t/"),
      file("usr/lib/t/child", "child\n"),
      dir("usr/lib/hl/"),
      {.path = "usr/lib/hl/f", .content = "shared\n", .mode = 04750, .uid = 7, .gid = 8,
       .xattrs = {{"user.k", std::string("v\0bin", 5)}}},
      {.path = "usr/lib/hl/g", .kind = TarEntry::kHardlink, .target = "usr/lib/hl/f"},
      {.path = "usr/lib/hl/s", .kind = TarEntry::kSymlink, .target = "f", .mode = 0777},
      {.path = "usr/lib/hl/abs", .kind = TarEntry::kSymlink, .target = "/etc/keep", .mode = 0777},
      dir("usr/share/"),
      dir("usr/share/doc/"),
      file("usr/share/doc/readme", "read me\n"),
      dir("etc/"),
      file("etc/keep", "keep\n"),
      file("etc/gone", "gone\n"),
      dir("etc/sub/"),
      file("etc/sub/f", "f\n"),
      dir("var/"),
      dir("var/lib/"),
      file("var/lib/v", "v\n"),
      dir("run/"),
      file("run/x", "dropped\n"),
      dir("dev/"),
      {.path = "dev/null", .kind = TarEntry::kCharDev, .mode = 0666},
  };
  l1.insert(l1.end(), more.begin(), more.end());
  // No entries for the parent directories: they keep what lower layers said.
  std::vector<TarEntry> l2 = {
      file("usr/lib/a/.wh.x", ""),
      file("usr/lib/a/.wh.-dash", ""),
      dir("usr/lib/opq/", 0750),
      file("usr/lib/opq/.wh..wh..opq", ""),
      file("usr/lib/opq/new", "new\n"),
      file("usr/lib/t", "now a file\n"),
      file("usr/share/.wh.doc", ""),
      file("etc/.wh.gone", ""),
      file("etc/sub/.wh..wh..opq", ""),
      file("etc/sub/g", "g\n"),
  };
  // Over kInlineMax (4 MiB): streamed rather than written by the pool.
  std::string big(5 * 1024 * 1024 + 3, '\0');
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 7 + i / 4096);
  std::vector<TarEntry> l3 = {
      file("usr/lib/a/x", "x again\n"),
      file("usr/lib/dup", "first\n"),
      file("usr/lib/dup", "second\n"),  // the later entry of a path wins
      file("opt/implicit/f", "f\n"),     // parents never listed by any layer
      {.path = "usr/lib/big", .content = big, .mode = 0600, .uid = 9, .gid = 9, .xattrs = {{"user.big", "1"}}},
  };
  std::string layout = env.tmp.path() + "/layout";
  HandImage img;
  img.layers = {make_tar(l1), make_tar(l2), make_tar(l3)};
  WrittenImage w = write_oci_layout(layout, "stack", img);

  PullResult r = env.pull("oci:" + layout + ":stack");
  EXPECT_EQ(r.image.manifest_digest.str(), w.manifest_digest);
  EXPECT_EQ(r.layers_fetched, 3);
  CommitTree t(env.repo.get(), r.image.commit);

  // Whiteouts, and a file whited out then added again.
  EXPECT_EQ(t.list("usr/lib/a"), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(t.read("usr/lib/a/x"), "x again\n");
  auto a = t.stat("usr/lib/a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->mode, 0700u);
  EXPECT_EQ(a->uid, 3u);
  EXPECT_EQ(a->gid, 4u);
  // The opaque directory holds only what its own layer put there.
  EXPECT_EQ(t.list("usr/lib/opq"), (std::vector<std::string>{"new"}));
  EXPECT_EQ(t.stat("usr/lib/opq")->mode, 0750u);
  EXPECT_EQ(t.list("usr/etc/sub"), (std::vector<std::string>{"g"}));
  // A directory replaced by a file, a directory whited out.
  EXPECT_TRUE(t.stat("usr/lib/t")->is_file());
  EXPECT_EQ(t.read("usr/lib/t"), "now a file\n");
  EXPECT_TRUE(t.exists("usr/share"));
  EXPECT_FALSE(t.exists("usr/share/doc"));
  // Hardlink: the same content object; setuid, owner, binary xattr kept.
  auto f = t.stat("usr/lib/hl/f");
  auto g = t.stat("usr/lib/hl/g");
  ASSERT_TRUE(f && g);
  EXPECT_EQ(f->checksum, g->checksum);
  EXPECT_EQ(f->mode, 04750u);
  EXPECT_EQ(g->mode, 04750u);
  EXPECT_EQ(f->uid, 7u);
  EXPECT_EQ(f->gid, 8u);
  EXPECT_EQ(f->xattrs["user.k"], std::string("v\0bin", 5));
  EXPECT_EQ(t.read("usr/lib/hl/g"), "shared\n");
  EXPECT_EQ(t.stat("usr/lib/hl/s")->target, "f");
  EXPECT_EQ(t.stat("usr/lib/hl/abs")->target, "/etc/keep");
  // /etc -> /usr/etc with its whiteout; /var kept; mount points emptied.
  EXPECT_FALSE(t.exists("etc"));
  EXPECT_EQ(t.list("usr/etc"), (std::vector<std::string>{"keep", "sub"}));
  EXPECT_EQ(t.read("var/lib/v"), "v\n");
  EXPECT_TRUE(t.list("run").empty());
  EXPECT_TRUE(t.list("dev").empty());
  EXPECT_TRUE(t.list("tmp").empty());
  EXPECT_EQ(t.list(""), (std::vector<std::string>{"dev", "opt", "proc", "run", "sys", "tmp", "usr", "var"}));
  // Directories no layer listed: 0755 root, without the importer's marker.
  for (const char* d : {"", "opt", "opt/implicit", "usr/lib"}) {
    auto n = t.stat(d);
    ASSERT_TRUE(n && n->is_dir()) << d;
    EXPECT_EQ(n->mode, 0755u) << d;
    EXPECT_EQ(n->uid, 0u) << d;
    EXPECT_TRUE(n->xattrs.empty()) << d;
  }
  EXPECT_EQ(t.read("usr/lib/dup"), "second\n");
  auto bn = t.stat("usr/lib/big");
  ASSERT_TRUE(bn && bn->is_file());
  EXPECT_EQ(bn->size, big.size());
  EXPECT_EQ(bn->mode, 0600u);
  EXPECT_EQ(bn->uid, 9u);
  EXPECT_EQ(bn->xattrs["user.big"], "1");
  EXPECT_TRUE(t.read("usr/lib/big") == big);
}

// Plain (uncompressed) layers import too, and a layer listed twice in the
// manifest is fetched and imported once.
TEST(Store, PlainLayersAndALayerListedTwice) {
  RepoEnv env;
  std::string same = make_tar({dir("usr/"), dir("usr/share/"), file("usr/share/twice", "twice\n")});
  HandImage img;
  img.gzip = false;
  img.layers = {kernel_layer(), same, make_tar({dir("usr/"), file("usr/between", "b\n")}), same};
  std::string layout = env.tmp.path() + "/layout";
  write_oci_layout(layout, "twice", img);
  PullResult r = env.pull("oci:" + layout + ":twice");
  EXPECT_EQ(r.layers_fetched, 3);
  EXPECT_EQ(r.layers_reused, 1);
  CommitTree t(env.repo.get(), r.image.commit);
  EXPECT_EQ(t.read("usr/share/twice"), "twice\n");
  EXPECT_EQ(t.read("usr/between"), "b\n");
  EXPECT_EQ(list_refs(env.repo.get()).size(), 4u);  // 3 distinct layers + the image
}

// What a pull refuses, and that a refused pull leaves no ref behind.
struct Refusal {
  const char* name;
  HandImage image;
  std::string message;  // after "pulling oci:DIR:NAME: "; IMG stands for that name
};

TEST(Store, RefusesImagesThatCannotBootOrDoNotMatchTheirConfig) {
  RepoEnv env;
  std::string layout = env.tmp.path() + "/layout";
  std::string modules = make_tar({dir("usr/"), dir("usr/lib/"), dir("usr/lib/modules/"),
                                  dir("usr/lib/modules/6.1.0-x/"), file("usr/lib/modules/6.1.0-x/foo.ko", "ko")});
  std::string no_initramfs = make_tar(fake_kernel_entries("6.1.0-noinit", false));
  std::string wrong_diff_id = "sha256:" + std::string(64, 'a');

  std::vector<Refusal> cases;
  {
    HandImage i;
    i.layers = {kernel_layer()};
    i.labels = {{"org.opencontainers.image.version", "1"}};
    cases.push_back({"nolabel", i, "not a bootable image: the label containers.bootc=1 (or ostree.bootable=1) is missing"});
  }
  {
    HandImage i;
    i.layers = {kernel_layer()};
    i.labels = {{"containers.bootc", "0"}};
    cases.push_back({"label0", i, "not a bootable image: the label containers.bootc=1 (or ostree.bootable=1) is missing"});
  }
  {
    HandImage i;
    i.layers = {modules};
    cases.push_back({"nokernel", i, "IMG is not a bootable image: no kernel at /usr/lib/modules/KVER/vmlinuz"});
  }
  {
    HandImage i;
    i.layers = {no_initramfs};
    cases.push_back({"noinitramfs", i,
                     "IMG is not a bootable image: /usr/lib/modules/6.1.0-noinit/vmlinuz has no initramfs.img beside it"});
  }
  {
    HandImage i;
    i.layers = {make_tar(fake_kernel_entries("6.1.0-x", true, false))};
    cases.push_back({"noosrelease", i, "IMG is not a bootable image: no /usr/lib/os-release or /etc/os-release"});
  }
  {
    HandImage i;
    i.layers = {kernel_layer(), modules};
    i.diff_ids_override = {"", wrong_diff_id};  // filled in below
    cases.push_back({"diffid", i, ""});
  }
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string imgref = "oci:" + layout + ":" + c.name;
    HandImage img = c.image;
    if (!img.diff_ids_override.empty()) img.diff_ids_override[0] = "sha256:" + sha256_hex(img.layers[0]);
    WrittenImage w = write_oci_layout(layout, c.name, img);
    std::string want = c.message;
    if (want.empty())
      want = "importing layer " + w.layer_digests[1].substr(0, 19) + ": uncompressed content is " + w.diff_ids[1] +
             ", but the image config says " + wrong_diff_id;
    if (auto p = want.find("IMG"); p != std::string::npos) want.replace(p, 3, imgref);
    std::string err = error_of([&] { env.pull(imgref); });
    EXPECT_EQ(err, "pulling " + imgref + ": " + want);
    EXPECT_TRUE(list_refs(env.repo.get()).empty());
  }
  // A layout blob that does not match its digest (same size).
  {
    HandImage i;
    i.layers = {kernel_layer()};
    WrittenImage w = write_oci_layout(layout, "corrupt", i);
    std::string path = layout + "/blobs/sha256/" + w.layer_digests[0].substr(7);
    std::string blob = read_file(path);
    blob[blob.size() / 2] ^= 0x55;
    write_file_atomic(path, blob);
    std::string imgref = "oci:" + layout + ":corrupt";
    std::string err = error_of([&] { env.pull(imgref); });
    EXPECT_EQ(err.rfind("pulling " + imgref + ": layer " + w.layer_digests[0].substr(0, 19) + ": ", 0), 0u) << err;
    EXPECT_NE(err.find("digest mismatch"), std::string::npos) << err;
    EXPECT_TRUE(list_refs(env.repo.get()).empty());
  }
  // Nothing is left in the pull's temporary directory either.
  EXPECT_TRUE(std::filesystem::is_empty(env.pull_tmp));
}

}  // namespace
}  // namespace hull::test
