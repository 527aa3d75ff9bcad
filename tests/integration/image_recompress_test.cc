// `hull image copy --dest-compress-format`: layers recompressed to gzip,
// zstd and zstd:chunked, pushed to the real docker-registry and read back
// by skopeo and containers/storage, which check every layer against the
// config's diff_ids.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/images.h"
#include "support/process.h"
#include "support/registry.h"
#include "util/file.h"
#include "util/hash.h"

namespace hull::test {
namespace {

const std::string kHull = HULL_BIN;

std::string noise(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  for (auto& c : s) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    c = static_cast<char>('a' + seed % 26);
  }
  return s;
}

HandImage three_layers() {
  HandImage img;
  img.gzip = true;
  auto base = fake_kernel_entries();
  base.push_back({.path = "usr/bin/", .kind = TarEntry::kDir, .mode = 0755});
  base.push_back({.path = "usr/bin/tool", .content = noise(3'000'000, 1), .mode = 0755});
  base.push_back({.path = "usr/bin/tool2", .kind = TarEntry::kHardlink, .target = "usr/bin/tool"});
  img.layers.push_back(make_tar(base));
  img.layers.push_back(make_tar({
      {.path = "etc/", .kind = TarEntry::kDir, .mode = 0755},
      {.path = "etc/empty", .content = ""},
      {.path = "etc/caps", .content = "x", .xattrs = {{"user.hull", "v"}}},
      {.path = "etc/" + std::string(150, 'n'), .content = "long name"},
      {.path = "etc/link", .kind = TarEntry::kSymlink, .target = "caps"},
  }));
  img.layers.push_back(make_tar({{.path = "etc/marker", .content = "v2\n"}}));
  return img;
}

std::string digest_of_file(const std::string& path) { return "sha256:" + sha256_hex(read_file(path, 1u << 30)); }

// The diff_ids of the image in OCI layout `dir` (tag `tag`), recomputed by
// decompressing each layer blob with the command-line tools.
std::vector<std::string> layout_diff_ids(const std::string& dir, const std::string& tag) {
  auto index = nlohmann::json::parse(read_file(dir + "/index.json"));
  std::string mdigest;
  for (auto& m : index["manifests"])
    if (m["annotations"]["org.opencontainers.image.ref.name"] == tag) mdigest = m["digest"];
  auto blob = [&](const std::string& d) { return dir + "/blobs/sha256/" + d.substr(7); };
  auto m = nlohmann::json::parse(read_file(blob(mdigest)));
  std::vector<std::string> out;
  for (auto& l : m["layers"]) {
    std::string mt = l["mediaType"];
    std::string tool = mt.ends_with("+zstd") ? "zstd -qdc" : mt.ends_with("+gzip") ? "gzip -dc" : "cat";
    out.push_back("sha256:" + sh(tool + " < " + blob(l["digest"]) + " | sha256sum | cut -d' ' -f1").substr(0, 64));
  }
  return out;
}

TEST(ImageRecompress, ZstdChunkedThroughARegistryKeepsDiffIds) {
  LocalRegistry reg;
  TempDir tmp("hull-recompress-test");
  WrittenImage src = write_oci_layout(tmp.path() + "/src", "1", three_layers());
  std::string ref = reg.host() + "/test/chunked:1";

  auto r = run({kHull, "image", "copy", "--dest-compress-format", "zstd:chunked", "oci:" + tmp.path() + "/src:1",
                "docker://" + ref});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // The registry holds an OCI manifest whose layers carry the annotations.
  std::string raw = run_ok({"skopeo", "inspect", "--tls-verify=false", "--raw", "docker://" + ref});
  EXPECT_NE(r.err.find("sha256:" + sha256_hex(raw)), std::string::npos) << r.err;  // the new manifest's digest
  auto m = nlohmann::json::parse(raw);
  EXPECT_EQ(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
  ASSERT_EQ(m["layers"].size(), 3u);
  for (auto& l : m["layers"]) {
    EXPECT_EQ(l["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd");
    for (const char* k : {"io.github.containers.zstd-chunked.manifest-checksum",
                          "io.github.containers.zstd-chunked.manifest-position",
                          "io.github.containers.zstd-chunked.tarsplit-position"})
      EXPECT_TRUE(l["annotations"].contains(k)) << k;
  }
  auto src_manifest = nlohmann::json::parse(read_file(tmp.path() + "/src/blobs/sha256/" + src.manifest_digest.substr(7)));
  EXPECT_EQ(m["config"]["digest"], src_manifest["config"]["digest"]);  // the config is unchanged

  // skopeo pulls it into an OCI layout: each blob decompresses to the source's diff_id.
  run_ok({"skopeo", "copy", "-q", "--src-tls-verify=false", "docker://" + ref, "oci:" + tmp.path() + "/sk:1"});
  EXPECT_EQ(layout_diff_ids(tmp.path() + "/sk", "1"), src.diff_ids);

  // containers/storage pulls it whole: it decompresses each layer and checks the diff_ids.
  std::string store = "containers-storage:[vfs@" + tmp.path() + "/cs-root+" + tmp.path() + "/cs-run]";
  auto cs = run({"skopeo", "copy", "-q", "--src-tls-verify=false", "docker://" + ref, store + "localhost/chunked:1"});
  ASSERT_EQ(cs.exit_code, 0) << cs.err;
  auto inspect = nlohmann::json::parse(run_ok({"skopeo", "inspect", store + "localhost/chunked:1"}));
  EXPECT_EQ(inspect["Layers"].size(), 3u);

  // hull reads the zstd:chunked image back (skippable frames skipped) and recompresses it again.
  auto back = run({kHull, "image", "copy", "-q", "--dest-compress-format", "gzip", "docker://" + ref,
                   "oci:" + tmp.path() + "/back:1"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(layout_diff_ids(tmp.path() + "/back", "1"), src.diff_ids);
}

TEST(ImageRecompress, EveryFormatIntoALayout) {
  TempDir tmp("hull-recompress-test");
  WrittenImage src = write_oci_layout(tmp.path() + "/src", "1", three_layers());
  for (std::string f : {"gzip", "zstd", "zstd:chunked"}) {
    std::string dst = tmp.path() + "/out-" + f.substr(0, 4) + std::to_string(f.size());
    auto r = run({kHull, "image", "copy", "-q", "--dest-compress-format", f, "oci:" + tmp.path() + "/src:1",
                  "oci:" + dst + ":1"});
    ASSERT_EQ(r.exit_code, 0) << f << ": " << r.err;
    EXPECT_EQ(layout_diff_ids(dst, "1"), src.diff_ids) << f;
    // skopeo reads what hull wrote (it verifies every blob digest).
    run_ok({"skopeo", "copy", "-q", "oci:" + dst + ":1", "oci:" + tmp.path() + "/sk-" + std::to_string(f.size()) + ":1"});
  }
  // Without the flag the copy stays byte for byte.
  ASSERT_EQ(run({kHull, "image", "copy", "-q", "oci:" + tmp.path() + "/src:1", "oci:" + tmp.path() + "/same:1"}).exit_code, 0);
  auto index = nlohmann::json::parse(read_file(tmp.path() + "/same/index.json"));
  EXPECT_EQ(index["manifests"][0]["digest"], src.manifest_digest);
  // An unknown format is one clear line.
  auto bad = run({kHull, "image", "copy", "--dest-compress-format", "lz4", "oci:" + tmp.path() + "/src:1",
                  "oci:" + tmp.path() + "/bad:1"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("lz4"), std::string::npos) << bad.err;
  EXPECT_FALSE(path_exists(tmp.path() + "/bad"));  // refused before the destination is created
}

}  // namespace
}  // namespace hull::test
