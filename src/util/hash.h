// Streaming SHA-256 / SHA-512 through OpenSSL's EVP (SHA-NI where present).
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace hull {

class Hasher {
 public:
  enum class Algo { kSha256, kSha512 };
  explicit Hasher(Algo algo = Algo::kSha256);
  Hasher(Hasher&&) noexcept = default;
  Hasher& operator=(Hasher&&) noexcept = default;

  void update(const void* data, size_t len);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Lower-case hex of the digest; the hasher is reset afterwards.
  std::string hex_final();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  Algo algo_;
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

std::string sha256_hex(std::string_view data);

}  // namespace hull
