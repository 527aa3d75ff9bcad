// A layer blob (tar, gzip or zstd) through libarchive and hull's entry
// rules, reading every file's content.
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "layer/reader.h"
#include "util/fd.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hull::layer;
  hull::UniqueFd fd(memfd_create("layer", 0));
  if (fd.get() < 0 || write(fd.get(), data, size) != static_cast<ssize_t>(size)) return 0;
  lseek(fd.get(), 0, SEEK_SET);
  Options opts;
  opts.drop_top_level = {"dev", "proc"};
  hull::fuzz::refuse_ok([&] {
    read_layer(fd.get(), opts, [](const Entry&, Content& c) {
      while (!c.next().empty()) {
      }
    });
  });
  return 0;
}
