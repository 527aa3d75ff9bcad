// bootc-image-builder config.toml / config.json given to build-disk.
#include "fuzz/fuzz.h"
#include "install/bib_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hull::install;
  auto s = hull::fuzz::text(data, size);
  hull::fuzz::refuse_ok([&] { parse_bib_config(s, "config.toml"); });
  hull::fuzz::refuse_ok([&] { parse_bib_config(s, "config.json"); });
  hull::fuzz::refuse_ok([&] { parse_bib_size(s); });
  return 0;
}
