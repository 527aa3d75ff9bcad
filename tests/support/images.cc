#include "support/images.h"

#include <fcntl.h>

#include <cstring>

#include "chunked/compress.h"
#include "util/fd.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "support/process.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/hash.h"

namespace hull::test {
namespace {

constexpr int64_t kMtime = 1700000000;  // fixed, so that hand-made layers are reproducible

la_ssize_t append_cb(archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

unsigned file_type(TarEntry::Kind k) {
  switch (k) {
    case TarEntry::kFile: return AE_IFREG;
    case TarEntry::kDir: return AE_IFDIR;
    case TarEntry::kSymlink: return AE_IFLNK;
    case TarEntry::kHardlink: return AE_IFREG;
    case TarEntry::kCharDev: return AE_IFCHR;
    case TarEntry::kBlockDev: return AE_IFBLK;
    case TarEntry::kFifo: return AE_IFIFO;
  }
  return AE_IFREG;
}

std::string blob_path(const std::string& dir, const std::string& digest) {
  return dir + "/blobs/sha256/" + digest.substr(std::string("sha256:").size());
}

// Writes `data` as a blob of layout `dir`; returns its digest.
std::string put_blob(const std::string& dir, const std::string& data) {
  std::string digest = "sha256:" + sha256_hex(data);
  write_file_atomic(blob_path(dir, digest), data);
  return digest;
}

// `s` as a double-quoted Containerfile string.
std::string cf_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// `s` as one single-quoted shell word.
std::string shell_word(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace

std::string make_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  archive* a = archive_write_new();
  if (a == nullptr) fail("archive_write_new failed");
  auto check = [&](int r, const std::string& what) {
    if (r < ARCHIVE_WARN) {
      std::string msg = archive_error_string(a) ? archive_error_string(a) : "?";
      archive_write_free(a);
      fail("make_tar: {}: {}", what, msg);
    }
  };
  check(archive_write_set_format_pax_restricted(a), "pax format");
  check(archive_write_open(a, &out, nullptr, append_cb, nullptr), "open");
  for (const TarEntry& e : entries) {
    archive_entry* en = archive_entry_new();
    archive_entry_copy_pathname(en, e.path.c_str());
    archive_entry_set_filetype(en, file_type(e.kind));
    archive_entry_set_perm(en, e.mode & 07777);
    archive_entry_set_uid(en, e.uid);
    archive_entry_set_gid(en, e.gid);
    archive_entry_set_mtime(en, kMtime, 0);
    archive_entry_set_size(en, 0);
    if (e.kind == TarEntry::kFile) archive_entry_set_size(en, static_cast<la_int64_t>(e.content.size()));
    if (e.kind == TarEntry::kSymlink) archive_entry_copy_symlink(en, e.target.c_str());
    if (e.kind == TarEntry::kHardlink) archive_entry_copy_hardlink(en, e.target.c_str());
    if (e.kind == TarEntry::kCharDev || e.kind == TarEntry::kBlockDev) {
      archive_entry_set_rdevmajor(en, e.rdev_major);
      archive_entry_set_rdevminor(en, e.rdev_minor);
    }
    for (auto& [name, value] : e.xattrs) archive_entry_xattr_add_entry(en, name.c_str(), value.data(), value.size());
    int r = archive_write_header(a, en);
    archive_entry_free(en);
    check(r, "header of " + e.path);
    if (e.kind == TarEntry::kFile && !e.content.empty()) {
      if (archive_write_data(a, e.content.data(), e.content.size()) != static_cast<la_ssize_t>(e.content.size()))
        check(ARCHIVE_FATAL, "data of " + e.path);
    }
  }
  check(archive_write_close(a), "close");
  archive_write_free(a);
  return out;
}

std::string gzip(const std::string& data) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) fail("deflateInit2 failed");
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int r = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (r != Z_STREAM_END) fail("gzip: deflate failed ({})", r);
  out.resize(z.total_out);
  return out;
}

std::vector<TarEntry> fake_kernel_entries(const std::string& kver, bool initramfs, bool os_release) {
  std::string dir = "usr/lib/modules/" + kver;
  std::vector<TarEntry> v = {
      {.path = "usr/", .kind = TarEntry::kDir, .mode = 0755},
      {.path = "usr/lib/", .kind = TarEntry::kDir, .mode = 0755},
      {.path = "usr/lib/modules/", .kind = TarEntry::kDir, .mode = 0755},
      {.path = dir + "/", .kind = TarEntry::kDir, .mode = 0755},
      {.path = dir + "/vmlinuz", .content = "fake kernel " + kver + "\n", .mode = 0644},
  };
  if (initramfs) v.push_back({.path = dir + "/initramfs.img", .content = "fake initramfs\n", .mode = 0644});
  if (os_release) v.push_back({.path = "usr/lib/os-release", .content = kTestOsRelease, .mode = 0644});
  return v;
}

WrittenImage write_oci_layout(const std::string& dir, const std::string& tag, const HandImage& img) {
  make_dirs(dir + "/blobs/sha256");
  write_file_atomic(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  WrittenImage w;
  nlohmann::json layers = nlohmann::json::array();
  for (const std::string& tar : img.layers) {
    if (img.zstd_chunked) {
      TempDir t("hull-chunked-layer");
      std::string path = t.path() + "/blob";
      UniqueFd fd = open_file(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
      size_t pos = 0;
      chunked::WrittenLayer wl = chunked::compress_layer(
          [&](void* buf, size_t n) {
            size_t k = std::min(n, tar.size() - pos);
            std::memcpy(buf, tar.data() + pos, k);
            pos += k;
            return k;
          },
          fd.get(), chunked::CompressOptions{chunked::Format::kZstdChunked, 3});
      std::string digest = put_blob(dir, read_file(path));
      w.layer_digests.push_back(digest);
      w.diff_ids.push_back(wl.diff_id.str());
      nlohmann::json ann = nlohmann::json::object();
      for (auto& [k, v] : wl.desc.annotations) ann[k] = v;
      layers.push_back({{"mediaType", wl.desc.media_type}, {"digest", digest}, {"size", wl.desc.size},
                        {"annotations", ann}});
      continue;
    }
    std::string blob = img.gzip ? gzip(tar) : tar;
    std::string digest = put_blob(dir, blob);
    w.layer_digests.push_back(digest);
    w.diff_ids.push_back("sha256:" + sha256_hex(tar));
    layers.push_back({{"mediaType", img.gzip ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                             : "application/vnd.oci.image.layer.v1.tar"},
                      {"digest", digest},
                      {"size", blob.size()}});
  }
  nlohmann::json labels = nlohmann::json::object();
  for (auto& [k, v] : img.labels) labels[k] = v;
  nlohmann::json config = {
      {"created", "2024-01-02T03:04:05Z"},
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config", {{"Labels", labels}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", img.diff_ids_override.empty() ? w.diff_ids : img.diff_ids_override}}},
  };
  std::string config_bytes = config.dump();
  std::string config_digest = put_blob(dir, config_bytes);
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config",
       {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", config_digest}, {"size", config_bytes.size()}}},
      {"layers", layers},
  };
  std::string manifest_bytes = manifest.dump();
  w.manifest_digest = put_blob(dir, manifest_bytes);

  nlohmann::json index = {{"schemaVersion", 2}, {"manifests", nlohmann::json::array()}};
  if (path_exists(dir + "/index.json")) index = nlohmann::json::parse(read_file(dir + "/index.json"));
  nlohmann::json kept = nlohmann::json::array();
  for (auto& m : index["manifests"])
    if (m.value("annotations", nlohmann::json::object()).value("org.opencontainers.image.ref.name", "") != tag)
      kept.push_back(m);
  kept.push_back({{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                  {"digest", w.manifest_digest},
                  {"size", manifest_bytes.size()},
                  {"annotations", {{"org.opencontainers.image.ref.name", tag}}}});
  index["manifests"] = kept;
  write_file_atomic(dir + "/index.json", index.dump());
  return w;
}

// ---- TestImageBuilder -------------------------------------------------------

TestImageBuilder::TestImageBuilder(std::string parent) : dir_("hull-buildah", std::move(parent)) {}

TestImageBuilder::~TestImageBuilder() = default;

std::vector<std::string> TestImageBuilder::cmd(std::vector<std::string> args) const {
  std::vector<std::string> v = {"buildah", "--root", dir_.path() + "/root", "--runroot", dir_.path() + "/run",
                                "--storage-driver", "vfs"};
  v.insert(v.end(), args.begin(), args.end());
  return v;
}

std::string TestImageBuilder::base() {
  if (!base_.empty()) return base_;
  std::string ctx = dir_.path() + "/ctx-base";
  make_dirs(ctx);
  run_ok({"cp", "/bin/busybox", ctx + "/busybox"});
  write_file_atomic(ctx + "/Containerfile",
                    "FROM scratch\n"
                    "COPY busybox /bin/busybox\n"
                    "RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n");
  std::string name = "localhost/hull-test/busybox-base";
  run_ok(cmd({"bud", "--isolation", "chroot", "--layers", "-q", "-t", name, ctx}));
  base_ = name;
  return base_;
}

std::string TestImageBuilder::build(const std::string& tag, const TestImageSpec& spec) {
  std::string from = spec.base.empty() ? base() : spec.base;
  std::string ctx = dir_.path() + "/ctx-" + std::to_string(++contexts_);
  make_dirs(ctx);
  std::string cf = "FROM " + from + "\n";

  std::map<std::string, std::string> files = spec.files;
  if (spec.fake_kernel) {
    files["/usr/lib/modules/6.1.0-hull-test/vmlinuz"] = "fake kernel 6.1.0-hull-test\n";
    files["/usr/lib/modules/6.1.0-hull-test/initramfs.img"] = "fake initramfs\n";
  }
  if (spec.os_release) files["/usr/lib/os-release"] = kTestOsRelease;
  if (!spec.kargs_toml.empty()) files["/usr/lib/bootc/kargs.d/10-test.toml"] = spec.kargs_toml;
  if (!files.empty()) {
    for (auto& [path, content] : files) {
      if (path.empty() || path[0] != '/' || path.find("..") != std::string::npos)
        fail("TestImageSpec: file path {} must be absolute, without ..", path);
      std::string p = ctx + "/files" + path;
      make_dirs(p.substr(0, p.rfind('/')));
      write_file_atomic(p, content, 0644);
      ::chmod(p.c_str(), 0644);  // whatever the umask
    }
    cf += "COPY files/ /\n";
  }
  if (!spec.entries.empty()) {
    write_file_atomic(ctx + "/entries.tar", make_tar(spec.entries));
    cf += "ADD entries.tar /\n";
  }
  for (const std::string& r : spec.run) cf += "RUN " + r + "\n";
  if (!spec.remove.empty()) {
    std::string rm = "RUN rm -rf";
    for (const std::string& p : spec.remove) rm += " " + shell_word(p);
    cf += rm + "\n";
  }
  std::map<std::string, std::string> labels = spec.labels;
  if (spec.bootable_label) labels["containers.bootc"] = "1";
  if (!spec.version.empty()) labels["org.opencontainers.image.version"] = spec.version;
  for (auto& [k, v] : labels) cf += "LABEL " + cf_string(k) + "=" + cf_string(v) + "\n";
  write_file_atomic(ctx + "/Containerfile", cf);

  std::string name = "localhost/hull-test/" + tag;
  run_ok(cmd({"bud", "--isolation", "chroot", "--layers", "-q", "-t", name, ctx}));
  return name;
}

std::string TestImageBuilder::push(const std::string& local, const std::string& dest) {
  std::string digest_file = dir_.path() + "/digest-" + std::to_string(++contexts_);
  std::vector<std::string> args = {"push", "-q", "--digestfile", digest_file};
  if (dest.starts_with("docker://")) args.push_back("--tls-verify=false");
  args.push_back(local);
  args.push_back(dest);
  run_ok(cmd(args));
  std::string d = read_file(digest_file);
  while (!d.empty() && (d.back() == '\n' || d.back() == ' ')) d.pop_back();
  if (!d.starts_with("sha256:")) fail("buildah push {}: unexpected digest file content \"{}\"", dest, d);
  return d;
}

}  // namespace hull::test
