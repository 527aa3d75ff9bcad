#include "image/layout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::image {
namespace {

constexpr std::string_view kLayoutFile = R"({"imageLayoutVersion":"1.0.0"})";
constexpr size_t kCopyBuffer = 1u << 20;

bool dir_is_empty(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_empty(dir, ec) && !ec;
}

// Verifies what was written into `fd` against `d` by reading it back is
// costly; instead every writer verifies as it writes. This checks the size
// the file ended up with, a cheap guard against a writer that lied.
void check_size(int fd, const oci::Descriptor& d) {
  struct stat st;
  if (fstat(fd, &st) != 0) fail_errno("checking a blob's size");
  if (st.st_size != d.size) fail("size mismatch: expected {} bytes, got {}", d.size, st.st_size);
}

}  // namespace

Layout Layout::open(std::string dir) {
  Layout l(std::move(dir));
  with_context(fmt::format("opening OCI layout {}", l.dir_), [&] {
    if (!path_exists(l.dir_ + "/oci-layout")) fail("not an OCI image layout (no oci-layout file)");
    l.load_index();
  });
  return l;
}

Layout Layout::open_or_create(std::string dir) {
  if (path_exists(dir + "/oci-layout")) return open(std::move(dir));
  Layout l(std::move(dir));
  with_context(fmt::format("creating OCI layout {}", l.dir_), [&] {
    if (path_exists(l.dir_) && !dir_is_empty(l.dir_)) fail("directory exists and is not an OCI layout");
    make_dirs(l.dir_ + "/blobs/sha256");
    write_file_atomic(l.dir_ + "/oci-layout", kLayoutFile);
    write_file_atomic(l.dir_ + "/index.json",
                      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})");
  });
  return l;
}

void Layout::load_index() {
  std::string bytes = read_file(dir_ + "/index.json", oci::kMaxManifestSize);
  oci::Index idx = with_context("index.json", [&] { return oci::Index::parse(bytes); });
  manifests_ = std::move(idx.manifests);
}

std::string Layout::blob_path(const oci::Digest& d) const {
  return dir_ + "/blobs/" + d.algorithm() + "/" + d.encoded();
}

bool Layout::has_blob(const oci::Digest& d, int64_t size) const {
  struct stat st;
  return ::stat(blob_path(d).c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == size;
}

const oci::Descriptor& Layout::find(const std::string& name) const {
  if (name.empty()) {
    if (manifests_.size() == 1) return manifests_[0];
    fail("OCI layout {} holds {} images; name one as oci:{}:NAME", dir_, manifests_.size(), dir_);
  }
  for (auto& d : manifests_) {
    auto it = d.annotations.find(std::string(kRefNameAnnotation));
    if (it != d.annotations.end() && it->second == name) return d;
  }
  std::string names;
  for (auto& d : manifests_) {
    auto it = d.annotations.find(std::string(kRefNameAnnotation));
    if (it != d.annotations.end()) names += (names.empty() ? "" : ", ") + it->second;
  }
  fail("no image named \"{}\" in OCI layout {} (has: {})", name, dir_, names.empty() ? "no named images" : names);
}

void Layout::write_blob(const oci::Descriptor& d, const std::function<void(int fd)>& fill) {
  make_dirs(dir_ + "/blobs/" + d.digest.algorithm());
  AtomicFile f(blob_path(d.digest));
  fill(f.fd());
  check_size(f.fd(), d);
  f.commit();
}

void Layout::write_blob_bytes(const oci::Descriptor& d, std::string_view bytes) {
  if (static_cast<int64_t>(bytes.size()) != d.size)
    fail("blob {}: size mismatch: expected {} bytes, got {}", d.digest.short_str(), d.size, bytes.size());
  oci::DigestVerifier v(d.digest);
  v.update(bytes.data(), bytes.size());
  with_context(fmt::format("blob {}", d.digest.short_str()), [&] { v.verify(); });
  write_blob(d, [&](int fd) { write_all(fd, bytes, blob_path(d.digest)); });
}

std::string Layout::read_blob_bytes(const oci::Descriptor& d, size_t limit) const {
  return with_context(fmt::format("blob {}", d.digest.short_str()), [&] {
    if (d.size < 0 || static_cast<size_t>(d.size) > limit) fail("{} bytes is over the limit of {}", d.size, limit);
    std::string bytes = read_file(blob_path(d.digest), limit);
    if (static_cast<int64_t>(bytes.size()) != d.size)
      fail("size mismatch: expected {} bytes, got {}", d.size, bytes.size());
    oci::DigestVerifier v(d.digest);
    v.update(bytes.data(), bytes.size());
    v.verify();
    return bytes;
  });
}

void Layout::add_manifest(oci::Descriptor d, const std::string& name) {
  std::vector<oci::Descriptor> next;
  for (auto& m : manifests_) {
    auto it = m.annotations.find(std::string(kRefNameAnnotation));
    bool named = it != m.annotations.end();
    if (!name.empty() && named && it->second == name) continue;        // replaced
    if (name.empty() && !named && m.digest == d.digest) continue;       // already there
    next.push_back(m);
  }
  d.platform.reset();
  d.annotations.clear();
  if (!name.empty()) d.annotations[std::string(kRefNameAnnotation)] = name;
  next.push_back(d);

  std::string json = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
  for (size_t i = 0; i < next.size(); i++) json += (i ? "," : "") + oci::descriptor_json(next[i]);
  json += "]}";
  write_file_atomic(dir_ + "/index.json", json);
  manifests_ = std::move(next);
}

void copy_verified(const std::string& src_path, const oci::Descriptor& d, int fd, ProgressBar* bar) {
  UniqueFd in = open_file(src_path, O_RDONLY);
  posix_fadvise(in.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  oci::DigestVerifier v(d.digest);
  std::vector<char> buf(kCopyBuffer);
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(fmt::format("reading {}", src_path));
    }
    if (n == 0) break;
    v.update(buf.data(), static_cast<size_t>(n));
    if (static_cast<int64_t>(v.size()) > d.size) fail("{} is larger than its descriptor's {} bytes", src_path, d.size);
    write_all(fd, std::as_bytes(std::span(buf.data(), static_cast<size_t>(n))), "blob");
    if (bar) bar->add(static_cast<uint64_t>(n));
  }
  if (static_cast<int64_t>(v.size()) != d.size)
    fail("{}: size mismatch: expected {} bytes, got {}", src_path, d.size, v.size());
  v.verify();
}

}  // namespace hull::image
