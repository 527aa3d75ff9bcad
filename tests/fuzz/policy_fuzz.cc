// containers-policy.json(5) and the signature payloads a registry serves.
#include "fuzz/fuzz.h"
#include "signature/payload.h"
#include "signature/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hull::signature;
  auto s = hull::fuzz::text(data, size);
  hull::fuzz::refuse_ok([&] { parse_policy(s); });
  hull::fuzz::refuse_ok([&] { parse_payload(s, kCosignType); });
  hull::fuzz::refuse_ok([&] { parse_payload(s, kSimpleSigningType); });
  return 0;
}
