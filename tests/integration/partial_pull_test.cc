// Partial pulls of zstd:chunked layers (store/partial.h) from the real
// docker-registry: hull's own zstd:chunked images and the legacy format of
// Debian 12's buildah, file by file against a repository that holds the
// previous version; the commit of a partial pull equals a full pull's; and
// tables of contents that lie are refused with nothing kept.
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include <nlohmann/json.hpp>

#include "chunked/toc.h"
#include "image/copy.h"
#include "image/dest.h"
#include "store/content_index.h"
#include "store/import.h"
#include "store/ostree.h"
#include "store/store.h"
#include "support/faulty_registry.h"
#include "support/images.h"
#include "support/process.h"
#include "support/registry.h"
#include "integration/store_tree.h"
#include "util/file.h"

namespace hull::test {
namespace {

struct RepoEnv {
  TempDir tmp{"hull-partial-test"};
  std::string pull_tmp = tmp.path() + "/pull-tmp";
  store::Repo repo;
  explicit RepoEnv(const std::string& name = "repo") {
    make_dirs(pull_tmp);
    repo = store::create_repo(tmp.path() + "/" + name, OSTREE_REPO_MODE_BARE);
  }
  store::PullResult pull(const std::string& imgref, bool partial = true) {
    image::ImageName name = image::ImageName::parse(imgref);
    auto src = image::open_source(name, registry::Options{});
    Progress progress(true);
    store::PullOptions o;
    o.tmp_dir = pull_tmp;
    o.partial = partial;
    return store::pull_image(repo.get(), *src, name, o, progress);
  }
};

// `n` bytes that zstd cannot shrink much, different for each seed.
std::string noise(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(g() & 0xff);
  return s;
}

// A tree of 60 files of 16 KiB under usr/share/data, plus the kernel; file
// `changed` (if >= 0) gets other content, `added` names an extra file.
std::string data_layer(int changed = -1, const std::string& added = "") {
  std::vector<TarEntry> e = fake_kernel_entries();
  e.push_back({.path = "usr/share/", .kind = TarEntry::kDir, .mode = 0755});
  e.push_back({.path = "usr/share/data/", .kind = TarEntry::kDir, .mode = 0755});
  for (int i = 0; i < 60; i++)
    e.push_back({.path = fmt::format("usr/share/data/f{:02}", i),
                 .content = noise(16384, i == changed ? 1000 + i : i), .mode = i % 7 == 0 ? 0755u : 0644u,
                 .uid = i % 5 == 0 ? 1000u : 0u});
  e.push_back({.path = "usr/share/data/link", .kind = TarEntry::kHardlink, .target = "usr/share/data/f01"});
  e.push_back({.path = "usr/share/data/sym", .kind = TarEntry::kSymlink, .target = "f02"});
  e.push_back({.path = "usr/share/data/attr", .content = "xattrs\n", .xattrs = {{"user.hull", "1"}}});
  if (!added.empty()) e.push_back({.path = "usr/share/data/" + added, .content = noise(5000, 77)});
  return make_tar(e);
}

std::string etc_layer(const std::string& motd) {
  return make_tar({{.path = "etc/", .kind = TarEntry::kDir, .mode = 0755}, {.path = "etc/motd", .content = motd}});
}

// Copies oci:LAYOUT:TAG to docker://HOST/REPO:TAG byte for byte.
void push(const std::string& layout, const std::string& tag, const std::string& host, const std::string& repo) {
  auto src = image::open_source(image::ImageName::parse("oci:" + layout + ":" + tag), registry::Options{});
  auto dst = image::open_dest(image::ImageName::parse("docker://" + host + "/" + repo + ":" + tag), registry::Options{});
  Progress progress(true);
  image::copy_image(*src, *dst, image::CopyOptions{}, progress);
}

std::string layer_commit(OstreeRepo* repo, const std::string& layer_digest) {
  auto c = store::resolve_ref(repo, store::layer_ref(oci::Digest::parse(layer_digest)));
  return c.value_or("");
}

TEST(PartialPull, FetchesOnlyTheChangedFilesAndGivesTheFullPullsCommit) {
  LocalRegistry reg;
  RepoEnv env;
  std::string layout = env.tmp.path() + "/layout";
  HandImage v1{.layers = {data_layer(), etc_layer("v1\n")}, .zstd_chunked = true};
  HandImage v2{.layers = {data_layer(7, "new-file"), etc_layer("v1\n")}, .zstd_chunked = true};
  WrittenImage w1 = write_oci_layout(layout, "1", v1);
  WrittenImage w2 = write_oci_layout(layout, "2", v2);
  ASSERT_EQ(w1.layer_digests[1], w2.layer_digests[1]);  // the /etc layer did not change
  push(layout, "1", reg.host(), "os/partial");
  push(layout, "2", reg.host(), "os/partial");

  store::PullResult r1 = env.pull("docker://" + reg.host() + "/os/partial:1");
  EXPECT_EQ(r1.layers_fetched, 2);
  EXPECT_EQ(r1.layers_partial, 0);  // nothing local yet: whole blobs are cheaper

  store::PullResult r2 = env.pull("docker://" + reg.host() + "/os/partial:2");
  EXPECT_EQ(r2.layers_fetched, 1);
  EXPECT_EQ(r2.layers_reused, 1);
  EXPECT_EQ(r2.layers_partial, 1);
  EXPECT_EQ(r2.files_fetched, 2u);  // f07 and new-file
  EXPECT_GE(r2.files_local, 59u);
  ASSERT_EQ(r2.checks.size(), 1u);
  EXPECT_NE(r2.checks[0].find("tar-split"), std::string::npos) << r2.checks[0];
  uint64_t layer_size = 0;
  for (auto& l : oci::Manifest::parse(r2.image.manifest).layers)
    if (l.digest.str() == w2.layer_digests[0]) layer_size = static_cast<uint64_t>(l.size);
  EXPECT_LT(r2.bytes_fetched, layer_size / 10) << r2.bytes_fetched << " of " << layer_size;
  std::printf("partial pull: %s\n", store::describe_pull(r2).c_str());

  // The same image pulled whole into another repository: the same commits.
  RepoEnv full("full");
  store::PullResult f2 = full.pull("docker://" + reg.host() + "/os/partial:2", /*partial=*/false);
  EXPECT_EQ(f2.layers_partial, 0);
  EXPECT_EQ(layer_commit(env.repo.get(), w2.layer_digests[0]), layer_commit(full.repo.get(), w2.layer_digests[0]));
  EXPECT_EQ(r2.image.commit, f2.image.commit);
  // And the content of the changed file is the new one.
  EXPECT_EQ(CommitTree(env.repo.get(), r2.image.commit).read("usr/share/data/f07"), noise(16384, 1007));
}

TEST(PartialPull, UpgradeCheckCountsFiles) {
  LocalRegistry reg;
  RepoEnv env;
  std::string layout = env.tmp.path() + "/layout";
  write_oci_layout(layout, "1", HandImage{.layers = {data_layer(), etc_layer("a\n")}, .zstd_chunked = true});
  write_oci_layout(layout, "2", HandImage{.layers = {data_layer(3), etc_layer("a\n")}, .zstd_chunked = true});
  push(layout, "1", reg.host(), "os/check");
  push(layout, "2", reg.host(), "os/check");
  env.pull("docker://" + reg.host() + "/os/check:1");
  image::ImageName name = image::ImageName::parse("docker://" + reg.host() + "/os/check:2");
  auto src = image::open_source(name, registry::Options{});
  store::Preview pv = store::preview_image(env.repo.get(), *src, std::nullopt);
  ASSERT_EQ(pv.fetches.size(), 1u);
  EXPECT_TRUE(pv.fetches[0].partial);
  EXPECT_EQ(pv.fetches[0].files_missing, 1u);
  EXPECT_LT(pv.fetch_bytes, pv.missing_bytes / 10);
  std::string line = store::describe_fetch(pv);
  EXPECT_EQ(line.rfind("1 files, ", 0), 0u) << line;
}

// Debian 12's buildah pushes the legacy format (io.containers.* annotations,
// no tar-split): the table of contents is the authority, and a partial
// pull and a full pull of a layer give the same commit.
TEST(PartialPull, LegacyBuildahZstdChunked) {
  LocalRegistry reg;
  RepoEnv env;
  TestImageBuilder b(env.tmp.path());
  TestImageSpec s1;
  for (int i = 0; i < 40; i++) s1.files[fmt::format("/usr/share/hull/f{:02}", i)] = noise(8192, i);
  TestImageSpec s2 = s1;
  s2.version = "2";
  s2.files["/usr/share/hull/f05"] = noise(8192, 555);
  std::string l1 = b.build("legacy1", s1), l2 = b.build("legacy2", s2);
  for (auto [local, tag] : {std::pair{l1, "1"}, std::pair{l2, "2"}})
    run_ok(b.cmd({"push", "-q", "--tls-verify=false", "--compression-format", "zstd:chunked", local,
                  "docker://" + reg.host() + "/os/legacy:" + tag}));
  std::string ref1 = "docker://" + reg.host() + "/os/legacy:1", ref2 = "docker://" + reg.host() + "/os/legacy:2";
  // The layers carry the legacy annotations.
  auto src = image::open_source(image::ImageName::parse(ref2), registry::Options{});
  image::Doc top = src->top();
  oci::Manifest m = oci::Manifest::parse(top.bytes, top.media_type);
  int legacy = 0;
  for (auto& l : m.layers)
    if (auto info = chunked::layer_info(l)) legacy += info->legacy;
  ASSERT_GT(legacy, 0) << top.bytes;

  env.pull(ref1);
  store::PullResult r2 = env.pull(ref2);
  EXPECT_EQ(r2.layers_partial, 1) << store::describe_pull(r2);
  EXPECT_EQ(r2.files_fetched, 1u);
  ASSERT_EQ(r2.checks.size(), 1u);
  EXPECT_NE(r2.checks[0].find("no tar-split"), std::string::npos) << r2.checks[0];
  RepoEnv full("full");
  store::PullResult f2 = full.pull(ref2, false);
  EXPECT_EQ(r2.image.commit, f2.image.commit);
  EXPECT_EQ(CommitTree(env.repo.get(), r2.image.commit).read("usr/share/hull/f05"), noise(8192, 555));
}


// ---- hostile registries and tables of contents -----------------------------

// An image of a layout served by the faulty registry, with faults or
// rewritten layers for its first layer.
struct Served {
  std::string ref;            // docker://HOST/os/hostile:TAG
  oci::Descriptor layer0;     // the first layer as the manifest lists it
};

std::string read_blob(const std::string& layout, const std::string& digest) {
  return read_file(layout + "/blobs/sha256/" + oci::Digest::parse(digest).encoded());
}

// Serves image `tag` of `layout`; `rewrite` may change the first layer's
// blob and descriptor (then the manifest is rewritten to match).
Served serve(FaultyRegistry& reg, const std::string& layout, const std::string& tag, BlobFaults faults = {},
             const std::function<void(std::string& blob, nlohmann::json& desc)>& rewrite = {}) {
  auto src = image::open_source(image::ImageName::parse("oci:" + layout + ":" + tag), registry::Options{});
  image::Doc top = src->top();
  nlohmann::json m = nlohmann::json::parse(top.bytes);
  for (size_t i = 0; i < m["layers"].size(); i++) {
    nlohmann::json& desc = m["layers"][i];
    std::string blob = read_blob(layout, desc["digest"]);
    if (i == 0 && rewrite) rewrite(blob, desc);
    desc["digest"] = reg.add_blob(blob, i == 0 ? faults : BlobFaults{}).str();
    desc["size"] = blob.size();
  }
  reg.add_blob(read_blob(layout, m["config"]["digest"]));
  reg.add_manifest(tag, m.dump(), "application/vnd.oci.image.manifest.v1+json");
  Served out;
  out.ref = "docker://" + reg.host() + "/os/hostile:" + tag;
  out.layer0 = oci::Manifest::parse(m.dump()).layers[0];
  return out;
}

struct Hostile {
  FaultyRegistry reg;
  RepoEnv env;
  std::string layout = env.tmp.path() + "/layout";
  Hostile() {
    write_oci_layout(layout, "1", HandImage{.layers = {data_layer(), etc_layer("v1\n")}, .zstd_chunked = true});
    write_oci_layout(layout, "2", HandImage{.layers = {data_layer(7), etc_layer("v1\n")}, .zstd_chunked = true});
    env.pull(serve(reg, layout, "1").ref);
  }
  // Pulls `s`, expecting a refusal; checks nothing of it was kept.
  std::string refused(const Served& s) {
    std::string err = error_of([&] { env.pull(s.ref); });
    EXPECT_FALSE(store::resolve_ref(env.repo.get(), store::layer_ref(s.layer0.digest)).has_value());
    EXPECT_EQ(list_refs(env.repo.get(), "hull/image").size(), 1u);  // v1 only
    return err;
  }
};

uint64_t toc_offset_of(const std::string& layout, const oci::Descriptor& d,
                       const std::string& name) {
  auto info = chunked::layer_info(d);
  std::string blob = read_blob(layout, d.digest.str());
  std::string z = blob.substr(info->toc.offset, info->toc.length);
  chunked::Toc toc = chunked::parse_toc(chunked::zstd_decompress(
      {reinterpret_cast<const std::byte*>(z.data()), z.size()}, info->toc.uncompressed, "toc"));
  for (auto& e : toc.entries)
    if (e.name.ends_with(name)) return (e.offset + e.end_offset) / 2;
  return 0;
}

TEST(PartialPull, WrongBytesInARangeAreRefusedAndNothingIsKept) {
  Hostile h;
  auto src = image::open_source(image::ImageName::parse("oci:" + h.layout + ":2"), registry::Options{});
  image::Doc top = src->top();
  oci::Descriptor d = oci::Manifest::parse(top.bytes).layers[0];
  uint64_t at = toc_offset_of(h.layout, d, "data/f07");
  ASSERT_GT(at, 0u);
  std::string err = h.refused(serve(h.reg, h.layout, "2", BlobFaults{.flip_in_ranges_at = static_cast<int64_t>(at)}));
  EXPECT_NE(err.find("f07"), std::string::npos) << err;
  EXPECT_LT(err.size(), 400u) << err;
}

TEST(PartialPull, ATableOfContentsThatDoesNotMatchTheManifestIsRefusedBeforeAnyFile) {
  Hostile h;
  Served s = serve(h.reg, h.layout, "2", {}, [](std::string&, nlohmann::json& desc) {
    desc["annotations"][std::string(chunked::kManifestChecksumKey)] = oci::Digest::of("another toc").str();
  });
  int before = h.reg.count("GET", "/blobs/");
  std::string err = h.refused(s);
  EXPECT_NE(err.find("table of contents"), std::string::npos) << err;
  EXPECT_NE(err.find("checksum"), std::string::npos) << err;
  // One request for the table itself, none for any file.
  EXPECT_EQ(h.reg.count("GET", "/blobs/") - before, 2) << "the config and the table of contents only";
}

// A table of contents that the manifest vouches for but that lies about a
// file (it gives f07 the digest of f08, which the repository holds): the
// rebuild of the tar stream from the tar-split refuses it (the file's
// CRC-64 there, then the diff_id of the whole stream).
TEST(PartialPull, ATableOfContentsThatLiesAboutAFileIsCaughtByTheTarSplit) {
  Hostile h;
  Served s = serve(h.reg, h.layout, "2", {}, [](std::string& blob, nlohmann::json& desc) {
    oci::Descriptor d;
    d.media_type = desc["mediaType"];
    d.size = static_cast<int64_t>(blob.size());
    for (auto& [k, v] : desc["annotations"].items()) d.annotations[k] = v;
    auto info = chunked::layer_info(d);
    std::string z = blob.substr(info->toc.offset, info->toc.length);
    nlohmann::json toc = nlohmann::json::parse(chunked::zstd_decompress(
        {reinterpret_cast<const std::byte*>(z.data()), z.size()}, info->toc.uncompressed, "toc"));
    std::string f08;
    for (auto& e : toc["entries"])
      if (e.value("name", "").ends_with("data/f08")) f08 = e["digest"];
    for (auto& e : toc["entries"])
      if (e.value("name", "").ends_with("data/f07")) e["digest"] = f08;
    std::string json = toc.dump();
    std::string newz = run_ok({"zstd", "-q", "-c"}, RunOptions{.input = json});
    std::string ts = blob.substr(info->tar_split->offset, info->tar_split->length);
    std::string out = blob.substr(0, info->toc.offset - 8);
    chunked::Position tp{out.size() + 8, newz.size(), json.size()};
    out += chunked::skippable_frame_header(static_cast<uint32_t>(newz.size())) + newz;
    chunked::Position sp{out.size() + 8, ts.size(), info->tar_split->uncompressed};
    out += chunked::skippable_frame_header(static_cast<uint32_t>(ts.size())) + ts;
    std::string footer = chunked::footer_bytes(chunked::Footer{false, tp, sp});
    out += chunked::skippable_frame_header(static_cast<uint32_t>(footer.size())) + footer;
    blob = out;
    for (auto& [k, v] : chunked::annotations(oci::Digest::of(newz), tp, sp)) desc["annotations"][k] = v;
  });
  std::string err = h.refused(s);
  EXPECT_NE(err.find("tar-split"), std::string::npos) << err;
  EXPECT_NE(err.find("f07"), std::string::npos) << err;
}

}  // namespace
}  // namespace hull::test
