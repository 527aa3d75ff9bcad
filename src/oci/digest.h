// OCI content digests: "algorithm:encoded", sha256 and sha512 only
// (image-spec descriptor.md). Parsing validates the encoded length and hex.
#pragma once

#include <string>
#include <string_view>

#include "util/hash.h"

namespace hull::oci {

class Digest {
 public:
  Digest() = default;
  // Throws Error("invalid digest \"...\": why") for malformed input.
  static Digest parse(std::string_view s);
  // sha256 of `data`.
  static Digest of(std::string_view data);

  const std::string& algorithm() const { return algo_; }
  const std::string& encoded() const { return hex_; }
  std::string str() const { return algo_ + ":" + hex_; }
  bool empty() const { return hex_.empty(); }
  // A hasher for this digest's algorithm.
  Hasher hasher() const;
  // "sha256:0123456789ab" for messages.
  std::string short_str() const { return algo_ + ":" + hex_.substr(0, 12); }

  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;

 private:
  std::string algo_;
  std::string hex_;
};

// Incremental verification of a byte stream against an expected digest.
class DigestVerifier {
 public:
  explicit DigestVerifier(const Digest& want) : want_(want), h_(want.hasher()) {}
  void update(const void* p, size_t n) {
    h_.update(p, n);
    size_ += n;
  }
  uint64_t size() const { return size_; }
  // Throws "digest mismatch: expected X, got Y" on a mismatch.
  void verify();
  // The digest of what was fed, whatever was expected.
  Digest actual();

 private:
  Digest want_;
  Hasher h_;
  uint64_t size_ = 0;
};

}  // namespace hull::oci
