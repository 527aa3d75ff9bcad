// containers-policy.json(5), with the semantics of containers/image
// (signature/policy_config.go, policy_eval.go): what an image must satisfy
// before hull reads more than its manifest.
//
//   {"default": [REQ...],
//    "transports": {"docker": {"SCOPE": [REQ...], ...}, "oci": {...}, ...}}
//
// REQ is {"type": "insecureAcceptAnything"} | {"type": "reject"} |
// {"type": "signedBy", "keyType": "GPGKeys", keyPath|keyPaths|keyData,
//  "signedIdentity": ID} | {"type": "sigstoreSigned", keyPath|keyData,
//  "signedIdentity": ID}; every requirement of the list must accept.
// ID is {"type": "matchRepoDigestOrExact"} (the default) |
// "matchRepository" | "matchExact" | {"type": "exactReference",
// "dockerReference": R} | {"type": "exactRepository", "dockerRepository":
// R} | {"type": "remapIdentity", "prefix": P, "signedPrefix": S}.
//
// Parsing is as strict as containers/image's: an unknown or repeated key,
// an unknown type, a missing default, an empty requirement list are errors
// naming the key. keyData is base64, as Go encodes []byte. Differences, on
// purpose: sigstoreSigned's fulcio, rekorPublicKey*, pki are refused as
// "not supported by hull" (not ignored), keyTypes other than GPGKeys too;
// signedBaseLayer is refused (containers/image parses it and then rejects
// every image).
//
// Scopes (requirements_for): the transport's section, then the image's
// identity, then its namespaces from the longest, then the transport's ""
// scope, then "default". docker: "host[:port]/ns/repo:tag" (or @digest),
// "host/ns/repo", "host/ns", "host", then "*.example.com" wildcards of the
// host (port dropped). oci/oci-archive: the absolute directory (or file),
// then its parent directories. Transport names other than docker, oci,
// oci-archive are parsed (atomic, dir, containers-storage, docker-daemon,
// docker-archive, sif, tarball, ostree) but never match an image hull reads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/transport.h"
#include "oci/reference.h"

namespace hull::signature {

// signedIdentity: which docker-reference in a signature is accepted.
struct IdentityRule {
  enum Kind { kMatchRepoDigestOrExact, kMatchRepository, kMatchExact, kExactReference, kExactRepository,
              kRemapIdentity };
  Kind kind = kMatchRepoDigestOrExact;
  std::string reference;      // exactReference, exactRepository
  std::string prefix;         // remapIdentity
  std::string signed_prefix;  // remapIdentity
};

struct Requirement {
  enum Kind { kInsecureAcceptAnything, kReject, kSignedBy, kSigstoreSigned };
  Kind kind = kReject;
  // signedBy: armored or binary OpenPGP keys; sigstoreSigned: PEM keys.
  // Either files to read when the requirement is evaluated (a file that
  // cannot be read refuses the image), or the decoded keyData.
  std::vector<std::string> key_paths;
  std::optional<std::string> key_data;
  IdentityRule identity;
};
using Requirements = std::vector<Requirement>;

struct Policy {
  Requirements default_reqs;
  // transport name -> scope -> requirements, sorted by name (order
  // does not matter: scopes are looked up by name).
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, Requirements>>>> transports;
  std::string source;  // the file it was read from, for messages ("" if bytes)
};

// The requirement's type as policy.json spells it ("signedBy").
std::string_view kind_name(Requirement::Kind k);

// Parses policy.json bytes. Throws Error("policy: transports.docker.
// \"quay.io/x\"[0]: unknown key \"keyPth\"") and the like.
Policy parse_policy(std::string_view json);

// The policy file: `path` if given, else $HOME/.config/containers/policy.json
// for a non-root user if it exists, else /etc/containers/policy.json.
// nullopt if none of the implicit files exists (see verify.h for what that
// means); an explicit `path` that cannot be read is an error.
std::optional<Policy> load_policy(const std::string& path);

// The scope of `policy` that applies to `name` and its requirements;
// `scope` is set to "transports.docker.\"SCOPE\"" or "default".
const Requirements& requirements_for(const Policy& policy, const image::ImageName& name, std::string* scope = nullptr);

// containers/image's PolicyConfigurationIdentity and
// PolicyConfigurationNamespaces of `name`, most specific first.
std::vector<std::string> policy_scopes(const image::ImageName& name);

// Whether a signature claiming `signed_reference` (a docker reference as
// written in the payload) is accepted for the image `intended` (its
// registry reference; nullopt for oci: layouts, which have none).
bool identity_matches(const IdentityRule& rule, const std::optional<oci::Reference>& intended,
                      std::string_view signed_reference);

}  // namespace hull::signature
