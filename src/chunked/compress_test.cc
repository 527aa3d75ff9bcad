#include "chunked/compress.h"

#include <fcntl.h>

#include <cstdlib>
#include <map>

#include <gtest/gtest.h>

#include "chunked/tarsplit.h"
#include "chunked/toc.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/hash.h"

namespace hull::chunked {
namespace {

void sh(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }

std::string slurp(const std::string& path) { return read_file(path, 1u << 30); }

TarReader string_reader(std::shared_ptr<std::string> s) {
  auto pos = std::make_shared<size_t>(0);
  return [s, pos](void* buf, size_t n) {
    size_t k = std::min(n, s->size() - *pos);
    memcpy(buf, s->data() + *pos, k);
    *pos += k;
    return k;
  };
}

WrittenLayer compress_file(const std::string& in, const std::string& out, Format f) {
  UniqueFd i = open_file(in, O_RDONLY);
  UniqueFd o = open_file(out, O_WRONLY | O_CREAT | O_TRUNC);
  return compress_layer(decompressing_reader(i.get(), oci::Compression::kNone), o.get(), {.format = f});
}

std::string decompress_file(const std::string& path, oci::Compression c) {
  UniqueFd fd = open_file(path, O_RDONLY);
  TarReader r = decompressing_reader(fd.get(), c);
  std::string out, buf(7777, '\0');  // an odd size, to cross frame boundaries
  for (size_t n; (n = r(buf.data(), buf.size())) > 0;) out.append(buf.data(), n);
  return out;
}

std::string noise(size_t n) {
  std::string s(n, '\0');
  uint64_t x = 88172645463325252ull;
  for (auto& c : s) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x % 40);  // compressible, but not trivially
  }
  return s;
}

class CompressTest : public ::testing::Test {
 protected:
  TempDir tmp{"chunked-test"};
  std::string p(const std::string& name) { return tmp.path() + "/" + name; }
};

TEST_F(CompressTest, FormatNames) {
  for (auto f : {Format::kGzip, Format::kZstd, Format::kZstdChunked}) EXPECT_EQ(parse_format(format_name(f)), f);
  EXPECT_THROW(parse_format("lz4"), Error);
}

TEST_F(CompressTest, GzipAndZstdAgainstTheCommandLineTools) {
  std::string data = noise(3'000'000);
  write_file_atomic(p("in"), data);
  for (auto [f, tool, c] : {std::tuple{Format::kGzip, "gzip", oci::Compression::kGzip},
                            std::tuple{Format::kZstd, "zstd", oci::Compression::kZstd}}) {
    WrittenLayer w = compress_file(p("in"), p("out"), f);
    EXPECT_EQ(w.tar_bytes, data.size());
    EXPECT_EQ(w.diff_id, oci::Digest::of(data));
    EXPECT_EQ(w.desc.digest, oci::Digest::of(slurp(p("out"))));
    EXPECT_EQ(w.desc.media_type, f == Format::kGzip ? oci::media::kOciLayerGzip : oci::media::kOciLayerZstd);
    sh(fmt::format("{} -dc < {} > {}", tool, p("out"), p("back")));
    EXPECT_EQ(slurp(p("back")), data) << tool;
    // And the other way: what the tool writes, decompressing_reader reads.
    sh(fmt::format("{} -c < {} > {}", tool, p("in"), p("tool")));
    EXPECT_EQ(decompress_file(p("tool"), c), data) << tool;
  }
}

TEST_F(CompressTest, ReaderHandlesConcatenatedGzipAndSkippableFrames) {
  write_file_atomic(p("a"), "first part\n");
  write_file_atomic(p("b"), "second part\n");
  sh(fmt::format("gzip -c {0} > {2} && gzip -c {1} >> {2}", p("a"), p("b"), p("ab.gz")));
  EXPECT_EQ(decompress_file(p("ab.gz"), oci::Compression::kGzip), "first part\nsecond part\n");
  std::string skip = skippable_frame_header(5) + "12345";
  sh(fmt::format("zstd -qc {} > {}", p("a"), p("a.zst")));
  sh(fmt::format("zstd -qc {} > {}", p("b"), p("b.zst")));
  write_file_atomic(p("ab.zst"), skip + slurp(p("a.zst")) + skip + slurp(p("b.zst")) + skip);
  EXPECT_EQ(decompress_file(p("ab.zst"), oci::Compression::kZstd), "first part\nsecond part\n");
}

TEST_F(CompressTest, ReaderRefusesDamage) {
  write_file_atomic(p("a"), noise(100000));
  sh(fmt::format("zstd -qc {0} | head -c 5000 > {1}; gzip -c {0} | head -c 5000 > {2}", p("a"), p("t.zst"), p("t.gz")));
  EXPECT_THROW(decompress_file(p("t.zst"), oci::Compression::kZstd), Error);
  EXPECT_THROW(decompress_file(p("t.gz"), oci::Compression::kGzip), Error);
  write_file_atomic(p("empty"), "");
  EXPECT_THROW(decompress_file(p("empty"), oci::Compression::kZstd), Error);
}

TEST_F(CompressTest, ChunkedRefusesWhatIsNotATar) {
  write_file_atomic(p("in"), noise(10000));
  EXPECT_THROW(compress_file(p("in"), p("out"), Format::kZstdChunked), Error);
  write_file_atomic(p("in"), "");
  EXPECT_THROW(compress_file(p("in"), p("out"), Format::kZstdChunked), Error);
}

// Everything a reader of a zstd:chunked blob relies on, checked against `tar`.
void check_chunked(const std::string& tar_path, const std::string& blob_path, const WrittenLayer& w) {
  std::string tar = slurp(tar_path);
  std::string blob = slurp(blob_path);
  auto span = [&](uint64_t off, uint64_t len) { return std::as_bytes(std::span(blob.data() + off, len)); };
  EXPECT_EQ(w.tar_bytes, tar.size());
  EXPECT_EQ(w.diff_id, oci::Digest::of(tar));
  EXPECT_EQ(w.desc.digest, oci::Digest::of(blob));
  EXPECT_EQ(w.desc.size, static_cast<int64_t>(blob.size()));
  EXPECT_EQ(w.desc.media_type, oci::media::kOciLayerZstd);

  // zstd -d gives back the tar byte for byte (the skippable frames are skipped).
  sh(fmt::format("zstd -qdc < {} > {}.back", blob_path, blob_path));
  EXPECT_TRUE(slurp(blob_path + ".back") == tar);

  // The annotations and the footer agree, and both point at the frames.
  auto info = layer_info(w.desc);
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->legacy);
  Footer f = parse_footer(span(blob.size() - kFooterSize, kFooterSize));
  EXPECT_EQ(f.toc, info->toc);
  EXPECT_EQ(f.tar_split, info->tar_split);
  EXPECT_EQ(blob.substr(info->toc.offset - 8, 8), skippable_frame_header(info->toc.length));
  EXPECT_EQ(info->toc_digest, oci::Digest::of(blob.substr(info->toc.offset, info->toc.length)));
  EXPECT_EQ(blob.size(), info->tar_split->offset + info->tar_split->length + 8 + kFooterSize);

  Toc toc = parse_toc(zstd_decompress(span(info->toc.offset, info->toc.length), info->toc.uncompressed, "TOC"));
  std::string ts_z = blob.substr(info->tar_split->offset, info->tar_split->length);
  EXPECT_EQ(toc.tar_split_digest, oci::Digest::of(ts_z).str());
  std::string ts_text = zstd_decompress(std::as_bytes(std::span(ts_z.data(), ts_z.size())),
                                        info->tar_split->uncompressed, "tar-split");
  EXPECT_EQ(ts_text.size(), info->tar_split->uncompressed);

  // Each file's frames alone decompress to content with the TOC's digest.
  std::map<std::string, std::string> content;
  uint64_t files = 0;
  for (const auto& e : toc.entries) {
    if (e.type != "reg" || e.size == 0) continue;
    files++;
    ASSERT_LT(e.offset, e.end_offset) << e.name;
    std::string c = zstd_decompress(span(e.offset, e.end_offset - e.offset), e.size, e.name);
    EXPECT_EQ(c.size(), e.size) << e.name;
    EXPECT_EQ("sha256:" + sha256_hex(c), e.digest) << e.name;
    content[e.name] = std::move(c);
  }
  EXPECT_EQ(files, w.files);

  // The tar-split with the files' contents rebuilds the tar.
  std::string rebuilt;
  rebuild_tar(
      parse_tar_split(ts_text),
      [&](const TarSplitEntry& e) -> ContentReader {
        auto it = content.find(e.name);
        if (it == content.end()) fail("no content for {}", e.name);
        return string_reader(std::make_shared<std::string>(it->second));
      },
      [&](std::string_view d) { rebuilt += d; });
  EXPECT_TRUE(rebuilt == tar);
}

void make_tree(const std::string& root) {
  std::string long_dir = root + "/" + std::string(60, 'd') + "/" + std::string(70, 'e');
  sh(fmt::format("mkdir -p {0} {1}/sub && cd {1} && "
                 "printf 'hello world\\n' > small && : > empty && "
                 "head -c 3000000 /dev/urandom > big && "
                 "ln big big-hardlink && ln -s small link-to-small && "
                 "ln -s {2} long-symlink && printf long > {0}/{3} && "
                 "head -c 1000000 /dev/zero > zeros && chmod 4755 small && mkfifo sub/fifo",
                 long_dir, root, std::string(120, 't'), std::string(90, 'f')));
}

TEST_F(CompressTest, ChunkedGnuTar) {
  make_tree(p("tree"));
  sh(fmt::format("tar -C {} -cf {} .", p("tree"), p("gnu.tar")));
  WrittenLayer w = compress_file(p("gnu.tar"), p("gnu.zst"), Format::kZstdChunked);
  check_chunked(p("gnu.tar"), p("gnu.zst"), w);
  EXPECT_EQ(w.files, 4u);  // small, big, the long-named file, zeros
}

TEST_F(CompressTest, ChunkedPaxTarWithXattrsAndGlobalHeader) {
  make_tree(p("tree"));
  // GNU tar's pax format: atime/ctime records, long names as pax paths.
  sh(fmt::format("tar -C {} --format=pax -cf {} .", p("tree"), p("pax.tar")));
  WrittenLayer w = compress_file(p("pax.tar"), p("pax.zst"), Format::kZstdChunked);
  check_chunked(p("pax.tar"), p("pax.zst"), w);

  // python's tarfile: SCHILY.xattr.* records, a global header, fractional mtimes, base-256 uid.
  sh(fmt::format(R"(python3 - {} <<'EOF'
import tarfile, io, sys
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT, pax_headers={{"comment": "global"}}) as t:
    data = b"x" * 5000
    i = tarfile.TarInfo("etc/with-xattrs")
    i.size = len(data); i.mtime = 1700000000.25
    i.pax_headers = {{"SCHILY.xattr.user.test": "value", "SCHILY.xattr.security.capability": "\x01\x02"}}
    t.addfile(i, io.BytesIO(data))
    j = tarfile.TarInfo("etc/big-uid"); j.size = 3; j.uid = 0o7777777 + 5
    t.addfile(j, io.BytesIO(b"abc"))
    t.addfile(tarfile.TarInfo("etc/empty"), io.BytesIO(b""))
EOF)",
                 p("py.tar")));
  w = compress_file(p("py.tar"), p("py.zst"), Format::kZstdChunked);
  check_chunked(p("py.tar"), p("py.zst"), w);
  std::string blob = slurp(p("py.zst"));
  auto info = layer_info(w.desc);
  Toc toc = parse_toc(zstd_decompress(std::as_bytes(std::span(blob.data() + info->toc.offset, info->toc.length)),
                                      info->toc.uncompressed, "TOC"));
  ASSERT_EQ(toc.entries.size(), 3u);  // the global header is not an entry
  const TocEntry& x = toc.entries[0];
  EXPECT_EQ(x.name, "etc/with-xattrs");
  EXPECT_EQ(x.mtime, 1700000000);
  EXPECT_EQ(x.mtime_nsec, 250000000u);
  ASSERT_EQ(x.xattrs.size(), 2u);
  EXPECT_EQ(x.xattrs[0], (std::pair<std::string, std::string>{"security.capability", "\x01\x02"}));
  EXPECT_EQ(x.xattrs[1], (std::pair<std::string, std::string>{"user.test", "value"}));
  EXPECT_EQ(toc.entries[1].uid, 07777777u + 5);
}

}  // namespace
}  // namespace hull::chunked
