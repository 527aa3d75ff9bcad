#include "image/layout.h"

#include <fcntl.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "image/archive.h"
#include "image/copy.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::image {
namespace {

oci::Descriptor blob_desc(std::string_view media_type, std::string_view bytes) {
  oci::Descriptor d;
  d.media_type = std::string(media_type);
  d.digest = oci::Digest::of(bytes);
  d.size = static_cast<int64_t>(bytes.size());
  return d;
}

// A one-layer image written into a fresh layout under `name`.
struct TestImage {
  std::string layer = std::string(300000, 'L');
  std::string config =
      R"({"architecture":"amd64","os":"linux","config":{"Labels":{"containers.bootc":"1"}},)"
      R"("rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}})";
  oci::Descriptor layer_d = blob_desc(oci::media::kOciLayerGzip, layer);
  oci::Descriptor config_d = blob_desc(oci::media::kOciConfig, config);
  std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)" +
                         oci::descriptor_json(config_d) + R"(,"layers":[)" + oci::descriptor_json(layer_d) + "]}";
  oci::Descriptor manifest_d = blob_desc(oci::media::kOciManifest, manifest);

  void write(Layout& l, const std::string& name) {
    l.write_blob_bytes(layer_d, layer);
    l.write_blob_bytes(config_d, config);
    l.write_blob_bytes(manifest_d, manifest);
    l.add_manifest(manifest_d, name);
  }
};

TEST(Layout, CreateWriteFindReopen) {
  TempDir tmp("hull-test");
  std::string dir = tmp.path() + "/l";
  TestImage img;
  {
    Layout l = Layout::open_or_create(dir);
    img.write(l, "v1");
  }
  Layout l = Layout::open(dir);
  ASSERT_EQ(l.manifests().size(), 1u);
  EXPECT_EQ(l.find("v1").digest, img.manifest_d.digest);
  EXPECT_EQ(l.find("").digest, img.manifest_d.digest);
  EXPECT_TRUE(l.has_blob(img.layer_d.digest, img.layer_d.size));
  EXPECT_EQ(l.read_blob_bytes(img.config_d, 1 << 20), img.config);
}

TEST(Layout, SameNameIsReplacedOthersKept) {
  TempDir tmp("hull-test");
  Layout l = Layout::open_or_create(tmp.path() + "/l");
  TestImage a, b;
  b.config += " ";
  b.config_d = blob_desc(oci::media::kOciConfig, b.config);
  b.manifest = R"({"schemaVersion":2,"config":)" + oci::descriptor_json(b.config_d) + R"(,"layers":[]})";
  b.manifest_d = blob_desc(oci::media::kOciManifest, b.manifest);
  a.write(l, "v1");
  b.write(l, "v2");
  a.write(l, "v2");
  ASSERT_EQ(l.manifests().size(), 2u);
  EXPECT_EQ(l.find("v2").digest, a.manifest_d.digest);
  try {
    l.find("v3");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no image named \"v3\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("v1, v2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(l.find(""), Error);  // two images: a name is needed
}

TEST(Layout, CorruptBlobIsRefusedOnRead) {
  TempDir tmp("hull-test");
  Layout l = Layout::open_or_create(tmp.path() + "/l");
  TestImage img;
  img.write(l, "v1");
  write_file_atomic(l.blob_path(img.config_d.digest), img.config.substr(0, img.config.size() - 1) + "!");
  try {
    l.read_blob_bytes(img.config_d, 1 << 20);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("digest mismatch"), std::string::npos) << e.what();
  }
}

TEST(Layout, RefusesNonLayoutDirectory) {
  TempDir tmp("hull-test");
  write_file_atomic(tmp.path() + "/something", "x");
  EXPECT_THROW(Layout::open_or_create(tmp.path()), Error);
  EXPECT_THROW(Layout::open(tmp.path()), Error);
}

TEST(Layout, FailedBlobWriteLeavesNothing) {
  TempDir tmp("hull-test");
  Layout l = Layout::open_or_create(tmp.path() + "/l");
  TestImage img;
  EXPECT_THROW(l.write_blob(img.layer_d, [&](int fd) { write_all(fd, "short", "t"); }), Error);
  EXPECT_FALSE(l.has_blob(img.layer_d.digest, img.layer_d.size));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp.path() + "/l/blobs/sha256"), {}), 0);
}

TEST(Copy, LayoutToArchiveToLayoutKeepsDigest) {
  TempDir tmp("hull-test");
  TestImage img;
  {
    Layout l = Layout::open_or_create(tmp.path() + "/src");
    img.write(l, "v1");
  }
  Progress quiet(true);
  registry::Options ro;
  auto hop = [&](const std::string& from, const std::string& to) {
    auto s = open_source(ImageName::parse(from), ro);
    auto d = open_dest(ImageName::parse(to), ro);
    return copy_image(*s, *d, {}, quiet);
  };
  CopyResult r1 = hop("oci:" + tmp.path() + "/src:v1", "oci-archive:" + tmp.path() + "/x.tar:v1");
  EXPECT_EQ(r1.blobs_copied, 2);
  CopyResult r2 = hop("oci-archive:" + tmp.path() + "/x.tar:v1", "oci:" + tmp.path() + "/dst:latest");
  EXPECT_EQ(r2.digest, img.manifest_d.digest);
  // A second copy finds every blob present.
  CopyResult r3 = hop("oci:" + tmp.path() + "/src:v1", "oci:" + tmp.path() + "/dst:again");
  EXPECT_EQ(r3.blobs_copied, 0);
  EXPECT_EQ(r3.blobs_present, 2);
  Layout dst = Layout::open(tmp.path() + "/dst");
  EXPECT_EQ(dst.find("again").digest, img.manifest_d.digest);
}

TEST(Copy, CorruptSourceLayerFailsAndDestinationUnchanged) {
  TempDir tmp("hull-test");
  TestImage img;
  {
    Layout l = Layout::open_or_create(tmp.path() + "/src");
    img.write(l, "v1");
    std::string bad = img.layer;
    bad[1000] = 'X';
    write_file_atomic(l.blob_path(img.layer_d.digest), bad);
  }
  Progress quiet(true);
  auto s = open_source(ImageName::parse("oci:" + tmp.path() + "/src:v1"), {});
  auto d = open_dest(ImageName::parse("oci:" + tmp.path() + "/dst:v1"), {});
  try {
    copy_image(*s, *d, {}, quiet);
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("copying oci:"), std::string::npos) << m;
    EXPECT_NE(m.find(img.layer_d.digest.short_str()), std::string::npos) << m;
    EXPECT_NE(m.find("digest mismatch"), std::string::npos) << m;
  }
  Layout dst = Layout::open(tmp.path() + "/dst");
  EXPECT_TRUE(dst.manifests().empty());
  EXPECT_FALSE(dst.has_blob(img.layer_d.digest, img.layer_d.size));
}

TEST(Archive, RefusesTraversal) {
  TempDir tmp("hull-test");
  std::string tar = tmp.path() + "/evil.tar";
  std::string cmd = "cd " + tmp.path() + " && mkdir -p a && echo x > a/f && tar -cf evil.tar --transform='s,a/f,../../f,' a/f";
  ASSERT_EQ(system(cmd.c_str()), 0);
  make_dirs(tmp.path() + "/out");
  try {
    extract_layout_archive(tar, tmp.path() + "/out");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"..\""), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hull::image
