#include "signature/sigstore.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

#include "registry/auth.h"
#include "util/error.h"

namespace hull::signature {
namespace {

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::vector<PKey> load_keys(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::vector<PKey> keys;
  for (;;) {
    EVP_PKEY* k = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
    if (!k) break;
    keys.emplace_back(k, EVP_PKEY_free);
    PKey& key = keys.back();
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) ||
        std::string_view(group) != "prime256v1")
      fail("public key {} is not an ECDSA P-256 key (the only kind hull verifies)", keys.size());
  }
  if (keys.empty()) fail("no PEM public key found");
  return keys;
}

}  // namespace

void check_sigstore_keys(std::string_view pem) { load_keys(pem); }

bool verify_sigstore(std::string_view pem, std::string_view payload, std::string_view signature_b64) {
  std::string sig;
  try {
    sig = registry::base64_decode(signature_b64);
  } catch (const Error& e) {
    fail("signature annotation: {}", e.message());
  }
  if (sig.empty() || sig.size() > 256) fail("signature annotation: {} bytes is no ECDSA P-256 signature", sig.size());
  for (PKey& key : load_keys(pem)) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) fail("EVP_DigestVerifyInit");
    int ok = EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                              reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
    if (ok == 1) return true;
  }
  return false;
}

}  // namespace hull::signature
