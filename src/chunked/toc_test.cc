#include "chunked/toc.h"

#include <zstd.h>

#include <gtest/gtest.h>

#include "util/error.h"

namespace hull::chunked {
namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; i++) s += static_cast<char>(v >> (8 * i));
  return s;
}

TEST(Footer, CurrentRoundTrips) {
  Footer f{false, {100, 20, 300}, Position{128, 40, 500}};
  std::string b = footer_bytes(f);
  ASSERT_EQ(b.size(), kFooterSize);
  EXPECT_EQ(b.substr(56), "GNUlInUx");
  EXPECT_EQ(b.substr(24, 8), le64(1));
  Footer g = parse_footer(bytes("some blob bytes before" + b));
  EXPECT_FALSE(g.legacy);
  EXPECT_EQ(g.toc, f.toc);
  EXPECT_EQ(g.tar_split, f.tar_split);
}

TEST(Footer, Legacy40Bytes) {
  std::string b = le64(7000) + le64(120) + le64(900) + le64(1) + "GnUlInUx";
  Footer g = parse_footer(bytes(b));
  EXPECT_TRUE(g.legacy);
  EXPECT_EQ(g.toc, (Position{7000, 120, 900}));
  EXPECT_FALSE(g.tar_split);
}

TEST(Footer, Refusals) {
  EXPECT_THROW(parse_footer(bytes(std::string(64, 'x'))), Error);                        // no magic
  EXPECT_THROW(parse_footer(bytes(le64(1) + le64(2) + le64(3) + le64(2) + "GnUlInUx")), Error);  // type 2
  EXPECT_THROW(parse_footer(bytes(std::string(30, '\0') + "GNUlInUx")), Error);          // short
}

TEST(Skippable, Header) {
  EXPECT_EQ(skippable_frame_header(0x01020304), std::string("\x50\x2a\x4d\x18\x04\x03\x02\x01", 8));
}

oci::Descriptor chunked_desc() {
  oci::Descriptor d;
  d.media_type = std::string(oci::media::kOciLayerZstd);
  d.digest = oci::Digest::of("blob");
  d.size = 10000;
  auto digest = oci::Digest::of("toc");
  for (auto& [k, v] : annotations(digest, {9000, 500, 4000}, {9508, 300, 2000})) d.annotations[k] = v;
  return d;
}

TEST(LayerInfo, CurrentAnnotations) {
  auto d = chunked_desc();
  EXPECT_EQ(d.annotations.at(std::string(kManifestPositionKey)), "9000:500:4000:1");
  EXPECT_EQ(d.annotations.at(std::string(kTarSplitPositionKey)), "9508:300:2000");
  auto info = layer_info(d);
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->legacy);
  EXPECT_EQ(info->toc_digest, oci::Digest::of("toc"));
  EXPECT_EQ(info->toc, (Position{9000, 500, 4000}));
  EXPECT_EQ(info->tar_split, (Position{9508, 300, 2000}));
}

TEST(LayerInfo, LegacyAnnotations) {
  oci::Descriptor d;
  d.media_type = std::string(oci::media::kOciLayerZstd);
  d.size = 10000;
  d.annotations[std::string(kLegacyManifestChecksumKey)] = oci::Digest::of("toc").str();
  d.annotations[std::string(kLegacyManifestPositionKey)] = "9000:500:4000:1";
  auto info = layer_info(d);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->legacy);
  EXPECT_FALSE(info->tar_split);
}

TEST(LayerInfo, OrdinaryLayerHasNone) {
  oci::Descriptor d;
  d.media_type = std::string(oci::media::kOciLayerGzip);
  EXPECT_FALSE(layer_info(d));
}

TEST(LayerInfo, Refusals) {
  std::string pos(kManifestPositionKey), ts(kTarSplitPositionKey), sum(kManifestChecksumKey);
  std::vector<std::function<void(oci::Descriptor&)>> cases = {
      [&](auto& d) { d.annotations[pos] = "9000:500:4000:2"; },        // manifest type
      [&](auto& d) { d.annotations[pos] = "9000:500:4000"; },          // missing type
      [&](auto& d) { d.annotations[pos] = "9000:x:4000:1"; },          // unparsable
      [&](auto& d) { d.annotations[pos] = "9800:500:4000:1"; },        // past the blob
      [&](auto& d) { d.annotations[pos] = "9000:500:999999999999:1"; },// over the cap
      [&](auto& d) { d.annotations[ts] = "9508:3000:2000"; },          // past the blob
      [&](auto& d) { d.annotations[sum] = "sha256:xyz"; },             // bad digest
      [&](auto& d) { d.annotations.erase(sum); },                      // inconsistent
      [&](auto& d) { d.media_type = std::string(oci::media::kOciLayerGzip); },
  };
  for (size_t i = 0; i < cases.size(); i++) {
    auto d = chunked_desc();
    cases[i](d);
    EXPECT_THROW(layer_info(d), Error) << i;
  }
}

TEST(Time, Rfc3339AsGoWritesIt) {
  EXPECT_EQ(rfc3339(0, 0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(rfc3339(1700000000, 500000000), "2023-11-14T22:13:20.5Z");
  EXPECT_EQ(rfc3339(1700000000, 123456789), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(rfc3339(-1, 0), "1969-12-31T23:59:59Z");
  EXPECT_EQ(parse_rfc3339("2023-11-14T22:13:20.5Z"), (std::pair<int64_t, uint32_t>{1700000000, 500000000}));
  EXPECT_EQ(parse_rfc3339("2023-11-15T00:13:20+02:00").first, 1700000000);
  EXPECT_THROW(parse_rfc3339("2023-11-14 22:13:20Z"), Error);
  EXPECT_THROW(parse_rfc3339("2023-11-14T22:13:20"), Error);
}

TEST(Toc, JsonRoundTrips) {
  Toc t;
  t.tar_split_digest = oci::Digest::of("ts").str();
  TocEntry d{.type = "dir", .name = "usr/", .mode = 0755, .mtime = 1700000000};
  TocEntry r{.type = "reg", .name = "usr/x", .mode = 04755, .size = 5, .uid = 1, .gid = 2, .mtime = 1700000000,
             .mtime_nsec = 5, .atime = 1700000001, .xattrs = {{"user.a", std::string("\0\xff", 2)}},
             .digest = oci::Digest::of("hello").str(), .offset = 100, .end_offset = 130};
  TocEntry l{.type = "symlink", .name = "usr/l", .link_name = "x", .mode = 0777};
  t.entries = {d, r, l};
  std::string j = toc_json(t);
  EXPECT_EQ(j.substr(0, 40), R"({"version":1,"entries":[{"type":"dir","n)");
  EXPECT_NE(j.find(R"("modtime":"2023-11-14T22:13:20.000000005Z")"), std::string::npos);
  EXPECT_NE(j.find(R"("xattrs":{"user.a":"AP8="})"), std::string::npos);
  EXPECT_EQ(j.find("devMajor"), std::string::npos);  // zero fields are omitted
  Toc u = parse_toc(j);
  ASSERT_EQ(u.entries.size(), 3u);
  EXPECT_EQ(u.tar_split_digest, t.tar_split_digest);
  const auto& e = u.entries[1];
  EXPECT_EQ(e.mode, 04755u);
  EXPECT_EQ(e.size, 5u);
  EXPECT_EQ(e.uid, 1u);
  EXPECT_EQ(e.mtime, 1700000000);
  EXPECT_EQ(e.mtime_nsec, 5u);
  EXPECT_EQ(e.atime, 1700000001);
  EXPECT_EQ(e.xattrs, r.xattrs);
  EXPECT_EQ(e.offset, 100u);
  EXPECT_EQ(e.end_offset, 130u);
  EXPECT_EQ(u.entries[2].link_name, "x");
  EXPECT_EQ(toc_json(u), j);
}

TEST(Toc, RefusesHostileTocs) {
  std::string dig = oci::Digest::of("x").str();
  auto with = [&](std::string entries) { return R"({"version":1,"entries":[)" + entries + "]}"; };
  const std::string cases[] = {
      R"({"version":2,"entries":[]})",                                                       // version
      with(R"({"type":"socket","name":"s"})"),                                               // unknown type
      with(R"({"type":"reg","name":"a","size":3,"offset":10,"endOffset":20})"),              // no digest
      with(R"({"type":"reg","name":"a","size":3,"digest":"md5:00","offset":10,"endOffset":20})"),  // bad digest
      with(R"({"type":"reg","name":"a","size":3,"digest":")" + dig + R"(","offset":30,"endOffset":20})"),  // end < offset
      with(R"({"type":"reg","name":"a","size":3,"digest":")" + dig + R"("})"),                // no frames
      with(R"({"type":"chunk","name":"a","offset":10})"),                                    // chunk first
      with(R"({"type":"reg","name":"a"},{"type":"chunk","name":"b","offset":10})"),          // chunk of another file
      with(R"({"type":"reg","name":"a","xattrs":{"user.x":"!!"}})"),                         // bad base64
      with(R"({"type":"reg","name":"a","mode":-1})"),                                        // negative
      with(R"({"type":"reg","name":"a","modtime":"yesterday"})"),                            // bad time
      with(R"({"type":"reg","name":"a","chunkType":"ones"})"),                               // chunk type
      "[]",
      "{",
  };
  for (const auto& c : cases) EXPECT_THROW(parse_toc(c), Error) << c;
  // A reg followed by its chunks is fine.
  EXPECT_NO_THROW(parse_toc(with(R"({"type":"reg","name":"a","size":3,"digest":")" + dig +
                                 R"(","offset":10,"endOffset":30,"chunkSize":1},{"type":"chunk","name":"a","offset":20,"chunkOffset":1})")));
}

TEST(Zstd, DecompressWithCaps) {
  std::string data(100000, 'a');
  std::string z(ZSTD_compressBound(data.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), data.data(), data.size(), 3));
  EXPECT_EQ(zstd_decompress(bytes(z), data.size(), "test"), data);
  EXPECT_THROW(zstd_decompress(bytes(z), data.size() - 1, "test"), Error);          // over the cap
  EXPECT_THROW(zstd_decompress(bytes(std::string_view(z).substr(0, z.size() - 3)), 1 << 20, "test"), Error);  // truncated
  EXPECT_THROW(zstd_decompress(bytes("garbage!"), 1 << 20, "test"), Error);
  EXPECT_EQ(zstd_decompress(bytes(z + z), 2 * data.size(), "test"), data + data);  // two frames
}

}  // namespace
}  // namespace hull::chunked
