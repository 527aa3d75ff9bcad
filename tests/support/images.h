// Test images, two ways:
//
//  - TestImageBuilder: real images built by buildah (`bud --isolation chroot
//    --layers`, vfs storage private to the builder) from scratch plus the
//    host's static busybox. The busybox base is built once per builder and
//    every image derives from it (or from an earlier build), so a build is a
//    few seconds and images of one builder share their base layers.
//  - Hand-made layers and layouts (make_tar, write_oci_layout): exact tar
//    streams, including ones no builder would write (`..` paths, devices,
//    escaping links, opaque markers), in an OCI layout written byte by byte.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "util/file.h"

namespace hull::test {

// One entry of a hand-made tar stream. Paths and link targets are written
// as given (no normalization), so they can be hostile.
struct TarEntry {
  enum Kind { kFile, kDir, kSymlink, kHardlink, kCharDev, kBlockDev, kFifo };
  std::string path;
  Kind kind = kFile;
  std::string content{};  // kFile
  std::string target{};   // kSymlink, kHardlink
  uint32_t mode = 0644;  // permission bits (07777)
  uint32_t uid = 0, gid = 0;
  std::map<std::string, std::string> xattrs{};  // name -> value (pax SCHILY.xattr)
  uint32_t rdev_major = 1, rdev_minor = 3;    // devices
};

// A pax tar stream (uncompressed) holding `entries` in order.
std::string make_tar(const std::vector<TarEntry>& entries);

// gzip of `data` (deterministic: no name, no mtime).
std::string gzip(const std::string& data);

// A hand-made image for write_oci_layout.
struct HandImage {
  std::vector<std::string> layers;  // uncompressed tar streams, bottom first
  bool gzip = true;                 // store layers as tar+gzip (else plain tar)
  bool zstd_chunked = false;        // store layers as zstd:chunked (hull's writer; overrides gzip)
  std::map<std::string, std::string> labels = {{"containers.bootc", "1"}};
  // When not empty: written as the config's rootfs.diff_ids instead of the
  // true ones (to test that a mismatch is refused).
  std::vector<std::string> diff_ids_override;
};

struct WrittenImage {
  std::string manifest_digest;           // "sha256:..."
  std::vector<std::string> layer_digests;  // of the blobs as stored
  std::vector<std::string> diff_ids;       // of the uncompressed tars
};

// Writes `img` into the OCI layout `dir` (created if missing; index.json
// gets one more entry, named `tag`). The image is a bootable-looking
// linux/amd64 image unless its layers and labels say otherwise.
WrittenImage write_oci_layout(const std::string& dir, const std::string& tag, const HandImage& img);

// The tar entries that make an image bootable for hull: a fake kernel at
// /usr/lib/modules/KVER/vmlinuz, initramfs.img beside it (if `initramfs`),
// and /usr/lib/os-release (if `os_release`), with their parent directories.
std::vector<TarEntry> fake_kernel_entries(const std::string& kver = "6.1.0-hull-test", bool initramfs = true,
                                          bool os_release = true);

// The /usr/lib/os-release of test images.
inline constexpr const char* kTestOsRelease =
    "NAME=\"hull test\"\nID=hull-test\nVERSION_ID=1\nPRETTY_NAME=\"hull test image\"\n";

// What a buildah-built test image holds on top of its base.
struct TestImageSpec {
  std::string version = "1";                         // label org.opencontainers.image.version
  std::map<std::string, std::string> files;          // absolute path -> content (mode 0644, root)
  // Entries with owners, modes, xattrs, links: packed into a tar that is
  // ADDed (buildah keeps owners, modes and xattrs of an ADDed tar).
  std::vector<TarEntry> entries;
  std::vector<std::string> run;                      // shell commands (busybox sh), one RUN layer each
  std::vector<std::string> remove;                   // paths removed in a last RUN layer (-> whiteouts)
  std::map<std::string, std::string> labels;         // extra labels
  bool bootable_label = true;                        // label containers.bootc=1
  bool fake_kernel = true;                           // /usr/lib/modules/6.1.0-hull-test/{vmlinuz,initramfs.img}
  bool os_release = true;                            // /usr/lib/os-release (kTestOsRelease)
  std::string kargs_toml;                            // if set: /usr/lib/bootc/kargs.d/10-test.toml
  std::string base;                                  // FROM this (an earlier build's local name) instead of the busybox base
};

// Builds images with buildah in a private storage (a TempDir, removed with
// the builder). Not thread-safe; one per test.
class TestImageBuilder {
 public:
  // `parent` is where the storage goes (default: $TMPDIR or /var/tmp).
  explicit TestImageBuilder(std::string parent = "");
  ~TestImageBuilder();
  TestImageBuilder(const TestImageBuilder&) = delete;
  TestImageBuilder& operator=(const TestImageBuilder&) = delete;

  // Builds `spec` as localhost/hull-test/TAG and returns that name. Layers,
  // in order: the base's (busybox, then `busybox --install` symlinks), the
  // files (COPY, one layer, if any), the entries (ADD, if any), one per
  // `run` command, one for `remove` (if any). Labels add no layer.
  std::string build(const std::string& tag, const TestImageSpec& spec);
  // The local busybox base image (built on first use).
  std::string base();
  // Pushes local image `local` to `dest` ("docker://HOST/REPO:TAG", TLS
  // off, or "oci:DIR:TAG"); returns the manifest digest "sha256:...".
  std::string push(const std::string& local, const std::string& dest);
  // buildah with this builder's storage options, then `args`.
  std::vector<std::string> cmd(std::vector<std::string> args) const;
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::string base_;
  int contexts_ = 0;
};

}  // namespace hull::test
