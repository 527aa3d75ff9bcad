// The signed payloads, read field by field as containers/image reads them
// (signature/simple.go, signature/internal/sigstore_payload.go):
//
//   {"critical": {"type": TYPE,
//                 "image": {"docker-manifest-digest": "sha256:..."},
//                 "identity": {"docker-reference": "host/repo:tag"}},
//    "optional": {...}}
//
// exactly these keys in "critical", "image", "identity" and at the top
// (no key repeated). TYPE is "atomic container signature" for GPG simple
// signing, "cosign container image signature" for sigstore. "optional" is
// required for simple signing (creator and timestamp, an integer, are
// checked when present; other keys are ignored) and may hold anything for
// cosign (cosign writes null).
#pragma once

#include <string>
#include <string_view>

#include "oci/digest.h"

namespace hull::signature {

inline constexpr std::string_view kSimpleSigningType = "atomic container signature";
inline constexpr std::string_view kCosignType = "cosign container image signature";

struct Payload {
  oci::Digest manifest_digest;   // critical.image.docker-manifest-digest
  std::string docker_reference;  // critical.identity.docker-reference
};

// Parses untrusted payload bytes of `type` (one of the two above); throws
// Error("invalid signature payload: why").
Payload parse_payload(std::string_view bytes, std::string_view type);

}  // namespace hull::signature
