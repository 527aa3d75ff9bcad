// Sigstore (cosign) signatures with a public key, verified with OpenSSL:
// ECDSA P-256 with SHA-256 over the exact payload bytes, the signature DER
// and base64-encoded, the key PEM ("-----BEGIN PUBLIC KEY-----",
// SubjectPublicKeyInfo), as `cosign generate-key-pair` writes it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hull::signature {

// Throws Error("... not an ECDSA P-256 public key") for other keys; `pem` may
// hold several PEM keys one after the other.
void check_sigstore_keys(std::string_view pem);

// True if `signature_b64` (the base64 annotation
// dev.cosignproject.cosign/signature) is a valid signature of `payload` by
// one of the keys of `pem`. Throws Error for malformed base64 or keys.
bool verify_sigstore(std::string_view pem, std::string_view payload, std::string_view signature_b64);

}  // namespace hull::signature
