// Where an image is written: a registry, an OCI layout, an oci-archive.
// Nothing becomes visible under the destination name before commit(): a
// layout's index.json and a registry's tag are written last, an archive is
// renamed into place whole.
#pragma once

#include <memory>
#include <string>

#include "image/source.h"

namespace hull::image {

class Dest {
 public:
  virtual ~Dest() = default;
  virtual std::string describe() const = 0;
  // True if blob `d` is already there (it is then not copied).
  virtual bool has_blob(const oci::Descriptor& d) = 0;
  // Copies blob `d` from `src`. Thread-safe.
  virtual void put_blob(const oci::Descriptor& d, Source& src, ProgressBar* bar) = 0;
  // Stores blob `d` from the local file `path` (a blob hull wrote itself,
  // such as a recompressed layer; its digest is checked again). Thread-safe.
  virtual void put_blob_file(const oci::Descriptor& d, const std::string& path, ProgressBar* bar) = 0;
  // Stores a manifest or index; `top` is the one that gets the name.
  // Children (of an index) are stored before their index.
  virtual void put_manifest(const Doc& doc, bool top) = 0;
  // Makes the image visible under its name.
  virtual void commit() = 0;
};

std::unique_ptr<Dest> open_dest(const ImageName& name, const registry::Options& opts);

}  // namespace hull::image
