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
//   ostree-image-signed:docker://NAME        the same, installed with
//   ostree-image-signed:registry:NAME        --enforce-container-sigpolicy:
//   ostree-image-signed:oci:PATH[:NAME] ...  every later upgrade and switch
//                                            enforces the signature policy
//   ostree-remote-image:REMOTE:...,
//   ostree-remote-registry:REMOTE:NAME       verified by an ostree remote's
//                                            keys: refused
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
// and "ostree-unverified-image:oci-archive:..." for layouts;
// "ostree-image-signed:TRANSPORT:..." (bootc's form) when
// `enforce_signatures`.
std::string origin_image_ref(const image::ImageName& name, bool enforce_signatures = false);

// Parses any form above but ostree-remote-*; `enforce_signatures` (if not
// null) is set for ostree-image-signed:. Throws Error("invalid origin image
// reference \"...\": why"); ostree-remote forms are refused, unsupported
// transports (containers-storage, dir, docker-archive, docker-daemon) by name.
image::ImageName parse_origin_image_ref(std::string_view s, bool* enforce_signatures = nullptr);

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
Origin origin_for_image(const image::ImageName& name, bool enforce_signatures = false);

// The image a deployment follows: its [origin] container-image-reference
// parsed, or nullopt if there is none (an ostree-only deployment);
// `enforce_signatures` (if not null) says whether it is ostree-image-signed:.
std::optional<image::ImageName> origin_container_image(const Origin& origin, bool* enforce_signatures = nullptr);

// True if rpm-ostree has made machine-local changes in this origin
// ([rpmostree], [packages], [overrides], [modules]): bootc then marks the
// deployment incompatible and shows no image for it.
bool origin_incompatible(const Origin& origin);

}  // namespace hull::sysroot
