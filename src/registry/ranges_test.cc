#include "registry/ranges.h"

#include <gtest/gtest.h>

#include <map>

#include "util/error.h"

namespace hull::registry {
namespace {

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.message();
  }
  return "(no error)";
}

TEST(MergeRanges, Table) {
  struct Case {
    const char* name;
    std::vector<ByteRange> in;
    uint64_t gap;
    std::vector<ByteRange> want;
  };
  const Case cases[] = {
      {"empty", {}, 0, {}},
      {"one", {{5, 10}}, 0, {{5, 10}}},
      {"zero lengths dropped", {{5, 0}, {7, 1}, {100, 0}}, 1000, {{7, 1}}},
      {"unsorted", {{100, 10}, {0, 10}}, 0, {{0, 10}, {100, 10}}},
      {"overlap", {{0, 10}, {5, 10}}, 0, {{0, 15}}},
      {"contained", {{0, 100}, {10, 5}}, 0, {{0, 100}}},
      {"touching", {{0, 10}, {10, 10}}, 0, {{0, 20}}},
      {"gap at the limit", {{0, 10}, {15, 10}}, 5, {{0, 25}}},
      {"gap over the limit", {{0, 10}, {16, 10}}, 5, {{0, 10}, {16, 10}}},
      {"chain", {{30, 5}, {0, 10}, {12, 10}, {23, 5}}, 2, {{0, 35}}},
      {"duplicates", {{4, 4}, {4, 4}}, 0, {{4, 4}}},
  };
  for (const Case& c : cases) EXPECT_EQ(merge_ranges(c.in, c.gap), c.want) << c.name;
}

TEST(RangeHeader, JoinsInclusiveEnds) {
  std::vector<ByteRange> r{{0, 100}, {200, 100}, {5000, 1}};
  EXPECT_EQ(range_header(r), "bytes=0-99,200-299,5000-5000");
  EXPECT_EQ(range_header(std::span(r).subspan(1, 1)), "bytes=200-299");
}

TEST(GroupRanges, Table) {
  std::vector<ByteRange> many;
  for (uint64_t i = 0; i < 2000; i++) many.push_back({i * 10'000'000'000ull, 7});
  struct Case {
    const char* name;
    size_t count;
    size_t max_ranges;
    size_t max_header;
    size_t groups;
  };
  const Case cases[] = {
      {"none", 0, 256, 6000, 0},
      {"one", 1, 256, 6000, 1},
      {"under the count", 256, 256, 1 << 20, 1},
      {"over the count", 257, 256, 1 << 20, 2},
      {"one per request", 5, 1, 6000, 5},
      {"zero means one", 3, 0, 6000, 3},
      {"header bound", 2000, 100000, 6000, 0},  // checked below
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::span<const ByteRange> in(many.data(), c.count);
    auto g = group_ranges(in, c.max_ranges, c.max_header);
    if (c.groups) {
      EXPECT_EQ(g.size(), c.groups);
    }
    // The groups are the input, in order, each within both bounds.
    size_t at = 0;
    for (const auto& grp : g) {
      EXPECT_EQ(grp.data(), many.data() + at);
      EXPECT_FALSE(grp.empty());
      EXPECT_LE(grp.size(), std::max<size_t>(c.max_ranges, 1));
      EXPECT_LT(("Range: " + range_header(grp)).size(), c.max_header);
      at += grp.size();
    }
    EXPECT_EQ(at, c.count);
  }
  // Offsets of 11-14 digits: ~28 bytes a range, so ~214 ranges a request.
  auto g = group_ranges(many, 100000, 6000);
  EXPECT_GE(g.size(), 9u);
  EXPECT_LE(g.size(), 11u);
  EXPECT_GE(("Range: " + range_header(g[0])).size() + 30, 6000u);  // filled, not cut early
}

TEST(ParseContentRange, Table) {
  struct Case {
    const char* in;
    std::optional<ByteRange> want;
    std::optional<uint64_t> total;
  };
  const Case cases[] = {
      {"bytes 100-199/5000", ByteRange{100, 100}, 5000},
      {"bytes 0-0/1", ByteRange{0, 1}, 1},
      {"bytes 0-9/*", ByteRange{0, 10}, std::nullopt},
      {"Bytes 7-7/8", ByteRange{7, 1}, 8},
      {"  bytes 1-2/3  ", ByteRange{1, 2}, 3},
      {"bytes */5000", std::nullopt, std::nullopt},
      {"bytes 5-4/10", std::nullopt, std::nullopt},
      {"bytes 0-10/10", std::nullopt, std::nullopt},  // past the total
      {"bytes 0-9", std::nullopt, std::nullopt},
      {"bytes -9/10", std::nullopt, std::nullopt},
      {"bytes 0-/10", std::nullopt, std::nullopt},
      {"bytes a-9/10", std::nullopt, std::nullopt},
      {"items 0-9/10", std::nullopt, std::nullopt},
      {"bytes 0-99999999999999999999999/*", std::nullopt, std::nullopt},
      {"bytes 0-18446744073709551615/*", std::nullopt, std::nullopt},
      {"", std::nullopt, std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(parse_content_range(c.in), c.want) << c.in;
    auto full = parse_content_range_total(c.in);
    EXPECT_EQ(full.has_value(), c.want.has_value()) << c.in;
    if (full) {
      EXPECT_EQ(full->total, c.total) << c.in;
    }
  }
}

TEST(MultipartBoundary, Table) {
  struct Case {
    const char* in;
    std::optional<std::string> want;
  };
  const Case cases[] = {
      {"multipart/byteranges; boundary=3d6b6a416f9b5", "3d6b6a416f9b5"},
      {"multipart/byteranges; boundary=\"simple boundary\"", "simple boundary"},
      {"multipart/byteranges;boundary=\"a\\\"b\"", "a\"b"},
      {"Multipart/ByteRanges; charset=x; BOUNDARY=abc", "abc"},
      {"multipart/byteranges; boundary=abc; charset=x", "abc"},
      {"multipart/byteranges; boundary=\"abc\"; charset=x", "abc"},
      {"multipart/byteranges; boundary=quay:8f3e:2024-01-01", "quay:8f3e:2024-01-01"},  // quay: ':' unquoted
      {"multipart/byteranges; boundary=", std::nullopt},
      {"multipart/byteranges; boundary=\"abc", std::nullopt},
      {"multipart/byteranges", std::nullopt},
      {"multipart/byteranges; charset=x", std::nullopt},
      {"multipart/form-data; boundary=abc", std::nullopt},
      {"application/octet-stream", std::nullopt},
      {"", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(multipart_boundary(c.in), c.want) << c.in;
}

// ---- MultipartParser -------------------------------------------------------

struct Part {
  std::string content_range;  // empty: none
  std::string data;
  std::string extra_headers = "Content-Type: application/octet-stream\r\n";
};

struct BodyShape {
  std::string preamble;           // before the first delimiter
  bool leading_crlf = false;      // "\r\n" before the first delimiter (as after a preamble)
  std::string padding;            // transport padding after each boundary
  std::string epilogue = "\r\n";  // after the closing delimiter
};

std::string body_of(const std::string& boundary, const std::vector<Part>& parts, const BodyShape& shape = {}) {
  std::string b = shape.preamble + (shape.leading_crlf ? "\r\n" : "");
  for (size_t i = 0; i < parts.size(); i++) {
    if (i > 0) b += "\r\n";
    b += "--" + boundary + shape.padding + "\r\n" + parts[i].extra_headers;
    if (!parts[i].content_range.empty()) b += "Content-Range: " + parts[i].content_range + "\r\n";
    b += "\r\n" + parts[i].data;
  }
  b += "\r\n--" + boundary + "--" + shape.epilogue;
  return b;
}

// What a parser handed out: the bytes of each part, checked to arrive in
// order and without gaps.
struct Collected {
  std::map<uint64_t, std::string> by_offset;  // part offset -> bytes
  std::vector<ByteRange> order;
  MultipartParser::PartSink sink() {
    return [this](const ByteRange& part, uint64_t off, std::string_view data) {
      std::string& s = by_offset[part.offset];
      if (off == 0 && s.empty()) order.push_back(part);
      ASSERT_EQ(off, s.size()) << "part " << part.offset << " out of order";
      ASSERT_LE(off + data.size(), part.length);
      s.append(data);
    };
  }
};

// Feeds `body` cut at `cuts` (sorted positions).
void feed_cut(MultipartParser& p, std::string_view body, const std::vector<size_t>& cuts) {
  size_t at = 0;
  for (size_t c : cuts) {
    p.feed(body.substr(at, c - at));
    at = c;
  }
  p.feed(body.substr(at));
  p.finish();
}

std::string blob(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return s;
}

struct GoodCase {
  const char* name;
  std::string boundary;
  std::vector<Part> parts;
  BodyShape shape;
};

std::vector<GoodCase> good_cases() {
  std::string b = blob(1000);
  auto part = [&](uint64_t off, uint64_t len) {
    return Part{fmt::format("bytes {}-{}/1000", off, off + len - 1), b.substr(off, len)};
  };
  // A part whose data holds the delimiter: its length, not a search, ends it.
  Part tricky{"bytes 0-29/*", "ab\r\n--BOUND\r\nContent-Range: x\r\n"};
  tricky.data.resize(30, 'z');
  return {
      {"go style", "3d6b6a416f9b5", {part(0, 10), part(100, 50), part(999, 1)}, {}},
      {"one part", "x", {part(5, 500)}, {}},
      {"reordered", "r", {part(900, 100), part(0, 1), part(400, 3)}, {}},
      {"merged into one", "m", {part(0, 1000)}, {}},
      {"preamble", "p", {part(1, 2), part(3, 4)}, {"this is a preamble", true, "", "\r\n"}},
      {"padding", "pad", {part(10, 10), part(30, 10)}, {"", false, " \t ", "\r\n"}},
      {"no epilogue", "e", {part(10, 10)}, {"", false, "", ""}},
      {"epilogue", "e", {part(10, 10)}, {"", false, "", "\r\nignored --e\r\n"}},
      {"quay boundary", "quay:8f3e:1", {part(0, 10), part(20, 10)}, {}},
      {"delimiter inside the data", "BOUND", {tricky, part(50, 5)}, {}},
      {"no other headers", "n", {{"bytes 0-2/1000", b.substr(0, 3), ""}}, {}},
  };
}

void expect_parts(const Collected& c, const std::vector<Part>& parts) {
  ASSERT_EQ(c.order.size(), parts.size());
  for (size_t i = 0; i < parts.size(); i++) {
    auto r = parse_content_range(parts[i].content_range);
    ASSERT_TRUE(r);
    EXPECT_EQ(c.order[i], *r) << "part " << i;
    auto it = c.by_offset.find(r->offset);
    ASSERT_NE(it, c.by_offset.end());
    EXPECT_EQ(it->second, parts[i].data) << "part " << i;
  }
}

TEST(MultipartParser, WellFormedBodiesInOnePiece) {
  for (const GoodCase& g : good_cases()) {
    SCOPED_TRACE(g.name);
    Collected c;
    MultipartParser p(g.boundary, c.sink());
    feed_cut(p, body_of(g.boundary, g.parts, g.shape), {});
    expect_parts(c, g.parts);
  }
}

TEST(MultipartParser, SplitAtEveryPosition) {
  for (const GoodCase& g : good_cases()) {
    SCOPED_TRACE(g.name);
    std::string body = body_of(g.boundary, g.parts, g.shape);
    // Long bodies: every position near the framing, a stride inside data.
    for (size_t cut = 0; cut <= body.size(); cut++) {
      Collected c;
      MultipartParser p(g.boundary, c.sink());
      feed_cut(p, body, {cut});
      expect_parts(c, g.parts);
      if (HasFailure()) {
        ADD_FAILURE() << "cut at " << cut;
        return;
      }
    }
  }
}

TEST(MultipartParser, OneByteAtATime) {
  for (const GoodCase& g : good_cases()) {
    SCOPED_TRACE(g.name);
    std::string body = body_of(g.boundary, g.parts, g.shape);
    std::vector<size_t> cuts;
    for (size_t i = 1; i < body.size(); i++) cuts.push_back(i);
    Collected c;
    MultipartParser p(g.boundary, c.sink());
    feed_cut(p, body, cuts);
    expect_parts(c, g.parts);
  }
}

TEST(MultipartParser, HostileBodies) {
  std::string b = blob(100);
  Part ok{"bytes 0-9/100", b.substr(0, 10)};
  struct Case {
    const char* name;
    std::string body;
    std::string error;  // a substring of the message
  };
  std::string long_header = "X-Pad: " + std::string(17 << 10, 'a') + "\r\n";
  const Case cases[] = {
      {"missing Content-Range", body_of("B", {ok, {"", b.substr(0, 5)}}), "a part without Content-Range"},
      {"bad Content-Range", body_of("B", {{"bytes 9-0/100", "x"}}), "bad Content-Range"},
      {"over-long part header", body_of("B", {{"bytes 0-9/100", b.substr(0, 10), long_header}}), "over 16 KiB"},
      {"data past the declared length", body_of("B", {{"bytes 0-9/100", b.substr(0, 11)}}),
       "part bytes 0-9 is not followed by a boundary"},
      {"data short of the declared length", body_of("B", {{"bytes 0-9/100", b.substr(0, 9)}}),
       "part bytes 0-9 is not followed by a boundary"},
      {"no boundary at all", std::string(20000, 'x'), "no boundary in its first 16 KiB"},
      {"a boundary of another body", body_of("OTHER", {ok}), "ended before its first boundary"},
      {"LF line ends", "--B\nContent-Range: bytes 0-0/100\n\nx\n--B--\n", "does not end in CRLF"},
      {"no parts", "--B--\r\n", "it has no parts"},
      {"garbage after a boundary", "--Bxyz\r\n", "does not end in CRLF"},
      {"header line without a colon", "--B\r\nnonsense\r\n\r\nx\r\n--B--", "without ':'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Collected got;
    MultipartParser p("B", got.sink());
    std::string msg = message_of([&] { feed_cut(p, c.body, {}); });
    EXPECT_NE(msg.find(c.error), std::string::npos) << msg;
  }
}

TEST(MultipartParser, TruncatedBodyIsAnErrorAtEveryLength) {
  std::string b = blob(100);
  std::string body = body_of("B", {{"bytes 0-9/100", b.substr(0, 10)}, {"bytes 50-69/100", b.substr(50, 20)}},
                             {"", false, "", ""});
  for (size_t n = 0; n < body.size(); n++) {
    Collected got;
    MultipartParser p("B", got.sink());
    std::string msg = message_of([&] { feed_cut(p, std::string_view(body).substr(0, n), {}); });
    EXPECT_NE(msg.find("the multipart body ended"), std::string::npos) << n << ": " << msg;
  }
}

TEST(MultipartParser, PartOfAnotherBlobIsRefused) {
  Collected got;
  MultipartParser p("B", got.sink());
  p.expect_total(100);
  std::string msg = message_of([&] { feed_cut(p, body_of("B", {{"bytes 0-1/101", "ab"}}), {}); });
  EXPECT_NE(msg.find("of a 101-byte blob, not of this one (100 bytes)"), std::string::npos) << msg;
  // "/*" says nothing about the size: accepted.
  MultipartParser q("B", got.sink());
  q.expect_total(100);
  EXPECT_NO_THROW(feed_cut(q, body_of("B", {{"bytes 0-1/*", "ab"}}), {}));
}

}  // namespace
}  // namespace hull::registry
