#include "store/import.h"

#include <thread>

#include "layer/reader.h"
#include "store/layer_builder.h"
#include "store/toc_entries.h"
#include "util/error.h"

namespace hull::store {
namespace {

// Files up to this size are read into memory and written by the pool;
// larger ones are streamed by the reading thread.
constexpr uint64_t kInlineMax = 4u << 20;

}  // namespace

std::string layer_ref(const oci::Digest& blob) { return "hull/blob/" + blob.algorithm() + "_" + blob.encoded(); }

layer::Options import_layer_options(const oci::Descriptor& d) {
  layer::Options lo;
  lo.compression = oci::layer_compression(d.media_type);
  lo.drop_top_level = {"dev", "proc", "sys", "run", "tmp"};
  return lo;
}

ImportedLayer import_layer(OstreeRepo* repo, int fd, const oci::Descriptor& d, const ImportOptions& opts) {
  return with_context(fmt::format("importing layer {}", d.digest.short_str()), [&] {
    int threads = opts.jobs > 0 ? opts.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    LayerBuilder builder(repo, threads, opts.index);
    std::optional<TocMatcher> toc;
    if (opts.toc) toc.emplace(*opts.toc);
    std::vector<std::pair<size_t, size_t>> toc_slots;  // (TOC entry, slot) of regular files

    layer::Options lo = import_layer_options(d);
    layer::Summary summary = layer::read_layer(fd, lo, [&](const layer::Entry& e, layer::Content& content) {
      if (builder.failed()) fail("stopping: a writer failed");
      if (toc) toc->next(e);
      if (e.type != layer::EntryType::kRegular) {
        builder.add(e);
        return;
      }
      size_t slot = builder.add_file(e);
      if (toc) toc_slots.emplace_back(toc->seen() - 1, slot);
      if (e.size <= kInlineMax) {
        std::vector<std::byte> data(e.size);
        size_t got = 0;
        while (got < e.size) {
          size_t n = content.read(data.data() + got, e.size - got);
          if (n == 0) fail("{}: short read", layer::quote(e.path));
          got += n;
        }
        builder.write(slot, e, std::move(data));
      } else {
        builder.stream(slot, e, [&] { return content.next(); });
      }
    });
    builder.finish_files();
    if (toc) {
      toc->finish();
      for (auto [entry, slot] : toc_slots) toc->content(entry, builder.sha256(slot));
    }
    if (opts.diff_id && summary.diff_id != opts.diff_id->str())
      fail("uncompressed content is {}, but the image config says {}", summary.diff_id, opts.diff_id->str());
    std::string commit = builder.commit(d, summary.diff_id);
    return ImportedLayer{commit, summary.diff_id, summary.entries, summary.content_bytes};
  });
}

}  // namespace hull::store
