// Image references as containers/image (docker/reference) and podman parse
// them:
//   quay.io/fedora/fedora-bootc:42       registry quay.io, tag 42
//   localhost:5000/x/y:tag               registry localhost:5000
//   name@sha256:...  name:tag@sha256:... by digest (the digest wins)
//   debian                               docker.io/library/debian:latest
// Names must be lower case; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "oci/digest.h"

namespace hull::oci {

struct Reference {
  std::string registry;    // "docker.io", "localhost:5000", "quay.io"
  std::string repository;  // "library/debian", "fedora/fedora-bootc"
  std::string tag;         // empty if none was given (and a digest was)
  std::optional<Digest> digest;

  // Throws Error("invalid image reference \"...\": why").
  static Reference parse(std::string_view s);

  // "registry/repository[:tag][@digest]", fully qualified.
  std::string str() const;
  // "registry/repository".
  std::string name() const { return registry + "/" + repository; }
  // What to ask the registry for: the digest if set, else the tag.
  std::string manifest_ref() const { return digest ? digest->str() : tag; }
  // The host to connect to: docker.io is served by registry-1.docker.io.
  std::string api_host() const;
  // True for localhost, 127.0.0.0/8 and ::1 (podman uses plain HTTP there).
  bool is_local() const;
};

}  // namespace hull::oci
