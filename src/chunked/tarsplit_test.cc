#include "chunked/tarsplit.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace hull::chunked {
namespace {

// Reference values computed independently (python, reflected polynomial
// 0xD800000000000000, init and xorout all ones); "123456789" is the
// catalogued check value of CRC-64/GO-ISO.
TEST(Crc64, KnownVectors) {
  EXPECT_EQ(crc64_iso_update(0, ""), 0u);
  EXPECT_EQ(crc64_iso_update(0, "123456789"), 0xb90956c775a41001ull);
  EXPECT_EQ(crc64_iso_update(0, "hello world"), 0xb9cf3f572ad9ac3eull);
}

TEST(Crc64, IncrementalEqualsWhole) {
  std::string data;
  for (int i = 0; i < 10007; i++) data += static_cast<char>(i * 7 + i / 13);
  uint64_t whole = crc64_iso_update(0, data);
  for (size_t cut : {1, 7, 8, 9, 4096, 10006}) {
    uint64_t c = crc64_iso_update(0, std::string_view(data).substr(0, cut));
    c = crc64_iso_update(c, std::string_view(data).substr(cut));
    EXPECT_EQ(c, whole) << cut;
  }
}

TEST(TarSplit, WriterLinesParseBack) {
  TarSplitWriter w;
  w.segment(std::string("hdr\0\x01", 5));
  w.file("usr/bin/x", 11, crc64_iso_update(0, "hello world"));
  w.file("dir/", 0, 0);
  w.file(std::string("bad\xff", 4), 0, 0);
  EXPECT_EQ(w.text().substr(0, w.text().find('\n')), R"({"type":2,"payload":"aGRyAAE=","position":0})");
  EXPECT_NE(w.text().find(R"({"type":1,"name":"dir/","payload":null,"position":2})"), std::string::npos);
  EXPECT_NE(w.text().find(R"("name_raw":"YmFk/w==")"), std::string::npos);
  auto es = parse_tar_split(w.text());
  ASSERT_EQ(es.size(), 4u);
  EXPECT_EQ(es[0].type, TarSplitEntry::kSegment);
  EXPECT_EQ(es[0].payload, std::string("hdr\0\x01", 5));
  EXPECT_EQ(es[1].type, TarSplitEntry::kFile);
  EXPECT_EQ(es[1].name, "usr/bin/x");
  EXPECT_EQ(es[1].size, 11u);
  EXPECT_EQ(es[1].payload, std::string("\xb9\xcf\x3f\x57\x2a\xd9\xac\x3e", 8));
  EXPECT_EQ(es[3].name, std::string("bad\xff", 4));
}

TEST(TarSplit, RefusesHostileInput) {
  const char* cases[] = {
      R"({"type":2,"payload":"AA==","position":1})",         // position out of order
      R"({"type":3,"payload":"AA==","position":0})",         // unknown type
      R"({"type":2,"payload":"A!==","position":0})",         // bad base64
      R"({"type":1,"name":"x","size":3,"position":0})",      // a file without its checksum
      R"({"type":1,"name":"x","size":-3,"position":0})",     // negative size
      R"(not json)",
  };
  for (const char* c : cases) EXPECT_THROW(parse_tar_split(c), Error) << c;
}

TEST(TarSplit, RebuildChecksContent) {
  TarSplitWriter w;
  w.segment("HEAD");
  w.file("a", 5, crc64_iso_update(0, "hello"));
  w.file("empty", 0, 0);
  w.segment("TAIL");
  auto es = parse_tar_split(w.text());
  auto run = [&](std::string content) {
    std::string out;
    rebuild_tar(
        es,
        [&](const TarSplitEntry& e) -> ContentReader {
          EXPECT_EQ(e.name, "a");
          auto pos = std::make_shared<size_t>(0);
          return [content, pos](void* buf, size_t n) {
            size_t k = std::min(n, content.size() - *pos);
            memcpy(buf, content.data() + *pos, k);
            *pos += k;
            return k;
          };
        },
        [&](std::string_view d) { out += d; });
    return out;
  };
  EXPECT_EQ(run("hello"), "HEADhelloTAIL");
  EXPECT_THROW(run("hellO"), Error);   // crc mismatch
  EXPECT_THROW(run("hell"), Error);    // short
  EXPECT_THROW(run("hello!"), Error);  // long
}

}  // namespace
}  // namespace hull::chunked
