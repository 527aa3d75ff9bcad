// A deployment's origin file (/ostree/deploy/STATEROOT/deploy/CSUM.N.origin),
// a GKeyFile, as bootc and ostree-ext write it:
//
//   [origin]
//   container-image-reference=ostree-unverified-registry:quay.io/x/y:tag
//
// The value is an ostree-ext "OstreeImageReference": a signature policy,
// then a containers/image reference:
//   ostree-unverified-registry:NAME          registry image, no verification
//   ostree-unverified-image:registry:NAME    the same, long forms
//   ostree-unverified-image:docker://NAME
//   ostree-unverified-image:oci:PATH[:NAME]  an OCI layout directory
//   ostree-unverified-image:oci-archive:FILE[:NAME]
//   ostree-image-signed:..., ostree-remote-image:REMOTE:...,
//   ostree-remote-registry:REMOTE:NAME       signed: refused (hull does
//                                            not verify signatures yet)
// bootc writes nothing else; libostree may add keys of its own
// ([libostree-transient] pinned=, [origin] unlocked=) and rpm-ostree its
// groups, so the file model keeps every group and key it reads.
// Pure text functions: no GLib, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "image/transport.h"

namespace hull::sysroot {

inline constexpr const char* kOriginGroup = "origin";
inline constexpr const char* kOriginImageKey = "container-image-reference";

// The OstreeImageReference for `name`: "ostree-unverified-registry:REF" for
// registry images (REF fully qualified), "ostree-unverified-image:oci:..."
// and "ostree-unverified-image:oci-archive:..." for layouts.
std::string origin_image_ref(const image::ImageName& name);

// Parses any unverified form above. Throws Error("invalid origin image
// reference \"...\": why"); signed and ostree-remote forms are refused
// with "hull does not verify image signatures yet", unsupported transports
// (containers-storage, dir, docker-archive, docker-daemon) by name.
image::ImageName parse_origin_image_ref(std::string_view s);

// An origin file: its groups and keys in file order; values unescaped.
// Comments and blank lines are not kept.
struct Origin {
  struct Group {
    std::string name;
    std::vector<std::pair<std::string, std::string>> entries;
    friend bool operator==(const Group&, const Group&) = default;
  };
  std::vector<Group> groups;

  // The value of group/key, or nullptr.
  const std::string* get(std::string_view group, std::string_view key) const;
  // Sets group/key, adding the group (at the end) and key as needed.
  void set(std::string_view group, std::string_view key, std::string value);
  bool has_group(std::string_view group) const;
  friend bool operator==(const Origin&, const Origin&) = default;
};

// Parses GKeyFile text: "[group]" headers, "key=value" lines (spaces
// around '=' ignored), '#' comments; values unescaped (\s \n \t \r \\).
// Throws Error("origin file line N: why") for a line outside any group, a
// line without '=', a bad escape or an unterminated group header.
Origin parse_origin(std::string_view text);

// The file text, as g_key_file_to_data() writes it: groups separated by
// blank lines, values escaped (leading spaces as \s, \n \t \r \\).
std::string render_origin(const Origin& origin);

// The origin bootc writes for a deployment of `name`.
Origin origin_for_image(const image::ImageName& name);

// The image a deployment follows: its [origin] container-image-reference
// parsed, or nullopt if there is none (an ostree-only deployment).
std::optional<image::ImageName> origin_container_image(const Origin& origin);

// True if rpm-ostree has made machine-local changes in this origin
// ([rpmostree], [packages], [overrides], [modules]): bootc then marks the
// deployment incompatible and shows no image for it.
bool origin_incompatible(const Origin& origin);

}  // namespace hull::sysroot
