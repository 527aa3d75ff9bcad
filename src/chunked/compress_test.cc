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

TEST_F(CompressTest, ChunkedEmptyTar) {
  // An empty layer: just the two zero blocks (and the zero padding GNU tar adds to 10 KiB).
  sh(fmt::format("tar -cf {} -T /dev/null", p("empty.tar")));
  WrittenLayer w = compress_file(p("empty.tar"), p("empty.zst"), Format::kZstdChunked);
  EXPECT_EQ(w.tar_bytes, 10240u);
  EXPECT_EQ(w.files, 0u);
  sh(fmt::format("zstd -qdc < {} | cmp - {}", p("empty.zst"), p("empty.tar")));
  ASSERT_TRUE(layer_info(w.desc));
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

  // A second tar reader (python's tarfile) sees the same entries as the TOC.
  write_file_atomic(blob_path + ".toc.json", toc_json(toc));
  sh(fmt::format(R"(python3 - {} {}.toc.json <<'EOF'
import json, math, sys, tarfile
toc = json.load(open(sys.argv[2]))["entries"]
kinds = {{tarfile.REGTYPE: "reg", tarfile.AREGTYPE: "reg", tarfile.LNKTYPE: "hardlink", tarfile.SYMTYPE: "symlink",
         tarfile.DIRTYPE: "dir", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}}
members = tarfile.open(sys.argv[1]).getmembers()
assert len(members) == len(toc), (len(members), len(toc))
for m, e in zip(members, toc):
    want = (m.name.rstrip("/"), kinds[m.type], m.linkname, m.mode, m.size if m.isreg() else e.get("size", 0),
            m.uid, m.gid, m.devmajor, m.devminor)
    got = (e["name"].rstrip("/"), e["type"], e.get("linkName", ""), e.get("mode", 0), e.get("size", 0),
           e.get("uid", 0), e.get("gid", 0), e.get("devMajor", 0), e.get("devMinor", 0))
    assert want == got, (want, got)
    xattrs = {{k[13:]: v for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")}}
    assert len(xattrs) == len(e.get("xattrs", {{}})), (m.name, xattrs, e.get("xattrs"))
    assert e["modtime"].startswith("1969") == (m.mtime < 0), (m.name, m.mtime, e["modtime"])
EOF)",
                 tar_path, blob_path));

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

TEST_F(CompressTest, ChunkedPaxTarWithXattrs) {
  make_tree(p("tree"));
  // GNU tar's pax format: atime/ctime records, long names as pax paths.
  sh(fmt::format("tar -C {} --format=pax -cf {} .", p("tree"), p("pax.tar")));
  WrittenLayer w = compress_file(p("pax.tar"), p("pax.zst"), Format::kZstdChunked);
  check_chunked(p("pax.tar"), p("pax.zst"), w);

  // python's tarfile: SCHILY.xattr.* records, fractional mtimes, a uid too big for octal.
  sh(fmt::format(R"(python3 - {} <<'EOF'
import tarfile, io, sys
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
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
  ASSERT_EQ(toc.entries.size(), 3u);
  const TocEntry& x = toc.entries[0];
  EXPECT_EQ(x.name, "etc/with-xattrs");
  EXPECT_EQ(x.mtime, 1700000000);
  EXPECT_EQ(x.mtime_nsec, 250000000u);
  ASSERT_EQ(x.xattrs.size(), 2u);
  EXPECT_EQ(x.xattrs[0], (std::pair<std::string, std::string>{"security.capability", "\x01\x02"}));
  EXPECT_EQ(x.xattrs[1], (std::pair<std::string, std::string>{"user.test", "value"}));
  EXPECT_EQ(toc.entries[1].uid, 07777777u + 5);
}


Toc toc_of(const std::string& blob_path, const WrittenLayer& w) {
  std::string blob = slurp(blob_path);
  auto info = layer_info(w.desc);
  return parse_toc(zstd_decompress(std::as_bytes(std::span(blob.data() + info->toc.offset, info->toc.length)),
                                   info->toc.uncompressed, "TOC"));
}

TEST_F(CompressTest, ChunkedBase256AndV7Headers) {
  // GNU format with numbers too big for octal (base-256, a negative mtime),
  // and a V7 header whose type is NUL.
  sh(fmt::format(R"(python3 - {} <<'EOF'
import tarfile, io, sys
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    i = tarfile.TarInfo("big-ids"); i.size = 4; i.uid = 0o7777777 + 5; i.gid = 3; i.mtime = -1000
    t.addfile(i, io.BytesIO(b"data"))
    v = tarfile.TarInfo("v7file"); v.size = 2; v.type = tarfile.AREGTYPE
    t.addfile(v, io.BytesIO(b"v7"))
EOF)",
                 p("b256.tar")));
  WrittenLayer w = compress_file(p("b256.tar"), p("b256.zst"), Format::kZstdChunked);
  check_chunked(p("b256.tar"), p("b256.zst"), w);
  Toc toc = toc_of(p("b256.zst"), w);
  ASSERT_EQ(toc.entries.size(), 2u);
  EXPECT_EQ(toc.entries[0].uid, 07777777u + 5);
  EXPECT_EQ(toc.entries[0].mtime, -1000);
  EXPECT_EQ(toc.entries[1].type, "reg");
}

TEST_F(CompressTest, ChunkedRefusesWhatATocCannotHold) {
  // A pax global header, and a name twice (as "./a" and "a"): containers/storage
  // refuses both when it writes a zstd:chunked layer, and when it reads one.
  sh(fmt::format(R"(python3 - {} {} <<'EOF'
import tarfile, io, sys
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT, pax_headers={{"comment": "global"}}) as t:
    t.addfile(tarfile.TarInfo("a"), io.BytesIO(b""))
with tarfile.open(sys.argv[2], "w", format=tarfile.GNU_FORMAT) as t:
    t.addfile(tarfile.TarInfo("./a"), io.BytesIO(b""))
    t.addfile(tarfile.TarInfo("a"), io.BytesIO(b""))
EOF)",
                 p("g.tar"), p("dup.tar")));
  for (const char* t : {"g.tar", "dup.tar"}) {
    EXPECT_THROW(compress_file(p(t), p("out"), Format::kZstdChunked), Error) << t;
    EXPECT_NO_THROW(compress_file(p(t), p("out"), Format::kZstd)) << t;
  }
}

TEST_F(CompressTest, ChunkedRefusesDamagedTars) {
  make_tree(p("tree"));
  sh(fmt::format("tar -C {} -cf {} .", p("tree"), p("t.tar")));
  std::string tar = slurp(p("t.tar"));
  // Cut inside the big file's content.
  write_file_atomic(p("cut.tar"), tar.substr(0, tar.size() / 2));
  EXPECT_THROW(compress_file(p("cut.tar"), p("out"), Format::kZstdChunked), Error);
  // A damaged header after the first.
  std::string bad = tar;
  size_t second = 512;  // "./" has no content: the next header follows
  bad[second + 10] ^= 0x40;
  write_file_atomic(p("bad.tar"), bad);
  EXPECT_THROW(compress_file(p("bad.tar"), p("out"), Format::kZstdChunked), Error);
  // A GNU sparse file.
  sh(fmt::format("mkdir -p {0}/sp && truncate -s 10M {0}/sp/hole && printf x >> {0}/sp/hole && "
                 "tar -C {0}/sp -S -cf {1} hole",
                 p(""), p("sparse.tar")));
  EXPECT_THROW(compress_file(p("sparse.tar"), p("out"), Format::kZstdChunked), Error);
}

}  // namespace
}  // namespace hull::chunked
