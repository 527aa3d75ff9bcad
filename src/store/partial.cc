#include "store/partial.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <thread>

#include "layer/path.h"
#include "store/layer_builder.h"
#include "store/ostree.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/hash.h"

namespace hull::store {
namespace {

// Files up to this size are copied through memory; larger ones streamed.
constexpr uint64_t kInlineMax = 4u << 20;
// Two missing files whose frames are at most this far apart are fetched in
// one range (a part header costs ~150 bytes, a request more).
constexpr uint64_t kMaxGap = 8u << 10;
// A merged range grows to at most this size (unless one file is larger):
// each range is held in memory until it is complete.
constexpr uint64_t kMaxRange = 16u << 20;

std::span<const std::byte> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Reads [offset, offset + length) of the file at `path`.
std::string pread_range(const std::string& path, uint64_t offset, uint64_t length) {
  UniqueFd fd = open_file(path, O_RDONLY | O_CLOEXEC);
  std::string out(length, '\0');
  size_t got = 0;
  while (got < length) {
    ssize_t n = ::pread(fd.get(), out.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(fmt::format("reading {}", path));
    if (n == 0) fail("{}: short read at offset {}", path, offset + got);
    got += static_cast<size_t>(n);
  }
  return out;
}

// Fetches `ranges` (sorted) of blob `d` whole into memory.
std::vector<std::string> fetch_small_ranges(image::Source& src, const oci::Descriptor& d,
                                            const std::vector<registry::ByteRange>& ranges) {
  std::vector<std::string> out(ranges.size());
  for (size_t i = 0; i < ranges.size(); i++) out[i].reserve(ranges[i].length);
  src.fetch_ranges(d, ranges, [&](size_t i, uint64_t off, std::string_view data) {
    if (off != out[i].size()) fail("range {} of blob {}: bytes out of order", i, d.digest.short_str());
    out[i].append(data);
  }, nullptr);
  for (size_t i = 0; i < ranges.size(); i++)
    if (out[i].size() != ranges[i].length)
      fail("blob {}: range {}-{} came back with {} bytes", d.digest.short_str(), ranges[i].offset,
           ranges[i].end() - 1, out[i].size());
  return out;
}

using Xattrs = std::vector<std::pair<std::string, std::string>>;

// True if object `checksum` has exactly e's owner, mode and xattrs.
bool same_metadata(OstreeRepo* repo, const std::string& checksum, const layer::Entry& e) {
  GRef<GFileInfo> info;
  GVariant* xv = nullptr;
  GErr err;
  if (!ostree_repo_load_file(repo, checksum.c_str(), nullptr, info.out(), &xv, nullptr, err.out()))
    err.raise(fmt::format("loading object {}", checksum));
  GVar owned(xv);
  uint32_t mode = g_file_info_get_attribute_uint32(info.get(), "unix::mode");
  if (g_file_info_get_attribute_uint32(info.get(), "unix::uid") != e.uid ||
      g_file_info_get_attribute_uint32(info.get(), "unix::gid") != e.gid || (mode & 07777) != e.mode ||
      !S_ISREG(mode))
    return false;
  Xattrs want = e.xattrs;
  std::sort(want.begin(), want.end());
  return xattrs_from_variant(xv) == want;
}

// Streams the content of object `checksum` to `out` in pieces.
void read_object(OstreeRepo* repo, const std::string& checksum, const std::function<void(std::string_view)>& out) {
  GRef<GInputStream> in;
  GErr err;
  if (!ostree_repo_load_file(repo, checksum.c_str(), in.out(), nullptr, nullptr, nullptr, err.out()))
    err.raise(fmt::format("loading object {}", checksum));
  if (!in) return;
  std::string buf(1u << 20, '\0');
  for (;;) {
    gssize n = g_input_stream_read(in.get(), buf.data(), buf.size(), nullptr, err.out());
    if (n < 0) err.raise(fmt::format("reading object {}", checksum));
    if (n == 0) break;
    out(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
}

// Regular TOC entries with content, in layer order, including those the
// reader drops (/dev, /run, ...).
uint64_t toc_files_with_content(const chunked::Toc& toc) {
  uint64_t n = 0;
  for (auto& t : toc.entries)
    if (t.type == "reg" && t.size > 0) n++;
  return n;
}

}  // namespace

ChunkedLayer read_chunked_layer(image::Source& src, const oci::Descriptor& d, const chunked::LayerInfo& info,
                                const std::string& blob_path) {
  return with_context(fmt::format("layer {}: table of contents", d.digest.short_str()), [&] {
    ChunkedLayer out;
    out.info = info;
    std::vector<registry::ByteRange> ranges = {{info.toc.offset, info.toc.length}};
    if (info.tar_split) ranges.push_back({info.tar_split->offset, info.tar_split->length});
    std::sort(ranges.begin(), ranges.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
    std::vector<std::string> got;
    if (!blob_path.empty()) {
      for (auto& r : ranges) got.push_back(pread_range(blob_path, r.offset, r.length));
    } else {
      got = fetch_small_ranges(src, d, ranges);
    }
    auto bytes_at = [&](uint64_t offset) -> const std::string& {
      for (size_t i = 0; i < ranges.size(); i++)
        if (ranges[i].offset == offset) return got[i];
      fail("internal: no range at {}", offset);
    };
    const std::string& toc_z = bytes_at(info.toc.offset);
    out.metadata_bytes = toc_z.size();
    oci::DigestVerifier v(info.toc_digest);
    v.update(toc_z.data(), toc_z.size());
    if (v.actual() != info.toc_digest)
      fail("its checksum is {}, the manifest says {}: refused", v.actual().short_str(), info.toc_digest.short_str());
    std::string json = chunked::zstd_decompress(bytes_of(toc_z), info.toc.uncompressed, "the table of contents");
    if (json.size() != info.toc.uncompressed)
      fail("{} bytes once decompressed, the manifest says {}", json.size(), info.toc.uncompressed);
    out.toc = chunked::parse_toc(json);
    if (info.tar_split) {
      const std::string& ts_z = bytes_at(info.tar_split->offset);
      out.metadata_bytes += ts_z.size();
      if (out.toc.tar_split_digest.empty()) fail("a tar-split without a tarSplitDigest in the table: refused");
      oci::Digest want = oci::Digest::parse(out.toc.tar_split_digest);
      if (oci::Digest::of(ts_z) != want) fail("the tar-split does not match the table's tarSplitDigest: refused");
      std::string lines = chunked::zstd_decompress(bytes_of(ts_z), chunked::kMaxTarSplitUncompressed, "the tar-split");
      out.tar_split = chunked::parse_tar_split(lines);
    }
    out.files = toc_files(out.toc, import_layer_options(d));
    return out;
  });
}

PartialPlan plan_partial(const ChunkedLayer& layer, const oci::Descriptor& d, const ContentIndex& index) {
  PartialPlan p;
  std::map<std::string, uint64_t> missing;  // sha -> compressed bytes of one copy
  for (auto& f : layer.files) {
    if (f.entry.type != layer::EntryType::kRegular || f.entry.size == 0) continue;
    p.files++;
    p.content_bytes += f.entry.size;
    bool have = !missing.count(f.sha256_hex) && index.find(f.sha256_hex).has_value();
    if (have) continue;
    p.files_missing++;
    p.content_missing += f.entry.size;
    missing.emplace(f.sha256_hex, f.end_offset - f.offset);
  }
  for (auto& [sha, n] : missing) p.fetch_bytes += n;
  p.refetch_needed = layer.tar_split && toc_files_with_content(layer.toc) != p.files;
  p.whole_blob = p.refetch_needed || p.fetch_bytes > static_cast<uint64_t>(d.size) / 2;
  return p;
}

PartialResult import_partial(OstreeRepo* repo, image::Source& src, const oci::Descriptor& d, const oci::Digest& diff_id,
                             const ChunkedLayer& layer, ContentIndex& index, ProgressBar* bar, int jobs) {
  return with_context(fmt::format("importing layer {} (partial)", d.digest.short_str()), [&] {
    PartialResult res;
    int threads = jobs > 0 ? jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    LayerBuilder builder(repo, threads, &index);
    const auto& files = layer.files;
    std::vector<size_t> slot_of(files.size(), SIZE_MAX);
    // Content to fetch, once per sha256, with every file that wants it.
    struct Wanted {
      uint64_t offset, end;
      std::vector<size_t> files;  // indexes into `files`
    };
    std::map<std::string, Wanted> missing;

    for (size_t i = 0; i < files.size(); i++) {
      const TocFile& f = files[i];
      const layer::Entry& e = f.entry;
      if (e.type != layer::EntryType::kRegular) {
        builder.add(e);
        continue;
      }
      size_t slot = builder.add_file(e);
      slot_of[i] = slot;
      if (e.size == 0) {
        builder.write(slot, e, {});
        continue;
      }
      if (auto it = missing.find(f.sha256_hex); it != missing.end()) {
        it->second.files.push_back(i);
        continue;
      }
      std::optional<std::string> obj = index.find(f.sha256_hex);
      if (!obj) {
        missing.emplace(f.sha256_hex, Wanted{f.offset, f.end_offset, {i}});
        continue;
      }
      if (same_metadata(repo, *obj, e)) {
        builder.set_object(slot, *obj, f.sha256_hex);
        res.files_reused++;
        continue;
      }
      res.files_copied++;
      with_context(fmt::format("{}: copying local content", layer::quote(e.path)), [&] {
        if (e.size <= kInlineMax) {
          std::vector<std::byte> data;
          data.reserve(e.size);
          read_object(repo, *obj, [&](std::string_view piece) {
            auto b = bytes_of(piece);
            data.insert(data.end(), b.begin(), b.end());
          });
          if (data.size() != e.size) fail("the local copy has {} bytes, not {}", data.size(), e.size);
          builder.write(slot, e, std::move(data), f.sha256_hex);
        } else {
          GRef<GInputStream> in;
          GErr err;
          if (!ostree_repo_load_file(repo, obj->c_str(), in.out(), nullptr, nullptr, nullptr, err.out()))
            err.raise(fmt::format("loading object {}", *obj));
          std::string buf(1u << 20, '\0');
          std::string sha = builder.stream(slot, e, [&]() -> std::span<const std::byte> {
            gssize n = g_input_stream_read(in.get(), buf.data(), buf.size(), nullptr, err.out());
            if (n < 0) err.raise(fmt::format("reading object {}", *obj));
            return {reinterpret_cast<const std::byte*>(buf.data()), static_cast<size_t>(n)};
          });
          if (sha != f.sha256_hex) fail("the local copy is sha256:{}, not sha256:{}", sha.substr(0, 12), f.sha256_hex.substr(0, 12));
        }
      });
    }

    // The missing contents, by offset, merged into ranges of the blob.
    std::vector<const Wanted*> order;
    for (auto& [sha, w] : missing) {
      if (w.end <= w.offset || w.end > static_cast<uint64_t>(d.size))
        fail("{}: payload {}-{} outside the blob", layer::quote(files[w.files[0]].entry.path), w.offset, w.end);
      order.push_back(&w);
    }
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    std::vector<registry::ByteRange> ranges;
    std::vector<std::vector<const Wanted*>> in_range;
    for (const Wanted* w : order) {
      if (!ranges.empty()) {
        registry::ByteRange& r = ranges.back();
        if (w->offset >= r.end() && w->offset - r.end() <= kMaxGap && w->end - r.offset <= kMaxRange) {
          r.length = w->end - r.offset;
          in_range.back().push_back(w);
          continue;
        }
        if (w->offset < r.end()) fail("payloads of the table of contents overlap at offset {}", w->offset);
      }
      ranges.push_back({w->offset, w->end - w->offset});
      in_range.push_back({w});
    }

    std::vector<std::string> buffers(ranges.size());
    auto complete = [&](size_t ri) {
      const registry::ByteRange& r = ranges[ri];
      const std::string& buf = buffers[ri];
      for (const Wanted* w : in_range[ri]) {
        const TocFile& first = files[w->files[0]];
        std::string_view frames(buf.data() + (w->offset - r.offset), w->end - w->offset);
        std::string content = with_context(layer::quote(first.entry.path), [&] {
          return chunked::zstd_decompress(bytes_of(frames), first.entry.size, "the file's frames");
        });
        if (content.size() != first.entry.size)
          fail("{}: {} bytes once decompressed, the table of contents says {}", layer::quote(first.entry.path),
               content.size(), first.entry.size);
        for (size_t fi : w->files) {
          auto b = bytes_of(content);
          builder.write(slot_of[fi], files[fi].entry, std::vector<std::byte>(b.begin(), b.end()), files[fi].sha256_hex);
          res.files_fetched++;
        }
      }
      buffers[ri] = std::string();
    };
    if (!ranges.empty()) {
      registry::Client::RangeStats st = src.fetch_ranges(d, ranges, [&](size_t ri, uint64_t off, std::string_view data) {
        if (builder.failed()) fail("stopping: a writer failed");
        std::string& buf = buffers[ri];
        if (off != buf.size()) fail("range {} of the blob: bytes out of order", ri);
        if (buf.empty()) buf.reserve(ranges[ri].length);
        buf.append(data);
        if (buf.size() > ranges[ri].length) fail("range {} of the blob: more bytes than asked for", ri);
        if (buf.size() == ranges[ri].length) complete(ri);
      }, bar);
      res.bytes_fetched = st.bytes_received;
      res.requests = st.requests;
      for (size_t ri = 0; ri < ranges.size(); ri++)
        if (!buffers[ri].empty() || ranges[ri].length == 0) fail("range {} of the blob is incomplete", ri);
    }
    builder.finish_files();

    if (layer.tar_split) {
      with_context("rebuilding the tar stream from the tar-split", [&] {
        Hasher h;
        size_t next = 0;  // the next regular file with content in `files`
        GRef<GInputStream> in;
        chunked::rebuild_tar(
            *layer.tar_split,
            [&](const chunked::TarSplitEntry& t) -> chunked::ContentReader {
              while (next < files.size() &&
                     (files[next].entry.type != layer::EntryType::kRegular || files[next].entry.size == 0))
                next++;
              if (next >= files.size())
                fail("{} has content that the table of contents does not list", layer::quote(t.name));
              const TocFile& f = files[next];
              if (layer::normalize_path(t.name) != f.entry.path || t.size != f.entry.size)
                fail("the tar-split names {} ({} bytes) where the table of contents has {} ({} bytes)",
                     layer::quote(t.name), t.size, layer::quote(f.entry.path), f.entry.size);
              std::string csum = builder.checksum(slot_of[next++]);
              GErr err;
              in = GRef<GInputStream>();
              if (!ostree_repo_load_file(repo, csum.c_str(), in.out(), nullptr, nullptr, nullptr, err.out()))
                err.raise(fmt::format("loading object {}", csum));
              return [&in, csum](void* buf, size_t n) -> size_t {
                GErr e;
                gssize got = g_input_stream_read(in.get(), buf, n, nullptr, e.out());
                if (got < 0) e.raise(fmt::format("reading object {}", csum));
                return static_cast<size_t>(got);
              };
            },
            [&](std::string_view piece) { h.update(piece); });
        std::string got = "sha256:" + h.hex_final();
        if (got != diff_id.str())
          fail("the rebuilt tar stream is {}, but the image config says {}: refused", got, diff_id.str());
      });
      res.diff_id_checked = true;
    }
    res.layer.commit = builder.commit(d, diff_id.str());
    res.layer.diff_id = diff_id.str();
    for (auto& f : files) {
      res.layer.entries++;
      res.layer.content_bytes += f.entry.size;
    }
    return res;
  });
}

}  // namespace hull::store
