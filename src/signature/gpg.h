// OpenPGP signatures with GPGME, as containers/image's ephemeral mechanism
// does (signature/mechanism_gpgme.go): a temporary GNUPGHOME holding only
// the policy's keys (never the user's keyring), removed afterwards.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hull::signature {

class GpgVerifier {
 public:
  // Imports `keys` (armored or binary OpenPGP public keys, concatenated)
  // into a fresh temporary keyring. Throws Error if GPGME cannot start or
  // no key was imported.
  explicit GpgVerifier(std::string_view keys);
  ~GpgVerifier();
  GpgVerifier(const GpgVerifier&) = delete;
  GpgVerifier& operator=(const GpgVerifier&) = delete;

  // Fingerprints of the imported primary keys.
  const std::vector<std::string>& fingerprints() const;

  // Verifies an opaque (non-detached) signature and returns the signed
  // bytes. Throws Error("invalid GPG signature: why") unless it holds
  // exactly one good signature by one of the imported keys (a subkey's
  // signature counts for its primary key).
  std::string verify(std::string_view signature);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hull::signature
