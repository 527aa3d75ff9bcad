#include "util/hash.h"

#include "util/error.h"

namespace hull {
namespace {
const EVP_MD* md_of(Hasher::Algo a) { return a == Hasher::Algo::kSha256 ? EVP_sha256() : EVP_sha512(); }
}  // namespace

Hasher::Hasher(Algo algo) : algo_(algo), ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), md_of(algo_), nullptr) != 1) fail("initializing a hash context");
}

void Hasher::update(const void* data, size_t len) {
  if (EVP_DigestUpdate(ctx_.get(), data, len) != 1) fail("hashing data");
}

std::string Hasher::hex_final() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), md, &n) != 1) fail("finishing a hash");
  static const char* hex = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (unsigned i = 0; i < n; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  EVP_DigestInit_ex(ctx_.get(), md_of(algo_), nullptr);
  return out;
}

std::string sha256_hex(std::string_view data) {
  Hasher h;
  h.update(data);
  return h.hex_final();
}

}  // namespace hull
