// Manifests, indexes and configs from a registry or an oci: layout.
#include "fuzz/fuzz.h"
#include "oci/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hull::oci;
  auto s = hull::fuzz::text(data, size);
  hull::fuzz::refuse_ok([&] { classify(s); });
  hull::fuzz::refuse_ok([&] { Manifest::parse(s); });
  hull::fuzz::refuse_ok([&] { Index::parse(s); });
  hull::fuzz::refuse_ok([&] { ImageConfig::parse(s); });
  return 0;
}
