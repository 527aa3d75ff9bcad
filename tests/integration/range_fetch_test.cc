// registry::Client::fetch_ranges (partial pulls) against the real
// docker-registry, which answers multi-range requests with
// multipart/byteranges, and against the faulty registry's range faults.
//
// Every test checks the bytes each range received against the blob, and
// (through Collector) that each byte arrived once and in order.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "image/layout.h"
#include "image/source.h"
#include "oci/manifest.h"
#include "registry/client.h"
#include "registry/ranges.h"
#include "support/faulty_registry.h"
#include "support/registry.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::registry {
namespace {

using test::BlobFaults;
using test::FaultyRegistry;
using test::LocalRegistry;

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

oci::Descriptor descriptor(const std::string& data) {
  oci::Descriptor d;
  d.media_type = std::string(oci::media::kOciLayerZstd);
  d.digest = oci::Digest::of(data);
  d.size = static_cast<int64_t>(data.size());
  return d;
}

oci::Reference ref(const std::string& host, const std::string& repo) {
  return oci::Reference::parse(host + "/" + repo + ":latest");
}

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.message();
  }
  return "(no error)";
}

// `n` sorted, non-overlapping ranges spread over a blob of `size` bytes:
// one in each of n equal slots, of random start and length.
std::vector<ByteRange> spread_ranges(uint64_t size, size_t n, uint32_t seed, uint64_t max_len = UINT64_MAX) {
  std::mt19937_64 rng(seed);
  std::vector<ByteRange> out;
  uint64_t slot = size / n;
  for (size_t i = 0; i < n; i++) {
    uint64_t len = 1 + rng() % std::min(slot, max_len);
    uint64_t off = i * slot + rng() % (slot - len + 1);
    out.push_back({off, len});
  }
  return out;
}

uint64_t total(const std::vector<ByteRange>& r) {
  uint64_t t = 0;
  for (const auto& x : r) t += x.length;
  return t;
}

// Receives fetch_ranges' bytes; fails the test on a byte out of order or
// delivered twice.
struct Collector {
  std::vector<ByteRange> ranges;
  std::vector<std::string> got;
  explicit Collector(std::vector<ByteRange> r) : ranges(std::move(r)), got(ranges.size()) {}
  Client::RangeSink sink() {
    return [this](size_t i, uint64_t off, std::string_view data) {
      ASSERT_LT(i, got.size());
      ASSERT_EQ(off, got[i].size()) << "range " << i << ": bytes out of order or twice";
      ASSERT_LE(off + data.size(), ranges[i].length) << "range " << i << ": more than asked";
      got[i].append(data);
    };
  }
  // Every range holds exactly the blob's bytes.
  void expect_bytes_of(const std::string& blob) const {
    for (size_t i = 0; i < ranges.size(); i++) {
      ASSERT_EQ(got[i].size(), ranges[i].length) << "range " << i;
      ASSERT_TRUE(got[i] == blob.substr(ranges[i].offset, ranges[i].length)) << "range " << i << ": wrong bytes";
    }
  }
};

Options options(const std::string& authfile) {
  Options o;
  o.authfile = authfile;
  o.stall_timeout_seconds = 2;
  o.max_attempts = 5;
  return o;
}

struct Scratch {
  TempDir dir{"hull-range-test"};
  std::string authfile() {
    std::string p = dir.path() + "/auth.json";
    write_file_atomic(p, R"({"auths": {}})");
    return p;
  }
};

// ---- against the real registry ---------------------------------------------

class RealRegistry : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reg_ = new LocalRegistry();
    scratch_ = new Scratch();
    blob_ = new std::string(random_bytes(20 << 20, 1));
    Client c(ref(reg_->host(), "hull/ranges"), options(scratch_->authfile()), true);
    std::string path = scratch_->dir.path() + "/blob";
    write_file_atomic(path, *blob_);
    UniqueFd fd = open_file(path, O_RDONLY);
    c.push_blob(descriptor(*blob_), fd.get());
  }
  static void TearDownTestSuite() {
    delete blob_;
    delete scratch_;
    delete reg_;
  }
  Client client() { return Client(ref(reg_->host(), "hull/ranges"), options(scratch_->authfile())); }

  // Fetches `ranges` of the blob, checks the bytes, prints the figures.
  Client::RangeStats fetch(const std::vector<ByteRange>& ranges, const char* what) {
    Client c = client();
    Collector col(ranges);
    auto start = std::chrono::steady_clock::now();
    Client::RangeStats st = c.fetch_ranges(descriptor(*blob_), ranges, col.sink());
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    col.expect_bytes_of(*blob_);
    std::printf("[figures] %s: %zu ranges, %llu bytes wanted, %d requests, %llu bytes received, %.1f ms%s\n", what,
                ranges.size(), static_cast<unsigned long long>(total(ranges)), st.requests,
                static_cast<unsigned long long>(st.bytes_received), ms, st.whole_blob ? ", whole blob" : "");
    return st;
  }

  static LocalRegistry* reg_;
  static Scratch* scratch_;
  static std::string* blob_;
};
LocalRegistry* RealRegistry::reg_ = nullptr;
Scratch* RealRegistry::scratch_ = nullptr;
std::string* RealRegistry::blob_ = nullptr;

TEST_F(RealRegistry, OneRange) {
  auto st = fetch({{12345, 1 << 20}}, "1 range");
  EXPECT_EQ(st.requests, 1);
  EXPECT_EQ(st.bytes_received, 1u << 20);
  EXPECT_FALSE(st.whole_blob);
}

TEST_F(RealRegistry, FirstAndLastByte) {
  uint64_t n = blob_->size();
  auto st = fetch({{0, 1}, {n - 1, 1}}, "2 ranges");
  EXPECT_EQ(st.requests, 1);
  EXPECT_FALSE(st.whole_blob);
}

TEST_F(RealRegistry, ManyRanges) {
  for (size_t n : {size_t{2}, size_t{300}, size_t{2000}}) {
    SCOPED_TRACE(n);
    auto ranges = spread_ranges(blob_->size(), n, static_cast<uint32_t>(n), 8192);
    auto st = fetch(ranges, (std::to_string(n) + " ranges").c_str());
    // As planned: groups of at most 256 ranges, one request each.
    EXPECT_EQ(static_cast<size_t>(st.requests), group_ranges(ranges, 256).size());
    EXPECT_FALSE(st.whole_blob);
    EXPECT_GE(st.bytes_received, total(ranges));
    EXPECT_LT(st.bytes_received, total(ranges) + n * 200);  // part headers: ~100 bytes each
  }
}

TEST_F(RealRegistry, RangesCoveringTheWholeBlob) {
  // 300 touching ranges: every byte of the blob, in 3 requests.
  std::vector<ByteRange> ranges;
  uint64_t n = blob_->size(), step = n / 300;
  for (uint64_t off = 0; off < n; off += step) ranges.push_back({off, std::min(step, n - off)});
  auto st = fetch(ranges, "the whole blob as ranges");
  EXPECT_EQ(static_cast<size_t>(st.requests), group_ranges(ranges, 256).size());
}

TEST_F(RealRegistry, ThroughARegistrySource) {
  std::unique_ptr<image::Source> src =
      image::open_source(image::ImageName::parse("docker://" + reg_->host() + "/hull/ranges:latest"),
                         options(scratch_->authfile()));
  EXPECT_TRUE(src->can_fetch_ranges());
  auto ranges = spread_ranges(blob_->size(), 50, 7, 4096);
  Collector col(ranges);
  Client::RangeStats st = src->fetch_ranges(descriptor(*blob_), ranges, col.sink(), nullptr);
  col.expect_bytes_of(*blob_);
  EXPECT_EQ(st.requests, 1);
}

TEST(RangeSource, LayoutSourcesCannot) {
  Scratch s;
  image::Layout::open_or_create(s.dir.path() + "/layout");
  std::unique_ptr<image::Source> src =
      image::open_source(image::ImageName::parse("oci:" + s.dir.path() + "/layout"), Options{});
  EXPECT_FALSE(src->can_fetch_ranges());
  std::string blob = "0123456789";
  std::vector<ByteRange> r{{0, 1}};
  Collector col(r);
  EXPECT_NE(message_of([&] { src->fetch_ranges(descriptor(blob), r, col.sink(), nullptr); })
                .find("this source cannot fetch byte ranges"),
            std::string::npos);
}

// ---- against the faulty registry -------------------------------------------

struct Faulty {
  FaultyRegistry reg;
  Scratch s;
  Options o;
  explicit Faulty(bool bearer = false) : reg(bearer), o(options(s.authfile())) {}
  Client client() { return Client(ref(reg.host(), "x/y"), o); }
  // Serves `data` with `faults`, fetches `ranges` of it.
  Client::RangeStats fetch(const std::string& data, const BlobFaults& faults, Collector& col) {
    reg.add_blob(data, faults);
    Client c = client();
    return c.fetch_ranges(descriptor(data), col.ranges, col.sink());
  }
  // The Range headers of the blob GETs, in order.
  std::vector<std::string> ranges_sent() const {
    std::vector<std::string> out;
    for (const auto& r : reg.requests())
      if (r.method == "GET" && r.path.find("/blobs/") != std::string::npos) out.push_back(r.range);
    return out;
  }
};

TEST(RangeFaults, PlainMultipart) {
  Faulty f;
  std::string data = random_bytes(1 << 20, 2);
  Collector col(spread_ranges(data.size(), 20, 2));
  auto st = f.fetch(data, {}, col);
  col.expect_bytes_of(data);
  EXPECT_EQ(st.requests, 1);
  ASSERT_EQ(f.ranges_sent().size(), 1u);
  EXPECT_EQ(FaultyRegistry::range_count(f.ranges_sent()[0]), 20u);
}

TEST(RangeFaults, WrongBytesReachTheCallerWhoMustVerify) {
  // The client cannot tell flipped bytes from the blob's: a range carries
  // no digest. The caller verifies each file it builds (its sha256 in the
  // TOC); here the flip lands exactly where it was made, nowhere else.
  Faulty f;
  std::string data = random_bytes(1 << 20, 3);
  std::vector<ByteRange> ranges = spread_ranges(data.size(), 10, 3);
  uint64_t flip = ranges[4].offset + ranges[4].length / 2;
  Collector col(ranges);
  f.fetch(data, {.flip_in_ranges_at = static_cast<int64_t>(flip)}, col);
  std::string expected = data;
  expected[flip] ^= 0x5a;
  col.expect_bytes_of(expected);
}

TEST(RangeFaults, WholeBlobForMultiRangeWhenMostIsWanted) {
  Faulty f;
  std::string data = random_bytes(1 << 20, 4);
  // Ten ranges covering ~90 % of the blob.
  std::vector<ByteRange> ranges;
  for (uint64_t i = 0; i < 10; i++) ranges.push_back({i * 100000, 90000});
  Collector col(ranges);
  auto st = f.fetch(data, {.whole_for_multi = true}, col);
  col.expect_bytes_of(data);
  EXPECT_TRUE(st.whole_blob);
  EXPECT_EQ(st.requests, 1);
  // It stops reading once the last range is complete.
  EXPECT_LE(st.bytes_received, data.size());
}

TEST(RangeFaults, WholeBlobForMultiRangeWhenLittleIsWanted) {
  Faulty f;
  std::string data = random_bytes(1 << 20, 5);
  std::vector<ByteRange> ranges = spread_ranges(data.size(), 8, 5, 1000);
  Collector col(ranges);
  auto st = f.fetch(data, {.whole_for_multi = true}, col);
  col.expect_bytes_of(data);
  EXPECT_FALSE(st.whole_blob);
  // The 200 is dropped; then one range per request.
  EXPECT_EQ(st.requests, 9);
  auto sent = f.ranges_sent();
  ASSERT_EQ(sent.size(), 9u);
  EXPECT_EQ(FaultyRegistry::range_count(sent[0]), 8u);
  for (size_t i = 1; i < sent.size(); i++) EXPECT_EQ(FaultyRegistry::range_count(sent[i]), 1u) << sent[i];
  EXPECT_LT(st.bytes_received, data.size() / 2);
}

TEST(RangeFaults, RangesIgnoredAltogether) {
  // A single range answered with 200: the only way is the whole body.
  Faulty f;
  std::string data = random_bytes(300000, 6);
  Collector col({{250000, 100}});
  auto st = f.fetch(data, {.ignore_range = true}, col);
  col.expect_bytes_of(data);
  EXPECT_TRUE(st.whole_blob);
  EXPECT_EQ(st.requests, 1);
}

TEST(RangeFaults, TooManyRangesAreHalved) {
  Faulty f;
  std::string data = random_bytes(1 << 20, 7);
  Collector col(spread_ranges(data.size(), 20, 7));
  auto st = f.fetch(data, {.max_ranges = 3}, col);
  col.expect_bytes_of(data);
  // 20 -> 400, 10 -> 400, 5 -> 400, then requests of 2 (ten of them).
  auto sent = f.ranges_sent();
  ASSERT_EQ(static_cast<size_t>(st.requests), sent.size());
  size_t served = 0;
  for (const auto& h : sent)
    if (FaultyRegistry::range_count(h) <= 3) served += FaultyRegistry::range_count(h);
  EXPECT_EQ(served, 20u);
  EXPECT_EQ(FaultyRegistry::range_count(sent[0]), 20u);
  EXPECT_EQ(FaultyRegistry::range_count(sent[1]), 10u);
  EXPECT_EQ(FaultyRegistry::range_count(sent[2]), 5u);
  EXPECT_EQ(FaultyRegistry::range_count(sent[3]), 2u);
  EXPECT_EQ(st.requests, 13);
}

TEST(RangeFaults, OneRangeAtATimeOnly) {
  Faulty f;
  std::string data = random_bytes(200000, 8);
  Collector col(spread_ranges(data.size(), 4, 8));
  auto st = f.fetch(data, {.max_ranges = 1}, col);
  col.expect_bytes_of(data);
  EXPECT_EQ(st.requests, 1 + 1 + 4);  // 4 -> 400, 2 -> 400, then singles
}

TEST(RangeFaults, StallInsideAPartResumesThatRange) {
  Faulty f;
  f.o.stall_timeout_seconds = 1;
  std::string data = random_bytes(2 << 20, 9);
  std::vector<ByteRange> ranges = spread_ranges(data.size(), 10, 9);
  uint64_t at = ranges[3].offset + ranges[3].length / 2;
  Collector col(ranges);
  auto st = f.fetch(data, {.stall_after = at, .stall_seconds = 6, .stall_times = 1}, col);
  col.expect_bytes_of(data);
  auto sent = f.ranges_sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(st.requests, 2);
  // The retry starts range 3 where the stall left it, and drops 0-2.
  EXPECT_EQ(FaultyRegistry::range_count(sent[1]), 7u);
  EXPECT_TRUE(sent[1].starts_with(fmt::format("bytes={}-{},", at, ranges[3].end() - 1))) << sent[1];
}

TEST(RangeFaults, ResetInsideAPartResumesThatRange) {
  Faulty f;
  std::string data = random_bytes(2 << 20, 10);
  std::vector<ByteRange> ranges = spread_ranges(data.size(), 10, 10);
  uint64_t at = ranges[6].offset + ranges[6].length / 3;
  Collector col(ranges);
  auto st = f.fetch(data, {.truncate_after = at, .truncate_times = 2}, col);
  col.expect_bytes_of(data);
  auto sent = f.ranges_sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(st.requests, 3);
  EXPECT_EQ(FaultyRegistry::range_count(sent[1]), 4u);
  EXPECT_TRUE(sent[1].starts_with(fmt::format("bytes={}-{},", at, ranges[6].end() - 1))) << sent[1];
  // The fault cuts again at the same byte (inside the answer, after the
  // part's header): the third request asks for the same.
  EXPECT_EQ(sent[2], sent[1]);
}

TEST(RangeFaults, PersistentFailuresGiveUpClearly) {
  std::string data = random_bytes(1 << 20, 11);
  std::vector<ByteRange> ranges = spread_ranges(data.size(), 5, 11);
  uint64_t at = ranges[2].offset + ranges[2].length / 2;
  struct Case {
    const char* name;
    BlobFaults faults;
    const char* error;
  };
  const Case cases[] = {
      {"reset every time", {.truncate_after = at, .truncate_times = 100}, "connection to 127.0.0.1"},
      {"500 every time", {.fail_500_times = 100}, "500 Internal Server Error"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Faulty f;
    f.o.max_attempts = 3;
    f.reg.add_blob(data, c.faults);
    Collector col(ranges);
    Client cl = f.client();
    std::string msg = message_of([&] { cl.fetch_ranges(descriptor(data), ranges, col.sink()); });
    EXPECT_EQ(msg.find("fetching 5 ranges of " + f.reg.host() + "/x/y blob "), 0u) << msg;
    EXPECT_NE(msg.find(c.error), std::string::npos) << msg;
    EXPECT_EQ(f.ranges_sent().size(), 3u);
    // What did arrive is right, once (Collector checks the order).
    for (size_t i = 0; i < ranges.size(); i++)
      EXPECT_EQ(col.got[i], data.substr(ranges[i].offset, col.got[i].size())) << i;
  }
}

TEST(RangeFaults, MergedIntoOnePart) {
  Faulty f;
  std::string data = random_bytes(1 << 20, 12);
  std::vector<ByteRange> ranges = spread_ranges(data.size() / 2, 30, 12);
  Collector col(ranges);
  auto st = f.fetch(data, {.merge_parts = true}, col);
  col.expect_bytes_of(data);
  EXPECT_EQ(st.requests, 1);
  EXPECT_EQ(st.bytes_received, ranges.back().end() - ranges.front().offset);
}

TEST(RangeFaults, StorageThatServesTheFirstRangeOnly) {
  // Asked for several ranges, it answers the first: then one at a time.
  Faulty f;
  std::string data = random_bytes(500000, 22);
  Collector col(spread_ranges(data.size(), 6, 22));
  auto st = f.fetch(data, {.redirect = true, .first_range_only = true}, col);
  col.expect_bytes_of(data);
  EXPECT_EQ(st.requests, 6);
  auto sent = f.ranges_sent();
  ASSERT_EQ(sent.size(), 6u);
  EXPECT_EQ(FaultyRegistry::range_count(sent[0]), 6u);
  for (size_t i = 1; i < sent.size(); i++) EXPECT_EQ(FaultyRegistry::range_count(sent[i]), 1u) << sent[i];
}

TEST(RangeFaults, ReorderedParts) {
  Faulty f;
  std::string data = random_bytes(1 << 20, 13);
  Collector col(spread_ranges(data.size(), 40, 13));
  auto st = f.fetch(data, {.reorder_parts = true}, col);
  col.expect_bytes_of(data);
  EXPECT_EQ(st.requests, 1);
}

TEST(RangeFaults, QuayBoundaryWithColons) {
  Faulty f;
  std::string data = random_bytes(1 << 20, 14);
  Collector col(spread_ranges(data.size(), 12, 14));
  auto st = f.fetch(data, {.boundary = "quay:5f2e:2024-06-01T10:00:00"}, col);
  col.expect_bytes_of(data);
  EXPECT_EQ(st.requests, 1);
}

TEST(RangeFaults, RedirectToStorageThatRefusesMultiRange) {
  Faulty f;
  std::string data = random_bytes(500000, 15);
  Collector col(spread_ranges(data.size(), 6, 15, 2000));
  auto st = f.fetch(data, {.redirect = true, .max_ranges = 1}, col);
  col.expect_bytes_of(data);
  EXPECT_FALSE(st.whole_blob);
  EXPECT_EQ(st.requests, 1 + 1 + 6);  // 6 -> 400, 3 -> 400, then singles
  EXPECT_EQ(f.reg.count("GET", "/storage/"), st.requests);
}

TEST(RangeFaults, RedirectToStorageThatSendsTheWholeBlob) {
  Faulty f;
  std::string data = random_bytes(500000, 16);
  Collector col(spread_ranges(data.size(), 6, 16, 2000));
  auto st = f.fetch(data, {.redirect = true, .whole_for_multi = true}, col);
  col.expect_bytes_of(data);
  EXPECT_EQ(st.requests, 1 + 6);
}

TEST(RangeFaults, ServerErrorsAndThrottlingAreRetried) {
  Faulty f;
  f.o.max_attempts = 4;
  std::string data = random_bytes(400000, 17);
  Collector col(spread_ranges(data.size(), 5, 17));
  auto st = f.fetch(data, {.fail_500_times = 1, .too_many_times = 1, .retry_after_seconds = 1}, col);
  col.expect_bytes_of(data);
  EXPECT_EQ(st.requests, 3);
}

TEST(RangeFaults, BearerToken) {
  Faulty f(/*bearer=*/true);
  std::string data = random_bytes(300000, 18);
  Collector col(spread_ranges(data.size(), 7, 18));
  auto st = f.fetch(data, {}, col);
  col.expect_bytes_of(data);
  EXPECT_EQ(st.requests, 1);
  EXPECT_EQ(f.reg.token_requests(), 1);
}

TEST(RangeFaults, CorruptedWholeBlobAnswerIsCaughtNowhere) {
  // Same as flipped range bytes, for the whole-blob fallback: the flip is
  // delivered where it was made; the caller's file digests catch it.
  Faulty f;
  std::string data = random_bytes(200000, 19);
  Collector col({{0, 150000}, {160000, 40000}});
  auto st = f.fetch(data, {.corrupt_times = 1, .whole_for_multi = true}, col);
  EXPECT_TRUE(st.whole_blob);
  std::string expected = data;
  expected[data.size() / 2] ^= 0x5a;
  col.expect_bytes_of(expected);
}

TEST(RangeFaults, BadRangesAreRefusedBeforeAnyRequest) {
  Faulty f;
  std::string data = random_bytes(1000, 20);
  f.reg.add_blob(data);
  struct Case {
    const char* name;
    std::vector<ByteRange> ranges;
    const char* error;
  };
  const Case cases[] = {
      {"past the end", {{990, 11}}, "range 0 (11 bytes at 990) is outside the blob of 1000 bytes"},
      {"start past the end", {{1001, 0}}, "is outside the blob"},
      {"overflow", {{10, UINT64_MAX}}, "is outside the blob"},
      {"unsorted", {{500, 10}, {100, 10}}, "range 1 (at 100) is out of order or overlaps the one before"},
      {"overlapping", {{100, 10}, {105, 10}}, "out of order or overlaps"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Collector col(c.ranges);
    Client cl = f.client();
    std::string msg = message_of([&] { cl.fetch_ranges(descriptor(data), c.ranges, col.sink()); });
    EXPECT_NE(msg.find(c.error), std::string::npos) << msg;
  }
  EXPECT_EQ(f.ranges_sent().size(), 0u);
  // Nothing to fetch: no request either.
  Collector none({{5, 0}});
  Client cl = f.client();
  EXPECT_EQ(cl.fetch_ranges(descriptor(data), none.ranges, none.sink()).requests, 0);
  EXPECT_EQ(f.ranges_sent().size(), 0u);
}

TEST(RangeFaults, WrongContentLengthIsRefused) {
  Faulty f;
  std::string data = random_bytes(100000, 21);
  Collector col({{1000, 5000}});
  f.reg.add_blob(data, {.content_length_delta = 7});
  Client c = f.client();
  std::string msg = message_of([&] { c.fetch_ranges(descriptor(data), col.ranges, col.sink()); });
  EXPECT_NE(msg.find("the registry announced 5007 bytes for \"bytes 1000-5999/100000\""), std::string::npos) << msg;
  EXPECT_TRUE(col.got[0].empty());
}

}  // namespace
}  // namespace hull::registry
