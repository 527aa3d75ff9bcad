// An OCI image layout directory (image-spec image-layout.md): `oci-layout`,
// `index.json` and `blobs/ALG/HEX`. Blobs are written to a temporary name,
// verified and renamed, so a reader never sees a partial blob; index.json
// is replaced atomically, last, so an interrupted copy leaves the layout as
// it was (plus, at most, unreferenced complete blobs).
//
// This is I/O, so it lives here and not in oci/, whose parsers do none.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "oci/manifest.h"
#include "util/progress.h"

namespace hull::image {

inline constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

class Layout {
 public:
  // Opens an existing layout; throws if `dir` is not one.
  static Layout open(std::string dir);
  // Opens `dir`, creating an empty layout if it does not exist or is empty.
  static Layout open_or_create(std::string dir);

  const std::string& dir() const { return dir_; }
  std::string blob_path(const oci::Digest& d) const;
  bool has_blob(const oci::Digest& d, int64_t size) const;

  // The descriptors of index.json.
  const std::vector<oci::Descriptor>& manifests() const { return manifests_; }
  // The descriptor named `name`; with an empty name, the only one. Throws
  // naming the layout and what it holds otherwise.
  const oci::Descriptor& find(const std::string& name) const;

  // Writes blob `d`: `fill(fd)` writes its bytes into a fresh temporary
  // file; then size and digest are verified and the file renamed in place.
  void write_blob(const oci::Descriptor& d, const std::function<void(int fd)>& fill);
  void write_blob_bytes(const oci::Descriptor& d, std::string_view bytes);
  // Reads a small blob, verified, refusing blobs over `limit` bytes.
  std::string read_blob_bytes(const oci::Descriptor& d, size_t limit) const;

  // Adds `d` to index.json under `name` (replacing any entry of that
  // name; an empty name adds an unnamed entry unless the digest is there)
  // and rewrites index.json atomically.
  void add_manifest(oci::Descriptor d, const std::string& name);

 private:
  explicit Layout(std::string dir) : dir_(std::move(dir)) {}
  void load_index();
  std::string dir_;
  std::vector<oci::Descriptor> manifests_;
  std::string index_media_type_;
};

// Copies `src_path` into `fd` while verifying it against `d` (size and
// digest); throws naming the blob on a mismatch.
void copy_verified(const std::string& src_path, const oci::Descriptor& d, int fd, ProgressBar* bar);

}  // namespace hull::image
