// registry::Client::fetch_ranges: byte ranges of a blob, for partial
// pulls (registry/client.h has the contract and the fallbacks).
#include "registry/client_impl.h"

namespace hull::registry {

// One fetch_ranges() call. done_[i] counts the bytes of ranges_[i] handed
// to the sink; a byte is handed out only when it is the next one of its
// range, so whatever order, overlap or repetition the answers have, each
// byte goes out once and in order. What an answer did not deliver is asked
// again.
struct Client::Impl::RangeFetch {
  enum class Next { kContinue, kRegroup };

  Impl& c;
  const oci::Descriptor& d;
  std::span<const ByteRange> ranges;
  const RangeSink& sink;
  ProgressBar* bar;
  uint64_t size = 0;
  std::vector<uint64_t> done;
  uint64_t left = 0;  // bytes still wanted, over all ranges
  size_t per_request = kMaxRangesPerRequest;
  RangeStats stats;

  RangeFetch(Impl& client, const oci::Descriptor& desc, std::span<const ByteRange> r, const RangeSink& s,
             ProgressBar* b)
      : c(client), d(desc), ranges(r), sink(s), bar(b), done(r.size(), 0) {}

  void check() {
    if (d.size < 0) fail("the descriptor has no size");
    size = static_cast<uint64_t>(d.size);
    uint64_t prev_end = 0;
    for (size_t i = 0; i < ranges.size(); i++) {
      const ByteRange& r = ranges[i];
      if (r.offset > size || r.length > size - r.offset)
        fail("range {} ({} bytes at {}) is outside the blob of {} bytes", i, r.length, r.offset, size);
      if (r.offset < prev_end) fail("range {} (at {}) is out of order or overlaps the one before", i, r.offset);
      prev_end = r.end();
      left += r.length;
    }
  }

  // Hands out the bytes of `data` (blob offsets [at, at + size)) that are
  // the next ones of some range; drops the rest.
  void place(uint64_t at, std::string_view data) {
    uint64_t end = at + data.size();
    auto it = std::lower_bound(ranges.begin(), ranges.end(), at,
                               [](const ByteRange& r, uint64_t a) { return r.end() <= a; });
    for (; it != ranges.end() && it->offset < end; ++it) {
      size_t i = static_cast<size_t>(it - ranges.begin());
      uint64_t next = it->offset + done[i];
      if (done[i] == it->length || next < at || next >= end) continue;
      uint64_t stop = std::min(end, it->end());
      std::string_view piece = data.substr(static_cast<size_t>(next - at), static_cast<size_t>(stop - next));
      done[i] += piece.size();
      left -= piece.size();
      sink(i, next - it->offset, piece);
    }
  }

  RangeStats run() {
    check();
    while (left > 0) {
      std::vector<ByteRange> rest;
      std::vector<size_t> index;
      for (size_t i = 0; i < ranges.size(); i++) {
        if (done[i] == ranges[i].length) continue;
        rest.push_back({ranges[i].offset + done[i], ranges[i].length - done[i]});
        index.push_back(i);
      }
      for (std::span<const ByteRange> g : group_ranges(rest, per_request, kMaxRangeHeaderBytes)) {
        size_t first = static_cast<size_t>(g.data() - rest.data());
        std::vector<size_t> group(index.begin() + first, index.begin() + first + g.size());
        if (fetch_group(group) == Next::kRegroup || left == 0) break;
      }
    }
    return stats;
  }

  // One request for the ranges `group` (indices), retried on transient
  // failures from where each range stands.
  Next fetch_group(const std::vector<size_t>& group) {
    return c.retrying([&] {
      std::vector<ByteRange> want;
      for (size_t i : group)
        if (done[i] < ranges[i].length) want.push_back({ranges[i].offset + done[i], ranges[i].length - done[i]});
      if (want.empty()) return Next::kContinue;
      const uint64_t before = left;
      HttpRequest req;
      req.url = c.blob_url(d.digest);
      req.headers.push_back("Range: " + range_header(want));
      stats.requests++;

      enum class Mode { kMultipart, kSingle, kWhole } mode = Mode::kSingle;
      std::optional<MultipartParser> parser;
      uint64_t pos = 0, end_pos = 0;  // blob offsets of a single part or the whole blob
      req.on_body_start = [&](const HttpResponse& r) {
        if (r.status == 206) {
          if (auto boundary = multipart_boundary(r.header("content-type"))) {
            mode = Mode::kMultipart;
            parser.emplace(*boundary, [&](const ByteRange& part, uint64_t off, std::string_view data) {
              if (part.end() > size) fail("the registry sent part bytes {}-{} of a {}-byte blob", part.offset,
                                          part.end() - 1, size);
              place(part.offset + off, data);
            });
            parser->expect_total(size);
            return;
          }
          std::string value = r.header("content-range");
          auto cr = parse_content_range_total(value);
          if (!cr) fail("the registry answered a range request with 206 and Content-Range \"{}\"", value.substr(0, 100));
          if ((cr->total && *cr->total != size) || cr->range.end() > size)
            fail("the registry answered with \"{}\" for a blob of {} bytes", value, size);
          if (auto len = parse_u64(r.header("content-length")); len && *len != cr->range.length)
            fail("the registry announced {} bytes for \"{}\"", *len, value);
          mode = Mode::kSingle;
          pos = cr->range.offset;
          end_pos = cr->range.end();
          return;
        }
        // 200: the whole blob, Range ignored.
        if (want.size() > 1 && left <= size / 2) throw StopTransfer{StopTransfer::kSingles};
        if (auto len = parse_u64(r.header("content-length")); len && *len != size)
          fail("the registry announced {} bytes, but the blob has {} bytes", *len, size);
        mode = Mode::kWhole;
        pos = 0;
        end_pos = size;
        stats.whole_blob = true;
      };
      req.sink = [&](std::string_view data) {
        stats.bytes_received += data.size();
        if (bar) bar->add(data.size());
        if (mode == Mode::kMultipart) {
          parser->feed(data);
          return;
        }
        if (data.size() > end_pos - pos)
          fail("the registry sent more than the {} bytes it announced", end_pos - (mode == Mode::kWhole ? 0 : pos));
        place(pos, data);
        pos += data.size();
        if (mode == Mode::kWhole && left == 0) throw StopTransfer{StopTransfer::kDone};
      };

      HttpResponse r;
      try {
        r = c.send(req);
      } catch (const StopTransfer& stop) {
        if (stop.why == StopTransfer::kDone) return Next::kContinue;
        per_request = 1;  // less than half the blob wanted: cheaper one range at a time
        return Next::kRegroup;
      }
      if ((r.status == 400 || r.status == 416) && want.size() > 1) {
        per_request = std::max<size_t>(1, want.size() / 2);
        return Next::kRegroup;
      }
      if (r.status != 200 && r.status != 206) c.fail_status(r);
      if (mode == Mode::kMultipart) {
        parser->finish();
      } else if (pos < end_pos) {
        throw TransientError(fmt::format("the answer ended after {} of its {} bytes", pos, end_pos));
      }
      if (left == before)
        fail("the registry's answer to \"{}\" held none of the bytes asked for", req.headers[0].substr(0, 100));
      bool group_left = std::any_of(group.begin(), group.end(), [&](size_t i) { return done[i] < ranges[i].length; });
      if (!group_left) return Next::kContinue;
      // One part for several ranges that left some out: a server (or the
      // storage behind a redirect) that serves one range per request.
      if (mode == Mode::kSingle && want.size() > 1) per_request = 1;
      return Next::kRegroup;
    });
  }
};

Client::RangeStats Client::fetch_ranges(const oci::Descriptor& d, std::span<const ByteRange> ranges,
                                        const RangeSink& sink, ProgressBar* bar) {
  return with_context(fmt::format("fetching {} ranges of {} blob {}", ranges.size(), impl_->name, d.digest.short_str()),
                      [&] { return Impl::RangeFetch(*impl_, d, ranges, sink, bar).run(); });
}

}  // namespace hull::registry
