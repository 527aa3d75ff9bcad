// What a registry's auth answers and a user's auth file hold:
// WWW-Authenticate challenges, token responses, auth.json.
#include "fuzz/fuzz.h"
#include "registry/auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hull::registry;
  auto s = hull::fuzz::text(data, size);
  hull::fuzz::refuse_ok([&] { parse_challenges(s); });
  hull::fuzz::refuse_ok([&] { parse_token_response(s); });
  hull::fuzz::refuse_ok([&] { find_credentials_in(s, "127.0.0.1:5000", "hull/os"); });
  hull::fuzz::refuse_ok([&] { base64_decode(s); });
  return 0;
}
