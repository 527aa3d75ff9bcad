// The signature policy applied to one image, before anything but its
// manifest is read: containers/image's IsRunningImageAllowed, in hull's
// registry path.
//
// Signatures are found as containers/image finds them for docker://
// images: simple-signing (GPG) signatures in the lookaside
// (registries.d: <base>/<repository>@sha256=<hex>/signature-1..N, file://,
// http:// or https://, up to the first missing one), and, where
// registries.d says use-sigstore-attachments, cosign signatures in the
// same repository under the tag sha256-<hex>.sig. oci: and oci-archive:
// images carry no signatures: only insecureAcceptAnything (or reject)
// scopes mean anything for them. Each signature is at most 4 MiB and at
// most 128 are read (more is an error, not a truncation).
//
// No policy file at all: containers/image refuses to run; hull accepts the
// image as insecureAcceptAnything (hosts and build machines without
// /etc/containers/policy.json keep working) unless enforcing, which then
// refuses. With a policy, it applies exactly as written.
#pragma once

#include <optional>
#include <string>

#include "image/source.h"
#include "image/transport.h"
#include "registry/client.h"
#include "signature/policy.h"
#include "signature/registries_d.h"

namespace hull::signature {

struct TrustOptions {
  std::string policy_path;   // --policy; "" = the default search (policy.h)
  std::string registries_d;  // --registries.d; "" = the default search (registries_d.h)
  // --enforce-container-sigpolicy: refuse an image whose effective
  // requirements are all insecureAcceptAnything (or when no policy exists).
  bool enforce = false;
  // The image is a local copy (build-disk's) of an image whose signatures
  // were checked when it was fetched: it is not checked again (enforce
  // still goes into the origin).
  bool source_checked = false;
};

// A loaded policy and registries.d configuration.
struct Trust {
  std::optional<Policy> policy;  // nullopt: no policy file anywhere
  RegistriesD registries_d;
  bool enforce = false;
  bool source_checked = false;
  registry::Options registry;  // for sigstore attachments

  // Reads the files named by `opts` (errors name the file and the key).
  static Trust load(const TrustOptions& opts, const registry::Options& registry);
};

struct Verdict {
  std::string scope;        // "default", "transports.docker.\"quay.io/x\""
  std::string accepted_by;  // "insecureAcceptAnything", "signedBy key FPR", "sigstoreSigned", ...
  int signatures_read = 0;
  double seconds = 0;       // time spent finding and verifying signatures
};

// Copies the signatures of `digest` from registry image `src` to registry
// image `dst` (`image copy`, as skopeo does): the lookaside's
// simple-signing signatures into dst's lookaside (file:// only; written
// atomically, numbered after what is there), and, where registries.d says
// use-sigstore-attachments for the source, its attachments manifest with
// its blobs under the same tag in dst's repository. Returns how many
// signatures were copied; they are checked for size and count as when
// verifying, not for validity (the destination's readers verify them).
int copy_signatures(const Trust& trust, const image::ImageName& src, const image::ImageName& dst,
                    const oci::Digest& digest, const registry::Options& dst_registry);

// Checks `manifest` (the image manifest that will be used, its digest
// computed from its bytes) of `name` against the policy. Throws
// Error("signature policy FILE, SCOPE[i] signedBy: why") when a requirement
// refuses it (the caller adds the image name).
Verdict verify_image(const Trust& trust, const image::ImageName& name, const image::Doc& manifest);

}  // namespace hull::signature
