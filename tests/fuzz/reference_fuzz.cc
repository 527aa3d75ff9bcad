// Image references and platforms, as a user or an origin file writes them.
#include "fuzz/fuzz.h"
#include "oci/manifest.h"
#include "oci/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto s = hull::fuzz::text(data, size);
  hull::fuzz::refuse_ok([&] {
    auto r = hull::oci::Reference::parse(s);
    // What hull writes back must parse to the same reference.
    auto again = hull::oci::Reference::parse(r.str());
    if (again.str() != r.str()) __builtin_trap();
  });
  hull::fuzz::refuse_ok([&] { hull::oci::Platform::parse(s); });
  return 0;
}
