// An image's /usr/lib/bootc/kargs.d/*.toml and kernel command lines.
#include "fuzz/fuzz.h"
#include "sysroot/kargs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hull::sysroot;
  auto s = hull::fuzz::text(data, size);
  hull::fuzz::refuse_ok([&] { parse_kargs_file("fuzz.toml", s); });
  hull::fuzz::refuse_ok([&] {
    auto args = split_kargs(s);
    // Joining and splitting again gives the same arguments.
    if (split_kargs(join_kargs(args)) != args) __builtin_trap();
  });
  return 0;
}
