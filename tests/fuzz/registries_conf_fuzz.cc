// registries.conf (TOML) as containers-registries.conf(5) writes it.
#include "fuzz/fuzz.h"
#include "registry/registries_conf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hull::fuzz::refuse_ok([&] { hull::registry::insecure_locations("registries.conf", hull::fuzz::text(data, size)); });
  return 0;
}
