#include "image/copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::image {
namespace {

// Runs fn(i) for i in [0, n), up to `jobs` at once. The first error stops
// the others from starting new items and is rethrown.
void run_parallel(size_t n, int jobs, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::exception_ptr first_error;

  auto worker = [&] {
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= n || failed.load()) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lk(mu);
        if (!first_error) first_error = std::current_exception();
        failed = true;
        return;
      }
    }
  };

  int threads_n = std::max(1, std::min<int>(jobs, static_cast<int>(n)));
  {
    std::vector<std::jthread> threads;
    for (int i = 1; i < threads_n; i++) threads.emplace_back(worker);
    worker();
  }
  if (first_error) std::rethrow_exception(first_error);
}

// Copies `blobs` that `dst` lacks, up to `jobs` at once.
void copy_blobs(Source& src, Dest& dst, const std::vector<oci::Descriptor>& blobs, int jobs, Progress& progress,
                CopyResult& result) {
  std::mutex mu;
  run_parallel(blobs.size(), jobs, [&](size_t i) {
    const oci::Descriptor& d = blobs[i];
    ProgressBar* bar = progress.bar(d.digest.short_str(), static_cast<uint64_t>(d.size));
    if (dst.has_blob(d)) {
      bar->finish("already present");
      std::lock_guard lk(mu);
      result.blobs_present++;
      return;
    }
    with_context(fmt::format("blob {}", d.digest.short_str()), [&] { dst.put_blob(d, src, bar); });
    bar->finish("done");
    std::lock_guard lk(mu);
    result.blobs_copied++;
    result.bytes_copied += static_cast<uint64_t>(d.size);
  });
}

// Fetches layer `l` (verified), recompresses it and stores the new blob in
// `dst`; returns its descriptor. The stream must hash to `diff_id`.
oci::Descriptor recompress_layer(Source& src, Dest& dst, const oci::Descriptor& l, const oci::Digest& diff_id,
                                 const CopyOptions& opts, Progress& progress, CopyResult& result, std::mutex& mu) {
  return with_context(fmt::format("layer {}", l.digest.short_str()), [&] {
    ProgressBar* bar = progress.bar(l.digest.short_str(), static_cast<uint64_t>(l.size));
    TempDir tmp("hull-recompress");
    std::string in_path = tmp.path() + "/in", out_path = tmp.path() + "/out";
    UniqueFd in = open_file(in_path, O_RDWR | O_CREAT | O_EXCL, 0600);
    src.fetch_blob(l, in.get(), bar);
    if (::lseek(in.get(), 0, SEEK_SET) < 0) fail_errno("seeking " + in_path);
    UniqueFd out = open_file(out_path, O_RDWR | O_CREAT | O_EXCL, 0600);
    chunked::WrittenLayer w = chunked::compress_layer(
        chunked::decompressing_reader(in.get(), oci::layer_compression(l.media_type)), out.get(),
        {.format = *opts.compress, .level = opts.level});
    if (w.diff_id != diff_id)
      fail("it decompresses to {}, but the config's diff_id is {}", w.diff_id.short_str(), diff_id.short_str());
    in = UniqueFd();
    ::unlink(in_path.c_str());
    out.close(out_path);
    bool present = dst.has_blob(w.desc);
    if (!present) dst.put_blob_file(w.desc, out_path, nullptr);
    bar->finish(fmt::format("{} -> {}", chunked::format_name(*opts.compress), w.desc.digest.short_str()));
    oci::Descriptor d = w.desc;
    // Keep the layer's own annotations, but not the zstd:chunked ones of its old blob.
    for (auto& [k, v] : l.annotations)
      if (!k.starts_with("io.github.containers.zstd-chunked.") && !k.starts_with("io.containers.zstd-chunked."))
        d.annotations.emplace(k, v);
    std::lock_guard lk(mu);
    result.layers_recompressed++;
    if (present) {
      result.blobs_present++;
    } else {
      result.blobs_copied++;
      result.bytes_copied += static_cast<uint64_t>(w.desc.size);
    }
    return d;
  });
}

// The image manifest `m` with its layers recompressed, as an OCI manifest.
void recompress_manifest(Source& src, Dest& dst, const Doc& doc, bool top, const CopyOptions& opts,
                         Progress& progress, CopyResult& result) {
  oci::Manifest m = oci::Manifest::parse(doc.bytes, doc.media_type);
  oci::ImageConfig cfg = oci::ImageConfig::parse(src.blob_bytes(m.config, oci::kMaxConfigSize));
  if (cfg.diff_ids.size() != m.layers.size())
    fail("the manifest has {} layers, its config {} diff_ids", m.layers.size(), cfg.diff_ids.size());
  // A layer listed twice is recompressed once.
  std::vector<size_t> first(m.layers.size());
  std::vector<size_t> todo;
  for (size_t i = 0; i < m.layers.size(); i++) {
    first[i] = i;
    for (size_t k = 0; k < i; k++)
      if (m.layers[k].digest == m.layers[i].digest) {
        first[i] = k;
        break;
      }
    if (first[i] == i) todo.push_back(i);
  }
  std::vector<oci::Descriptor> layers(m.layers.size());
  std::mutex mu;
  run_parallel(todo.size(), opts.jobs, [&](size_t t) {
    size_t i = todo[t];
    layers[i] = recompress_layer(src, dst, m.layers[i], cfg.diff_ids[i], opts, progress, result, mu);
  });
  for (size_t i = 0; i < layers.size(); i++) layers[i] = layers[first[i]];
  copy_blobs(src, dst, {m.config}, 1, progress, result);

  oci::Descriptor config = m.config;
  if (config.media_type == oci::media::kDockerConfig) config.media_type = oci::media::kOciConfig;
  nlohmann::ordered_json j;
  j["schemaVersion"] = 2;
  j["mediaType"] = oci::media::kOciManifest;
  j["config"] = nlohmann::ordered_json::parse(oci::descriptor_json(config));
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : layers) j["layers"].push_back(nlohmann::ordered_json::parse(oci::descriptor_json(l)));
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  Doc out;
  out.bytes = j.dump();
  out.media_type = oci::media::kOciManifest;
  out.digest = oci::Digest::of(out.bytes);
  dst.put_manifest(out, top);
  result.digest = out.digest;
  result.media_type = out.media_type;
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
    bool is_index = oci::classify(top.bytes, top.media_type) == oci::DocKind::kIndex;
    if (is_index && opts.all && opts.compress)
      fail("recompressing the layers of every image of an index (--all) is not supported");
    if (is_index && opts.all) {
      if (opts.check) opts.check(top);
      oci::Index idx = oci::Index::parse(top.bytes, top.media_type);
      for (auto& d : idx.manifests) {
        Doc child = src.child(d);
        if (oci::classify(child.bytes, child.media_type) != oci::DocKind::kManifest)
          fail("nested index {} is not supported", d.digest.short_str());
        copy_manifest(src, dst, child, false, opts, progress, result);
      }
      dst.put_manifest(top, true);
    } else if (opts.compress) {
      Doc m = resolve_manifest(src, top, opts.platform);
      recompress_manifest(src, dst, m, true, opts, progress, result);
      dst.commit();
      return result;
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
