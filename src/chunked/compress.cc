#include "chunked/compress.h"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_set>
#include <vector>

#include "chunked/tarscan.h"
#include "chunked/tarsplit.h"
#include "chunked/toc.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/hash.h"

namespace hull::chunked {
namespace {

constexpr size_t kIoBuf = 1u << 20;

using ZstdCCtx = std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)>;

// The output blob: buffered writes to the fd, counted and digested.
class Sink {
 public:
  explicit Sink(int fd) : fd_(fd) { buf_.reserve(kIoBuf); }
  void write(std::string_view d) {
    count_ += d.size();
    hash_.update(d);
    if (buf_.size() + d.size() > kIoBuf) flush();
    if (d.size() >= kIoBuf) {
      write_all(fd_, d, "writing the layer blob");
    } else {
      buf_.append(d);
    }
  }
  void flush() {
    if (!buf_.empty()) write_all(fd_, buf_, "writing the layer blob");
    buf_.clear();
  }
  uint64_t count() const { return count_; }
  oci::Digest digest() { return oci::Digest::parse("sha256:" + hash_.hex_final()); }

 private:
  int fd_;
  std::string buf_;
  uint64_t count_ = 0;
  Hasher hash_;
};

// A zstd stream into a Sink whose frames can be ended on demand.
class ZstdFrames {
 public:
  ZstdFrames(Sink& sink, int level) : sink_(sink), c_(ZSTD_createCCtx(), ZSTD_freeCCtx), out_(ZSTD_CStreamOutSize(), '\0') {
    if (!c_) fail("zstd: out of memory");
    check(ZSTD_CCtx_setParameter(c_.get(), ZSTD_c_compressionLevel, level));
    check(ZSTD_CCtx_setParameter(c_.get(), ZSTD_c_checksumFlag, 1));
  }
  void write(std::string_view d) {
    if (d.empty()) return;
    open_ = true;
    ZSTD_inBuffer in{d.data(), d.size(), 0};
    while (in.pos < in.size) {
      ZSTD_outBuffer ob{out_.data(), out_.size(), 0};
      check(ZSTD_compressStream2(c_.get(), &ob, &in, ZSTD_e_continue));
      sink_.write({out_.data(), ob.pos});
    }
  }
  // Declares the size of the frame about to start (before its first
  // write): zstd then sizes its tables to it and records it in the frame
  // header, which makes the many small frames of zstd:chunked cheaper.
  void pledge(uint64_t n) {
    if (open_) fail("zstd: a frame size pledged in the middle of a frame");
    check(ZSTD_CCtx_setPledgedSrcSize(c_.get(), n));
  }
  // Ends the current frame (if anything went into it); returns the blob offset after it.
  uint64_t end_frame() {
    if (open_) {
      ZSTD_inBuffer in{nullptr, 0, 0};
      size_t left;
      do {
        ZSTD_outBuffer ob{out_.data(), out_.size(), 0};
        left = check(ZSTD_compressStream2(c_.get(), &ob, &in, ZSTD_e_end));
        sink_.write({out_.data(), ob.pos});
      } while (left != 0);
      open_ = false;
    }
    return sink_.count();
  }

 private:
  static size_t check(size_t r) {
    if (ZSTD_isError(r)) fail("zstd: {}", ZSTD_getErrorName(r));
    return r;
  }
  Sink& sink_;
  ZstdCCtx c_;
  std::string out_;
  bool open_ = false;
};

std::string zstd_compress_all(std::string_view data, int level) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) fail("zstd: {}", ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

// Reads the whole input through `fn(piece)`, digesting it.
template <typename F>
void pump(const TarReader& in, Hasher& h, uint64_t& total, F&& fn) {
  std::string buf(kIoBuf, '\0');
  for (;;) {
    size_t n = in(buf.data(), buf.size());
    if (n == 0) return;
    h.update(buf.data(), n);
    total += n;
    fn(std::string_view(buf.data(), n));
  }
}

WrittenLayer compress_zstd(const TarReader& in, int fd, int level) {
  Sink sink(fd);
  ZstdFrames z(sink, level);
  Hasher h;
  WrittenLayer w;
  pump(in, h, w.tar_bytes, [&](std::string_view d) { z.write(d); });
  if (w.tar_bytes == 0) fail("compressing a layer: the tar stream is empty");
  z.end_frame();
  sink.flush();
  w.desc.media_type = oci::media::kOciLayerZstd;
  w.desc.digest = sink.digest();
  w.desc.size = static_cast<int64_t>(sink.count());
  w.diff_id = oci::Digest::parse("sha256:" + h.hex_final());
  return w;
}

WrittenLayer compress_gzip(const TarReader& in, int fd, int level) {
  Sink sink(fd);
  z_stream zs{};
  // 16 + MAX_WBITS: a gzip header and trailer. Level 6 is gzip's default.
  if (deflateInit2(&zs, level == 3 ? 6 : level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fail("gzip: cannot initialise deflate");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, deflateEnd);
  std::string out(kIoBuf, '\0');
  auto run = [&](std::string_view d, int flush) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(d.data()));
    zs.avail_in = static_cast<uInt>(d.size());
    int r;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(out.data());
      zs.avail_out = static_cast<uInt>(out.size());
      r = deflate(&zs, flush);
      if (r == Z_STREAM_ERROR) fail("gzip: deflate failed");
      sink.write({out.data(), out.size() - zs.avail_out});
    } while (zs.avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
  };
  Hasher h;
  WrittenLayer w;
  pump(in, h, w.tar_bytes, [&](std::string_view d) { run(d, Z_NO_FLUSH); });
  if (w.tar_bytes == 0) fail("compressing a layer: the tar stream is empty");
  run({}, Z_FINISH);
  sink.flush();
  w.desc.media_type = oci::media::kOciLayerGzip;
  w.desc.digest = sink.digest();
  w.desc.size = static_cast<int64_t>(sink.count());
  w.diff_id = oci::Digest::parse("sha256:" + h.hex_final());
  return w;
}

const char* toc_type(char t) {
  switch (t) {
    case '1': return "hardlink";
    case '2': return "symlink";
    case '3': return "char";
    case '4': return "block";
    case '5': return "dir";
    case '6': return "fifo";
    default: return "reg";
  }
}

template <typename T>
T narrow(int64_t v, std::string_view what, std::string_view name) {
  if (v < 0 || static_cast<uint64_t>(v) > std::numeric_limits<T>::max())
    fail("tar entry \"{}\": {} {} is out of range", name, what, v);
  return static_cast<T>(v);
}

// Go's filepath.Clean, lexically: tar-split refuses two entries whose
// cleaned names are equal.
std::string clean_path(std::string_view p) {
  bool abs = p.starts_with('/');
  std::vector<std::string_view> parts;
  while (!p.empty()) {
    size_t i = p.find('/');
    std::string_view part = p.substr(0, i);
    p.remove_prefix(i == std::string_view::npos ? p.size() : i + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
        continue;
      }
      if (abs) continue;
    }
    parts.push_back(part);
  }
  std::string out = abs ? "/" : "";
  for (size_t i = 0; i < parts.size(); i++) {
    if (i) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

// The layout of containers/storage's writer (pkg/chunked/compressor): the
// bytes before a payload (the previous padding and the headers) in one
// frame, each non-empty payload in a frame of its own, the trailer in a
// last frame, then the TOC, tar-split and footer skippable frames.
WrittenLayer compress_chunked(const TarReader& in, int fd, int level) {
  Sink sink(fd);
  ZstdFrames z(sink, level);
  TarScanner scan(in);
  TarSplitWriter ts;
  Toc toc;
  WrittenLayer w;
  TarHeader h;
  std::string raw;
  std::unordered_set<std::string> names;
  // The bytes before a payload are collected and compressed as one frame
  // of known size when the payload starts (or the stream ends).
  std::string pending;
  auto flush_pending = [&] {
    if (pending.empty()) return;
    z.pledge(pending.size());
    z.write(pending);
    z.end_frame();
    pending.clear();
  };
  for (;;) {
    raw.clear();
    bool more = scan.next(h, raw);
    pending += raw;
    if (!more) {
      ts.segment(raw);
      std::string_view r = scan.rest();
      if (r.empty()) {
        flush_pending();
        break;
      }
      z.write(pending);  // bytes after the trailer: of unknown size
      pending.clear();
      for (; !r.empty(); r = scan.rest()) {
        z.write(r);
        ts.segment(r);
      }
      z.end_frame();
      break;
    }
    ts.segment(raw);
    // What containers/storage's own writer refuses, and its readers too
    // (the TOC must match the tar-split entry for entry, by name).
    if (h.typeflag == 'g')
      fail("tar has a pax global header, which a zstd:chunked TOC cannot hold (use zstd)");
    if (!names.insert(clean_path(h.name)).second)
      fail("tar has \"{}\" twice, which a zstd:chunked TOC cannot hold (use zstd)", h.name);
    uint64_t crc = 0;
    TocEntry e;
    if (h.payload > 0) {
      flush_pending();
      e.offset = z.end_frame();
      z.pledge(h.payload);
      Hasher ph;
      for (std::string_view p = scan.payload(); !p.empty(); p = scan.payload()) {
        z.write(p);
        ph.update(p);
        crc = crc64_iso_update(crc, p);
      }
      e.end_offset = z.end_frame();
      e.digest = "sha256:" + ph.hex_final();
      w.files++;
    }
    ts.file(h.name, static_cast<uint64_t>(h.size), crc);
    e.type = toc_type(h.typeflag);
    e.name = h.name;
    e.link_name = h.linkname;
    e.mode = narrow<uint32_t>(h.mode, "mode", h.name);
    e.size = static_cast<uint64_t>(h.size);
    e.uid = narrow<uint32_t>(h.uid, "uid", h.name);
    e.gid = narrow<uint32_t>(h.gid, "gid", h.name);
    e.mtime = h.mtime.sec;
    e.mtime_nsec = h.mtime.nsec;
    if (h.atime) e.atime = h.atime->sec, e.atime_nsec = h.atime->nsec;
    if (h.ctime) e.ctime = h.ctime->sec, e.ctime_nsec = h.ctime->nsec;
    e.dev_major = narrow<uint32_t>(h.devmajor, "devmajor", h.name);
    e.dev_minor = narrow<uint32_t>(h.devminor, "devminor", h.name);
    e.xattrs = std::move(h.xattrs);
    toc.entries.push_back(std::move(e));
  }
  w.tar_bytes = scan.input_bytes();
  w.diff_id = oci::Digest::parse("sha256:" + scan.input_sha256_hex());

  std::string ts_z = zstd_compress_all(ts.text(), level);
  toc.tar_split_digest = "sha256:" + sha256_hex(ts_z);
  std::string toc_text = toc_json(toc);
  std::string toc_z = zstd_compress_all(toc_text, level);
  if (toc_z.size() > kMaxTocCompressed || toc_text.size() > kMaxTocUncompressed)
    fail("compressing a layer: its TOC of {} bytes is over the cap readers accept", toc_text.size());
  if (ts_z.size() > kMaxTarSplitCompressed || ts.text().size() > kMaxTarSplitUncompressed)
    fail("compressing a layer: its tar-split of {} bytes is over the cap readers accept", ts.text().size());

  Footer f;
  sink.write(skippable_frame_header(static_cast<uint32_t>(toc_z.size())));
  f.toc = {sink.count(), toc_z.size(), toc_text.size()};
  sink.write(toc_z);
  sink.write(skippable_frame_header(static_cast<uint32_t>(ts_z.size())));
  f.tar_split = Position{sink.count(), ts_z.size(), ts.text().size()};
  sink.write(ts_z);
  std::string footer = footer_bytes(f);
  sink.write(skippable_frame_header(static_cast<uint32_t>(footer.size())));
  sink.write(footer);
  sink.flush();

  w.desc.media_type = oci::media::kOciLayerZstd;
  w.desc.digest = sink.digest();
  w.desc.size = static_cast<int64_t>(sink.count());
  for (auto& [k, v] : annotations(oci::Digest::of(toc_z), f.toc, *f.tar_split)) w.desc.annotations[k] = v;
  return w;
}

size_t read_some(int fd, void* buf, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd, buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) fail_errno("reading a layer blob");
  }
}

struct ZstdReader {
  int fd;
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d{ZSTD_createDCtx(), ZSTD_freeDCtx};
  std::string in = std::string(ZSTD_DStreamInSize(), '\0');
  ZSTD_inBuffer ib{in.data(), 0, 0};
  size_t last = 0;  // the decoder's last hint: 0 when a frame just ended
  bool eof = false, started = false;

  size_t operator()(void* buf, size_t n) {
    if (!d) fail("zstd: out of memory");
    ZSTD_outBuffer ob{buf, n, 0};
    while (ob.pos == 0 && n > 0) {
      if (ib.pos == ib.size && !eof) {
        ib.size = read_some(fd, in.data(), in.size());
        ib.pos = 0;
        if (ib.size == 0) eof = true;
      }
      if (eof && ib.pos == ib.size) {
        if (!started) fail("decompressing a zstd layer: the blob is empty");
        if (last == 0) return 0;  // the last frame is decoded and flushed
        // The decoder may still hold output of a frame whose input is all read.
        last = ZSTD_decompressStream(d.get(), &ob, &ib);
        if (ZSTD_isError(last)) fail("decompressing a zstd layer: {}", ZSTD_getErrorName(last));
        if (ob.pos > 0) break;
        fail("decompressing a zstd layer: the stream is truncated");
      }
      started = true;
      last = ZSTD_decompressStream(d.get(), &ob, &ib);
      if (ZSTD_isError(last)) fail("decompressing a zstd layer: {}", ZSTD_getErrorName(last));
    }
    return ob.pos;
  }
};

struct GzipReader {
  int fd;
  z_stream storage{};
  std::unique_ptr<z_stream, int (*)(z_stream*)> zs{nullptr, inflateEnd};
  std::string in = std::string(kIoBuf, '\0');
  bool eof = false, member_done = false, started = false;

  size_t operator()(void* buf, size_t n) {
    if (!zs) {
      if (inflateInit2(&storage, 16 + MAX_WBITS) != Z_OK) fail("gzip: cannot initialise inflate");
      zs.reset(&storage);
    }
    storage.next_out = static_cast<Bytef*>(buf);
    storage.avail_out = static_cast<uInt>(std::min<size_t>(n, UINT32_MAX));
    while (storage.avail_out == n && n > 0) {
      if (storage.avail_in == 0 && !eof) {
        size_t got = read_some(fd, in.data(), in.size());
        storage.next_in = reinterpret_cast<Bytef*>(in.data());
        storage.avail_in = static_cast<uInt>(got);
        if (got == 0) eof = true;
      }
      if (storage.avail_in == 0 && eof) {
        if (!started) fail("decompressing a gzip layer: the blob is empty");
        if (!member_done) fail("decompressing a gzip layer: the stream is truncated");
        return 0;
      }
      if (member_done) {
        // Another gzip member follows (concatenated gzip, as gzip -d reads it).
        if (inflateReset(&storage) != Z_OK) fail("gzip: inflateReset failed");
        member_done = false;
      }
      started = true;
      int r = inflate(&storage, Z_NO_FLUSH);
      if (r == Z_STREAM_END) {
        member_done = true;
      } else if (r != Z_OK && r != Z_BUF_ERROR) {
        fail("decompressing a gzip layer: {}", storage.msg ? storage.msg : "damaged stream");
      }
    }
    return n - storage.avail_out;
  }
};

}  // namespace

Format parse_format(std::string_view s) {
  if (s == "gzip") return Format::kGzip;
  if (s == "zstd") return Format::kZstd;
  if (s == "zstd:chunked") return Format::kZstdChunked;
  fail("unknown compression format \"{}\" (want gzip, zstd or zstd:chunked)", s);
}

std::string_view format_name(Format f) {
  switch (f) {
    case Format::kGzip: return "gzip";
    case Format::kZstd: return "zstd";
    case Format::kZstdChunked: return "zstd:chunked";
  }
  return "?";
}

WrittenLayer compress_layer(const TarReader& in, int out_fd, const CompressOptions& opts) {
  switch (opts.format) {
    case Format::kGzip: return compress_gzip(in, out_fd, opts.level);
    case Format::kZstd: return compress_zstd(in, out_fd, opts.level);
    case Format::kZstdChunked: return compress_chunked(in, out_fd, opts.level);
  }
  fail("unknown compression format");
}

TarReader decompressing_reader(int fd, oci::Compression c) {
  switch (c) {
    case oci::Compression::kNone:
      return [fd](void* buf, size_t n) { return read_some(fd, buf, n); };
    case oci::Compression::kGzip: {
      auto r = std::make_shared<GzipReader>();
      r->fd = fd;
      return [r](void* buf, size_t n) { return (*r)(buf, n); };
    }
    case oci::Compression::kZstd: {
      auto r = std::make_shared<ZstdReader>();
      r->fd = fd;
      return [r](void* buf, size_t n) { return (*r)(buf, n); };
    }
  }
  fail("unknown compression");
}

}  // namespace hull::chunked
