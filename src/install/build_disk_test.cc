#include "install/build_disk.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <fstream>

#include "install/disk.h"
#include "util/error.h"
#include "util/file.h"

namespace hull::install {
namespace {

TEST(DiskSize, LargestOfDefaultImageAndMinimums) {
  BibConfig none;
  EXPECT_EQ(plan_disk_size(700ull << 20, none), kBibDefaultDiskSize);
  // Twice the image, plus room for the fixed partitions.
  uint64_t big = plan_disk_size(8ull << 30, none);
  EXPECT_GE(big, 16ull << 30);
  EXPECT_EQ(big % kMiB, 0u);
  BibConfig disk;
  disk.disk_minsize = 20'000'000'000ull;
  EXPECT_EQ(plan_disk_size(1, disk), (20'000'000'000ull + kMiB - 1) / kMiB * kMiB);
  BibConfig root;
  root.filesystems.push_back({"/", 12ull << 30});
  uint64_t s = plan_disk_size(1, root);
  EXPECT_EQ(s, disk_size_for_root(12ull << 30));
  BibConfig boot = root;
  boot.filesystems.push_back({"/boot", 2ull << 30});
  LayoutOptions lo;
  lo.boot_size = 2ull << 30;
  EXPECT_EQ(plan_disk_size(1, boot), disk_size_for_root(12ull << 30, lo));
}

std::string write_tmp(const TempDir& d, const std::string& name, const std::string& data) {
  std::string p = d.path() + "/" + name;
  std::ofstream(p, std::ios::binary) << data;
  return p;
}

TEST(DiskSize, VarMountsAndBoot) {
  BibConfig c;
  c.file = "config.toml";
  c.filesystems = {{"/", 4ull << 30}, {"/var/data", 5ull << 30}, {"/var/log", 1000}, {"/var/data", 6ull << 30},
                   {"/var/lib/x", 0}, {"/boot", (1ull << 30) + 1}};
  auto m = var_mounts(c);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].mountpoint, "/var/data");
  EXPECT_EQ(m[0].size, 6ull << 30);  // the larger of the two
  EXPECT_EQ(m[1].size, kMinVarMountSize);
  EXPECT_EQ(m[2].size, kDefaultVarMountSize);
  EXPECT_EQ(boot_size(c), (1ull << 30) + kMiB);
  EXPECT_EQ(boot_size(BibConfig{}), 1ull << 30);
  LayoutOptions lo;
  lo.boot_size = boot_size(c);
  lo.var_mounts = m;
  // Twice the image on root, beside the /var mounts.
  EXPECT_EQ(plan_disk_size(4ull << 30, c), std::max(kBibDefaultDiskSize, disk_size_for_root(8ull << 30, lo)));
}

TEST(ImageBibConfig, ReadInsideTheImageOnly) {
  TempDir d("hull-bd-test");
  std::string deploy = d.path() + "/deploy";
  make_dirs(deploy + "/usr/lib/bootc-image-builder");
  EXPECT_FALSE(image_bib_config(deploy).has_value());
  std::string dir = deploy + "/usr/lib/bootc-image-builder";
  std::ofstream(dir + "/config.toml") << "[[customizations.filesystem]]\nmountpoint = \"/var/data\"\nminsize = \"2 GiB\"\n";
  auto c = image_bib_config(deploy);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->file, "/usr/lib/bootc-image-builder/config.toml");
  ASSERT_EQ(c->filesystems.size(), 1u);
  EXPECT_EQ(c->filesystems[0].minsize, 2ull << 30);
  // Both kinds: refused, as bib does.
  std::ofstream(dir + "/config.json") << "{}";
  EXPECT_THROW(image_bib_config(deploy), Error);
  unlink((dir + "/config.json").c_str());
  // A link out of the image resolves inside it: a host file is never read.
  std::string host = write_tmp(d, "host.toml", "[customizations.kernel]\nappend = \"host\"\n");
  unlink((dir + "/config.toml").c_str());
  ASSERT_EQ(symlink(host.c_str(), (dir + "/config.toml").c_str()), 0);
  EXPECT_FALSE(image_bib_config(deploy).has_value());
  // Errors name the file in the image and the key.
  unlink((dir + "/config.toml").c_str());
  std::ofstream(dir + "/config.toml") << "[customizations.kernel]\nnmae = \"x\"\n";
  try {
    image_bib_config(deploy);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/usr/lib/bootc-image-builder/config.toml"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nmae"), std::string::npos) << e.what();
  }
}


TEST(LayerSize, GzipZstdAndPlain) {
  TempDir d("hull-bd-test");
  std::string data(300000, 'x');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = char(i);
  // gzip, as one member
  std::string gz(compressBound(data.size()) + 64, '\0');
  z_stream zs = {};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
  zs.next_in = reinterpret_cast<Bytef*>(data.data());
  zs.avail_in = data.size();
  zs.next_out = reinterpret_cast<Bytef*>(gz.data());
  zs.avail_out = gz.size();
  ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  gz.resize(zs.total_out);
  deflateEnd(&zs);
  EXPECT_EQ(layer_uncompressed_size(write_tmp(d, "g", gz), "application/vnd.oci.image.layer.v1.tar+gzip"),
            data.size());
  EXPECT_EQ(layer_uncompressed_size(write_tmp(d, "g2", gz), "application/vnd.docker.image.rootfs.diff.tar.gzip"),
            data.size());
  // zstd, with and without the content size in the frame header
  std::string zst(ZSTD_compressBound(data.size()), '\0');
  zst.resize(ZSTD_compress(zst.data(), zst.size(), data.data(), data.size(), 3));
  EXPECT_EQ(layer_uncompressed_size(write_tmp(d, "z", zst), "application/vnd.oci.image.layer.v1.tar+zstd"),
            data.size());
  ZSTD_CStream* cs = ZSTD_createCStream();
  ZSTD_initCStream(cs, 3);
  std::string streamed(ZSTD_compressBound(data.size()) + 1024, '\0');
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  ZSTD_outBuffer out{streamed.data(), streamed.size(), 0};
  ZSTD_compressStream(cs, &out, &in);
  ZSTD_endStream(cs, &out);
  ZSTD_freeCStream(cs);
  streamed.resize(out.pos);
  EXPECT_EQ(layer_uncompressed_size(write_tmp(d, "z2", streamed), "application/vnd.oci.image.layer.v1.tar+zstd"),
            data.size());
  EXPECT_EQ(layer_uncompressed_size(write_tmp(d, "t", data), "application/vnd.oci.image.layer.v1.tar"), data.size());
  EXPECT_THROW(layer_uncompressed_size(write_tmp(d, "bad", data), "application/vnd.oci.image.layer.v1.tar+gzip"),
               Error);
}

}  // namespace
}  // namespace hull::install

namespace hull::install {
namespace {

TEST(FirstDisk, SkipsNonDisksAndEmptyOnes) {
  TempDir d("hull-bd-sys");
  auto dev = [&](const std::string& name, const std::string& size) {
    make_dirs(d.path() + "/" + name);
    write_file_atomic(d.path() + "/" + name + "/size", size + "\n");
  };
  dev("sr0", "2000000");
  dev("loop0", "100");
  dev("vdb", "0");
  dev("vdc", "41943040");
  dev("sda", "41943040");
  dev("zram0", "1000");
  EXPECT_EQ(first_disk(d.path()), "/dev/sda");
  TempDir none("hull-bd-sys");
  EXPECT_THROW(first_disk(none.path()), Error);
}

}  // namespace
}  // namespace hull::install
