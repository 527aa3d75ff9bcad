#include "image/transport.h"

#include "util/error.h"

namespace hull::image {
namespace {

// Splits "PATH[:NAME]" at the first colon, as containers/image does.
void split_path_name(std::string_view rest, ImageName& out) {
  auto colon = rest.find(':');
  out.path = std::string(rest.substr(0, colon));
  if (colon != std::string_view::npos) out.name = std::string(rest.substr(colon + 1));
}

}  // namespace

ImageName ImageName::parse(std::string_view s) {
  return with_context(fmt::format("invalid image name \"{}\"", s), [&] {
    ImageName n;
    if (s.starts_with("docker://")) {
      n.transport = Transport::kDocker;
      n.ref = oci::Reference::parse(s.substr(9));
    } else if (s.starts_with("oci:")) {
      n.transport = Transport::kOci;
      split_path_name(s.substr(4), n);
    } else if (s.starts_with("oci-archive:")) {
      n.transport = Transport::kOciArchive;
      split_path_name(s.substr(12), n);
    } else if (s.starts_with("containers-storage:")) {
      fail("the containers-storage transport is not supported; export the image with "
           "`buildah push IMAGE oci:DIR` (or push it to a registry) and use oci:DIR");
    } else if (s.starts_with("docker:") || s.starts_with("registry:")) {
      fail("use docker://REFERENCE for registry images");
    } else {
      n.transport = Transport::kDocker;
      n.ref = oci::Reference::parse(s);
    }
    if (n.transport != Transport::kDocker && n.path.empty()) fail("missing path");
    return n;
  });
}

std::string ImageName::str() const {
  switch (transport) {
    case Transport::kDocker:
      return "docker://" + ref.str();
    case Transport::kOci:
      return "oci:" + path + (name.empty() ? "" : ":" + name);
    case Transport::kOciArchive:
      return "oci-archive:" + path + (name.empty() ? "" : ":" + name);
  }
  return {};
}

Transport transport_from_bootc(std::string_view name) {
  if (name == "registry" || name == "docker") return Transport::kDocker;
  if (name == "oci") return Transport::kOci;
  if (name == "oci-archive") return Transport::kOciArchive;
  fail("unknown transport \"{}\" (expected registry, oci or oci-archive)", name);
}

std::string_view bootc_transport_name(Transport t) {
  switch (t) {
    case Transport::kDocker:
      return "registry";
    case Transport::kOci:
      return "oci";
    case Transport::kOciArchive:
      return "oci-archive";
  }
  return "registry";
}

}  // namespace hull::image
