#include "image/copy.h"

#include <atomic>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include "util/error.h"

namespace hull::image {
namespace {

// Copies `blobs` that `dst` lacks, up to `jobs` at once. The first error
// stops the others from starting new blobs and is rethrown.
void copy_blobs(Source& src, Dest& dst, const std::vector<oci::Descriptor>& blobs, int jobs, Progress& progress,
                CopyResult& result) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::exception_ptr first_error;

  auto worker = [&] {
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= blobs.size() || failed.load()) return;
      const oci::Descriptor& d = blobs[i];
      try {
        ProgressBar* bar = progress.bar(d.digest.short_str(), static_cast<uint64_t>(d.size));
        if (dst.has_blob(d)) {
          bar->finish("already present");
          std::lock_guard lk(mu);
          result.blobs_present++;
          continue;
        }
        with_context(fmt::format("blob {}", d.digest.short_str()), [&] { dst.put_blob(d, src, bar); });
        bar->finish("done");
        std::lock_guard lk(mu);
        result.blobs_copied++;
        result.bytes_copied += static_cast<uint64_t>(d.size);
      } catch (...) {
        std::lock_guard lk(mu);
        if (!first_error) first_error = std::current_exception();
        failed = true;
        return;
      }
    }
  };

  int n = std::max(1, std::min<int>(jobs, static_cast<int>(blobs.size())));
  {
    std::vector<std::jthread> threads;
    for (int i = 1; i < n; i++) threads.emplace_back(worker);
    worker();
  }
  if (first_error) std::rethrow_exception(first_error);
}

// Copies the blobs of one image manifest, then stores the manifest.
void copy_manifest(Source& src, Dest& dst, const Doc& doc, bool top, const CopyOptions& opts, Progress& progress,
                   CopyResult& result) {
  oci::Manifest m = oci::Manifest::parse(doc.bytes, doc.media_type);
  std::vector<oci::Descriptor> blobs;
  std::set<oci::Digest> seen;
  // Layers first (the big ones start early), the config last.
  for (auto& l : m.layers)
    if (seen.insert(l.digest).second) blobs.push_back(l);
  if (seen.insert(m.config.digest).second) blobs.push_back(m.config);
  copy_blobs(src, dst, blobs, opts.jobs, progress, result);
  dst.put_manifest(doc, top);
}

}  // namespace

CopyResult copy_image(Source& src, Dest& dst, const CopyOptions& opts, Progress& progress) {
  return with_context(fmt::format("copying {} to {}", src.describe(), dst.describe()), [&] {
    CopyResult result;
    Doc top = src.top();
    Doc written = top;
    if (oci::classify(top.bytes, top.media_type) == oci::DocKind::kIndex && opts.all) {
      if (opts.check) opts.check(top);
      oci::Index idx = oci::Index::parse(top.bytes, top.media_type);
      for (auto& d : idx.manifests) {
        Doc child = src.child(d);
        if (oci::classify(child.bytes, child.media_type) != oci::DocKind::kManifest)
          fail("nested index {} is not supported", d.digest.short_str());
        copy_manifest(src, dst, child, false, opts, progress, result);
      }
      dst.put_manifest(top, true);
    } else {
      written = resolve_manifest(src, top, opts.platform);
      if (opts.check) opts.check(written);
      copy_manifest(src, dst, written, true, opts, progress, result);
    }
    dst.commit();
    result.digest = written.digest;
    result.media_type = written.media_type;
    return result;
  });
}

}  // namespace hull::image
