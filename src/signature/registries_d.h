// containers-registries.d(5): where the signatures of registry images are,
// read from /etc/containers/registries.d/*.yaml (or
// $HOME/.config/containers/registries.d when it exists, as containers/image
// does), with yaml-cpp:
//
//   default-docker:
//     lookaside: file:///var/lib/containers/sigstore
//   docker:
//     registry.example.com/ns:
//       lookaside: https://sigs.example.com/sigstore
//       use-sigstore-attachments: true
//
// Keys read: lookaside (and its deprecated name sigstore), lookaside-staging
// (and sigstore-staging: where `image copy` writes signatures, else
// lookaside), use-sigstore-attachments; unknown keys are ignored, as
// containers/image's YAML decoding does. A namespace (or default-docker)
// defined in two files is an error naming both. A docker entry is found as a
// policy scope is (signature/policy.h): the image's identity, then its
// namespaces from the longest, then default-docker.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "image/transport.h"

namespace hull::signature {

struct RegistryNamespace {
  std::string lookaside;                       // a file://, http:// or https:// URL, or ""
  std::string lookaside_staging;               // for writing; "" = lookaside
  std::optional<bool> use_sigstore_attachments;
};

struct RegistriesD {
  std::optional<RegistryNamespace> default_docker;
  std::map<std::string, RegistryNamespace> docker;
};

// Merges `text` (one file's YAML, named `file` in errors) into `into`.
void parse_registries_d_file(std::string_view text, const std::string& file, RegistriesD& into);

// Reads every *.yaml of `dir` (missing dir: nothing). An empty `dir` means
// $HOME/.config/containers/registries.d if it exists, else
// /etc/containers/registries.d.
RegistriesD load_registries_d(const std::string& dir);

// The lookaside base URL for a registry image: the configured one, else
// file:///var/lib/containers/sigstore for root and
// file://$HOME/.local/share/containers/sigstore for others (containers/image's
// builtin default), with "/<repository path>" appended.
std::string lookaside_base(const RegistriesD& conf, const image::ImageName& name);

// Where signatures of a registry image are written: lookaside-staging,
// else lookaside, else the builtin default, with "/<repository path>".
std::string lookaside_write_base(const RegistriesD& conf, const image::ImageName& name);

// use-sigstore-attachments for a registry image (default false).
bool use_sigstore_attachments(const RegistriesD& conf, const image::ImageName& name);

}  // namespace hull::signature
