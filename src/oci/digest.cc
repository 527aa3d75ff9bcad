#include "oci/digest.h"

#include "util/error.h"

namespace hull::oci {

Digest Digest::parse(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) fail("invalid digest \"{}\": no algorithm", s);
  std::string algo(s.substr(0, colon));
  std::string_view hex = s.substr(colon + 1);
  size_t want;
  if (algo == "sha256")
    want = 64;
  else if (algo == "sha512")
    want = 128;
  else
    fail("invalid digest \"{}\": unsupported algorithm \"{}\"", s, algo);
  if (hex.size() != want) fail("invalid digest \"{}\": {} needs {} hex characters", s, algo, want);
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      fail("invalid digest \"{}\": not lower-case hex", s);
  Digest d;
  d.algo_ = std::move(algo);
  d.hex_ = std::string(hex);
  return d;
}

Digest Digest::of(std::string_view data) {
  Digest d;
  d.algo_ = "sha256";
  d.hex_ = sha256_hex(data);
  return d;
}

Hasher Digest::hasher() const {
  return Hasher(algo_ == "sha512" ? Hasher::Algo::kSha512 : Hasher::Algo::kSha256);
}

Digest DigestVerifier::actual() {
  Digest d = Digest::parse(want_.algorithm() + ":" + h_.hex_final());
  return d;
}

void DigestVerifier::verify() {
  Digest got = actual();
  if (got != want_) fail("digest mismatch: expected {}, got {}", want_.str(), got.str());
}

}  // namespace hull::oci
