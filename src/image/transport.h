// Image names with a transport, as skopeo and podman write them:
//   docker://REFERENCE        an image in a registry
//   oci:DIR[:NAME]            an OCI image layout directory (NAME is the
//                             org.opencontainers.image.ref.name annotation)
//   oci-archive:FILE[:NAME]   the same layout in a tar file
// A name without a transport is a registry reference (docker://).
// containers-storage: is refused with a hint: export the image with
// `buildah push IMAGE oci:DIR` or push it to a registry first.
#pragma once

#include <string>
#include <string_view>

#include "oci/reference.h"

namespace hull::image {

enum class Transport { kDocker, kOci, kOciArchive };

struct ImageName {
  Transport transport = Transport::kDocker;
  oci::Reference ref;  // kDocker only
  std::string path;    // kOci, kOciArchive: the directory or file
  std::string name;    // kOci, kOciArchive: the ref.name; may be empty

  // Throws Error("invalid image name \"...\": why").
  static ImageName parse(std::string_view s);
  // Back to "transport:..." form.
  std::string str() const;
};

// bootc's transport names ("registry", "oci", "oci-archive") to ours.
Transport transport_from_bootc(std::string_view name);
// Our transport to bootc's name for status output.
std::string_view bootc_transport_name(Transport t);

}  // namespace hull::image
