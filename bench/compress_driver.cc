// hull_bench_compress FORMAT TAR OUT: chunked::compress_layer of the tar
// file TAR into OUT, timed; prints one line of figures.
#include <fcntl.h>

#include <chrono>
#include <cstdio>

#include "chunked/compress.h"
#include "util/error.h"
#include "util/fd.h"

int main(int argc, char** argv) {
  using namespace hull;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s gzip|zstd|zstd:chunked TAR OUT\n", argv[0]);
    return 2;
  }
  try {
    chunked::CompressOptions opts{.format = chunked::parse_format(argv[1])};
    UniqueFd in = open_file(argv[2], O_RDONLY);
    UniqueFd out = open_file(argv[3], O_WRONLY | O_CREAT | O_TRUNC);
    auto t0 = std::chrono::steady_clock::now();
    chunked::WrittenLayer w = chunked::compress_layer(chunked::decompressing_reader(in.get(), oci::Compression::kNone),
                                                      out.get(), opts);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %.1f MB tar -> %.1f MB in %.2f s (%.0f MB/s of tar), %llu files, %s\n", argv[1], w.tar_bytes / 1e6,
                w.desc.size / 1e6, s, w.tar_bytes / 1e6 / s, static_cast<unsigned long long>(w.files),
                w.desc.digest.short_str().c_str());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
