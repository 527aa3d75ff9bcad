// Writing layer blobs: a tar stream compressed as gzip, zstd or
// zstd:chunked (chunked/toc.h). The uncompressed stream is kept byte for
// byte, so the diff_id of a recompressed layer does not change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "oci/manifest.h"

namespace hull::chunked {

enum class Format { kGzip, kZstd, kZstdChunked };

// "gzip", "zstd", "zstd:chunked" (as podman's --compression-format).
Format parse_format(std::string_view s);
std::string_view format_name(Format f);

// Reads up to `n` bytes of the uncompressed tar stream into `buf`; 0 at its end.
using TarReader = std::function<size_t(void* buf, size_t n)>;

struct WrittenLayer {
  // media_type (OCI +gzip / +zstd), digest and size of what was written,
  // annotations (zstd:chunked: chunked/toc.h's three keys).
  oci::Descriptor desc;
  oci::Digest diff_id;      // sha256 of the uncompressed stream
  uint64_t tar_bytes = 0;   // size of the uncompressed stream
  uint64_t files = 0;       // zstd:chunked: regular files with content
};

struct CompressOptions {
  Format format = Format::kZstdChunked;
  int level = 3;  // zstd level (gzip: 6 when left at 3)
};

// Compresses the tar stream read from `in` into `out_fd` (empty, opened
// for writing; written from offset 0 with write(2)), digesting as it goes.
// For zstd:chunked the stream is tokenized into tar headers and payloads
// (ustar, GNU long names, pax headers incl. SCHILY.xattr.*), each regular
// file's payload in frames of its own, then the TOC, the tar-split and the
// 64-byte footer. Refuses (Error) a stream that is not a tar, and what a
// zstd:chunked TOC cannot hold and containers/storage refuses as well
// (sparse files, pax global headers, a name twice). Payloads are not cut
// into chunks: each file is one run of frames, with no "chunk" entries.
WrittenLayer compress_layer(const TarReader& in, int out_fd, const CompressOptions& opts);

// A TarReader over the decompressed content of a layer blob read from `fd`
// (plain, gzip or zstd as `c` says; skippable frames are skipped). The
// returned reader owns its decompression state; `fd` must outlive it.
TarReader decompressing_reader(int fd, oci::Compression c);

}  // namespace hull::chunked
