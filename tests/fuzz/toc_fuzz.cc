// zstd:chunked layers: the footer at the blob's end and the table of
// contents it points to (JSON, zstd-compressed in the blob).
#include <span>

#include "chunked/toc.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hull::chunked;
  auto bytes = std::span(reinterpret_cast<const std::byte*>(data), size);
  hull::fuzz::refuse_ok([&] { parse_footer(bytes); });
  hull::fuzz::refuse_ok([&] { parse_toc(hull::fuzz::text(data, size)); });
  hull::fuzz::refuse_ok([&] { zstd_decompress(bytes, 1 << 20, "fuzz"); });
  return 0;
}
