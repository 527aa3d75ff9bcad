#include "store/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "store/content_index.h"
#include "chunked/toc.h"
#include "store/import.h"
#include "store/partial.h"
#include "store/merge.h"
#include "store/ostree.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::store {
namespace {

// Layers below this size are never pulled file by file.
constexpr uint64_t kMinPartialBlob = 256u << 10;

uint64_t parse_created(const std::string& created) {
  if (created.empty()) return 0;
  GDateTime* dt = g_date_time_new_from_iso8601(created.c_str(), nullptr);
  if (!dt) return 0;
  uint64_t t = static_cast<uint64_t>(std::max<gint64>(0, g_date_time_to_unix(dt)));
  g_date_time_unref(dt);
  return t;
}

bool has_bootable_label(const oci::ImageConfig& cfg) {
  auto is_true = [&](const char* k) {
    auto it = cfg.labels.find(k);
    return it != cfg.labels.end() && (it->second == "1" || it->second == "true");
  };
  return is_true("containers.bootc") || is_true("ostree.bootable");
}

// Verifies the file `path` against `d` (size and digest) without copying it.
void verify_local_blob(const std::string& path, const oci::Descriptor& d, ProgressBar* bar) {
  UniqueFd fd = open_file(path, O_RDONLY);
  posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  oci::DigestVerifier v(d.digest);
  std::vector<char> buf(1u << 20);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(fmt::format("reading {}", path));
    if (n == 0) break;
    v.update(buf.data(), static_cast<size_t>(n));
    if (bar) bar->add(static_cast<uint64_t>(n));
  }
  if (static_cast<int64_t>(v.size()) != d.size)
    fail("{}: size mismatch: expected {} bytes, got {}", path, d.size, v.size());
  v.verify();
}

// Fetches blobs on `jobs` threads into files of `dir`; wait(i) returns
// when blob i is there (or rethrows its error). A blob the source holds as
// a local file (an oci: layout) is verified in place instead of copied;
// release(i) removes fetched copies only.
class Fetcher {
 public:
  Fetcher(image::Source& src, const std::vector<oci::Descriptor>& blobs, const std::string& dir, int jobs,
          Progress& progress)
      : blobs_(blobs), done_(blobs.size(), false), local_(blobs.size(), false) {
    for (auto& b : blobs) paths_.push_back(dir + "/" + b.digest.encoded());
    int n = std::max(1, std::min<int>(jobs, static_cast<int>(blobs.size())));
    for (int t = 0; t < n; t++)
      threads_.emplace_back([&, this] {
        for (;;) {
          size_t i;
          {
            std::lock_guard lk(mu_);
            if (next_ >= blobs_.size() || error_) return;
            i = next_++;
          }
          try {
            const oci::Descriptor& d = blobs_[i];
            ProgressBar* bar = progress.bar(d.digest.short_str(), static_cast<uint64_t>(d.size));
            std::string path = paths_[i];
            bool local = false;
            if (auto lp = src.local_blob(d)) {
              path = *lp;
              local = true;
              with_context(fmt::format("layer {}", d.digest.short_str()), [&] { verify_local_blob(path, d, bar); });
            } else {
              UniqueFd fd = open_file(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
              with_context(fmt::format("layer {}", d.digest.short_str()), [&] { src.fetch_blob(d, fd.get(), bar); });
              fd.close(path);
            }
            bar->finish("fetched");
            std::lock_guard lk(mu_);
            paths_[i] = path;
            local_[i] = local;
            done_[i] = true;
            cv_.notify_all();
          } catch (...) {
            std::lock_guard lk(mu_);
            if (!error_) error_ = std::current_exception();
            cv_.notify_all();
            return;
          }
        }
      });
  }
  ~Fetcher() {
    {
      std::lock_guard lk(mu_);
      next_ = blobs_.size();
    }
    for (auto& t : threads_) t.join();
  }
  const std::string& wait(size_t i) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return done_[i] || error_; });
    if (!done_[i]) std::rethrow_exception(error_);
    return paths_[i];
  }
  // Removes blob i's file if it is a fetched copy.
  void release(size_t i) {
    std::lock_guard lk(mu_);
    if (done_[i] && !local_[i]) ::unlink(paths_[i].c_str());
  }

 private:
  const std::vector<oci::Descriptor>& blobs_;
  std::vector<std::string> paths_;
  std::vector<bool> done_;
  std::vector<bool> local_;  // paths_[i] is the source's own file
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t next_ = 0;
  std::exception_ptr error_;
};

GVariant* image_metadata(const ImageRecord& r) {
  GVariantBuilder b;
  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  auto add = [&](const char* k, const std::string& v) { g_variant_builder_add(&b, "{sv}", k, g_variant_new_string(v.c_str())); };
  if (!r.version.empty()) add("version", r.version);
  add("hull.imgref", r.imgref);
  add("hull.manifest-digest", r.manifest_digest.str());
  add("hull.manifest", r.manifest);
  add("hull.config", r.config);
  g_variant_builder_add(&b, "{sv}", "ostree.bootable", g_variant_new_boolean(TRUE));
  return g_variant_builder_end(&b);
}

// libostree names boot entries from os-release: /usr/lib/os-release, or
// /etc/os-release (now /usr/etc/os-release), must be there.
void check_os_release(GFile* root, const std::string& what) {
  for (const char* p : {"usr/lib/os-release", "usr/etc/os-release"}) {
    GRef<GFile> f(g_file_resolve_relative_path(root, p));
    if (g_file_query_exists(f.get(), nullptr)) return;
  }
  fail("{} is not a bootable image: no /usr/lib/os-release or /etc/os-release", what);
}

// Refuses, saying exactly what is missing, a merged tree `root` without a
// kernel at /usr/lib/modules/KVER/vmlinuz with its initramfs.img beside it,
// or without os-release. (The label is checked before anything is fetched.)
void check_boot_files(GFile* root, const std::string& what) {
  GRef<GFile> modules(g_file_resolve_relative_path(root, "usr/lib/modules"));
  GRef<GFileEnumerator> en(g_file_enumerate_children(modules.get(), "standard::name,standard::type",
                                                     G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, nullptr, nullptr));
  std::vector<std::string> kernels_without_initramfs;
  if (en) {
    for (;;) {
      GFileInfo* info = g_file_enumerator_next_file(en.get(), nullptr, nullptr);
      if (!info) break;
      GRef<GFileInfo> owned(info);
      if (g_file_info_get_file_type(info) != G_FILE_TYPE_DIRECTORY) continue;
      std::string kver = g_file_info_get_name(info);
      GRef<GFile> dir(g_file_get_child(modules.get(), kver.c_str()));
      GRef<GFile> vmlinuz(g_file_get_child(dir.get(), "vmlinuz"));
      GRef<GFile> initramfs(g_file_get_child(dir.get(), "initramfs.img"));
      if (!g_file_query_exists(vmlinuz.get(), nullptr)) continue;
      if (g_file_query_exists(initramfs.get(), nullptr)) {
        check_os_release(root, what);
        return;
      }
      kernels_without_initramfs.push_back(kver);
    }
  }
  if (!kernels_without_initramfs.empty())
    fail("{} is not a bootable image: /usr/lib/modules/{}/vmlinuz has no initramfs.img beside it", what,
         kernels_without_initramfs[0]);
  fail("{} is not a bootable image: no kernel at /usr/lib/modules/KVER/vmlinuz", what);
}

}  // namespace

std::string image_ref(const image::ImageName& name) { return "hull/image/" + escape_ref_part(name.str()); }

Preview preview_image(OstreeRepo* repo, image::Source& src, const std::optional<oci::Platform>& platform,
                      const PreviewOptions& popts) {
  Preview p;
  image::Doc top = src.top();
  p.manifest = image::resolve_manifest(src, top, platform);
  if (popts.check) popts.check(p.manifest);
  oci::Manifest m = oci::Manifest::parse(p.manifest.bytes, p.manifest.media_type);
  p.config = src.blob_bytes(m.config, oci::kMaxConfigSize);
  std::set<oci::Digest> listed;
  for (auto& l : m.layers) {
    p.image_bytes += static_cast<uint64_t>(l.size);
    if (!listed.insert(l.digest).second) continue;  // listed twice: fetched once
    if (resolve_ref(repo, layer_ref(l.digest))) continue;
    p.missing_layers.push_back(l);
    p.missing_bytes += static_cast<uint64_t>(l.size);
  }
  for (auto& l : p.missing_layers) {
    LayerFetch f{l, false, static_cast<uint64_t>(l.size), 0, 0, nullptr};
    std::optional<chunked::LayerInfo> info = with_context(fmt::format("layer {}", l.digest.short_str()),
                                                          [&] { return chunked::layer_info(l); });
    // Small blobs are fetched whole: one request, where a partial pull needs
    // two or more for a few kilobytes.
    if (info && popts.partial && src.can_fetch_ranges() && static_cast<uint64_t>(l.size) >= kMinPartialBlob) {
      if (!p.index) p.index = std::make_shared<ContentIndex>(repo);
      auto cl = std::make_shared<ChunkedLayer>(read_chunked_layer(src, l, *info));
      PartialPlan plan = plan_partial(*cl, l, *p.index);
      f.files = plan.files;
      f.files_missing = plan.files_missing;
      f.chunked = cl;
      if (!plan.whole_blob) {
        f.partial = true;
        f.fetch_bytes = cl->metadata_bytes + plan.fetch_bytes;
      }
    }
    p.fetch_bytes += f.fetch_bytes;
    p.fetches.push_back(std::move(f));
  }
  return p;
}

std::string describe_fetch(const Preview& p) {
  uint64_t missing = 0;
  bool partial = false;
  for (auto& f : p.fetches) {
    partial = partial || f.partial;
    if (f.partial) missing += f.files_missing;
  }
  if (!partial)
    return fmt::format("{} layers, {} of {}", p.missing_layers.size(), human_bytes(p.fetch_bytes),
                       human_bytes(p.image_bytes));
  return fmt::format("{} files, {} of {} ({} of {} layers file by file)", missing, human_bytes(p.fetch_bytes),
                     human_bytes(p.image_bytes),
                     std::count_if(p.fetches.begin(), p.fetches.end(), [](auto& f) { return f.partial; }),
                     p.missing_layers.size());
}

std::string describe_pull(const PullResult& r) {
  std::string s = fmt::format("Fetched {} layers ({} of {}", r.layers_fetched, human_bytes(r.bytes_fetched),
                              human_bytes(r.image_bytes));
  if (r.layers_partial > 0)
    s += fmt::format("; {} file by file: {} files fetched, {} found locally", r.layers_partial, r.files_fetched,
                     r.files_local);
  return s + fmt::format("), reused {}", r.layers_reused);
}

PullResult pull_image(OstreeRepo* repo, image::Source& src, const image::ImageName& name, const PullOptions& opts,
                      Progress& progress) {
  return with_context(fmt::format("pulling {}", name.str()), [&] {
    PullResult res;
    // Trust first: the signature policy against the resolved manifest digest, before the config or any layer.
    auto verify = [&](const image::Doc& d) { if (opts.trust) res.verdict = signature::verify_image(*opts.trust, name, d); };
    Preview pv = preview_image(repo, src, opts.platform, PreviewOptions{opts.partial, verify});
    oci::Manifest m = oci::Manifest::parse(pv.manifest.bytes, pv.manifest.media_type);
    oci::ImageConfig cfg = oci::ImageConfig::parse(pv.config);
    if (!has_bootable_label(cfg))
      fail("not a bootable image: the label containers.bootc=1 (or ostree.bootable=1) is missing");
    if (cfg.diff_ids.size() != m.layers.size())
      fail("the config lists {} layers (rootfs.diff_ids), the manifest {}", cfg.diff_ids.size(), m.layers.size());
    res.image_bytes = pv.image_bytes;

    ImageRecord rec;
    rec.imgref = name.str();
    rec.manifest_digest = pv.manifest.digest;
    rec.manifest = pv.manifest.bytes;
    rec.config = pv.config;
    rec.created = cfg.created;
    rec.architecture = cfg.architecture;
    auto v = cfg.labels.find("org.opencontainers.image.version");
    if (v != cfg.labels.end()) rec.version = v->second;
    rec.timestamp = parse_created(cfg.created);

    // The same image already stored: nothing to do.
    std::string ref = image_ref(name);
    if (auto cur = resolve_ref(repo, ref)) {
      ImageRecord have = read_image(repo, *cur);
      if (have.manifest_digest == rec.manifest_digest) {
        res.image = have;
        res.layers_reused = static_cast<int>(m.layers.size());
        return res;
      }
    }

    std::string tmp_parent = opts.tmp_dir.empty() ? "/var/tmp" : opts.tmp_dir;
    TempDir tmp("hull-pull", tmp_parent);
    // The index the preview planned with, so that it is read once per pull.
    if (!pv.index) pv.index = std::make_shared<ContentIndex>(repo);
    ContentIndex& index = *pv.index;
    Transaction txn(repo);
    std::vector<std::string> layer_commits(m.layers.size());
    // Whole blobs are fetched in parallel while layers are imported in order.
    std::vector<oci::Descriptor> whole;
    std::vector<size_t> whole_of(pv.fetches.size(), SIZE_MAX);
    for (size_t k = 0; k < pv.fetches.size(); k++)
      if (!pv.fetches[k].partial) {
        whole_of[k] = whole.size();
        whole.push_back(pv.fetches[k].layer);
      }
    {
      Fetcher fetcher(src, whole, tmp.path(), opts.jobs, progress);
      size_t next_missing = 0;
      for (size_t i = 0; i < m.layers.size(); i++) {
        const oci::Descriptor& l = m.layers[i];
        std::string lref = layer_ref(l.digest);
        if (next_missing < pv.fetches.size() && pv.fetches[next_missing].layer.digest == l.digest) {
          const LayerFetch& f = pv.fetches[next_missing++];
          ImportedLayer imp;
          if (f.partial) {
            ProgressBar* bar = progress.bar(l.digest.short_str(), f.fetch_bytes);
            PartialResult pr = import_partial(repo, src, l, cfg.diff_ids[i], *f.chunked, index, bar);
            bar->finish(fmt::format("{} files fetched", pr.files_fetched));
            imp = pr.layer;
            res.layers_partial++;
            res.files_fetched += pr.files_fetched;
            res.files_local += pr.files_reused + pr.files_copied;
            res.bytes_fetched += f.chunked->metadata_bytes + pr.bytes_fetched;
            res.checks.push_back(fmt::format("layer {}: {}", l.digest.short_str(),
                                             pr.diff_id_checked ? "diff_id of the tar stream rebuilt from its tar-split"
                                                                : "table of contents (no tar-split)"));
          } else {
            size_t k = whole_of[next_missing - 1];
            std::string path = fetcher.wait(k);
            UniqueFd fd = open_file(path, O_RDONLY);
            ImportOptions io;
            io.diff_id = cfg.diff_ids[i];
            io.index = &index;
            // A zstd:chunked layer fetched whole is checked against its table of contents.
            std::shared_ptr<const ChunkedLayer> cl = f.chunked;
            if (!cl)
              if (auto info = chunked::layer_info(l)) cl = std::make_shared<ChunkedLayer>(read_chunked_layer(src, l, *info, path));
            if (cl) {
              io.toc = &cl->files;
              res.checks.push_back(fmt::format("layer {}: whole, every entry checked against its table of contents",
                                               l.digest.short_str()));
            }
            imp = import_layer(repo, fd.get(), l, io);
            fetcher.release(k);
            res.bytes_fetched += static_cast<uint64_t>(l.size);
          }
          layer_commits[i] = imp.commit;
          txn.set_ref(lref, imp.commit);
          res.layers_fetched++;
        } else if (auto c = resolve_ref(repo, lref)) {
          layer_commits[i] = *c;
          res.layers_reused++;
        } else {
          // Listed twice in the manifest and imported just above.
          for (size_t j = 0; j < i; j++)
            if (m.layers[j].digest == l.digest) layer_commits[i] = layer_commits[j];
          res.layers_reused++;
        }
      }
    }

    GRef<GFile> root = merge_layers(repo, layer_commits);
    GVar meta(image_metadata(rec));
    GStr commit;
    GErr err;
    std::string subject = name.str();
    if (!ostree_repo_write_commit_with_time(repo, nullptr, subject.c_str(), nullptr, meta.get(),
                                            OSTREE_REPO_FILE(root.get()), rec.timestamp, commit.out(), nullptr,
                                            err.out()))
      err.raise("writing the image commit");
    rec.commit = commit.str();
    check_boot_files(root.get(), name.str());
    txn.set_ref(ref, rec.commit);
    txn.commit();
    index.save();
    res.image = rec;
    return res;
  });
}

std::optional<ImageRecord> find_image(OstreeRepo* repo, const std::string& commit) {
  GVar v;
  GErr err;
  if (!ostree_repo_load_variant(repo, OSTREE_OBJECT_TYPE_COMMIT, commit.c_str(), v.out(), err.out()))
    err.raise(fmt::format("loading commit {}", commit));
  GVar meta(g_variant_get_child_value(v.get(), 0));
  std::string digest = metadata_string(meta.get(), "hull.manifest-digest");
  if (digest.empty()) return std::nullopt;
  ImageRecord r;
  r.commit = commit;
  r.imgref = metadata_string(meta.get(), "hull.imgref");
  r.manifest_digest = oci::Digest::parse(digest);
  r.manifest = metadata_string(meta.get(), "hull.manifest");
  r.config = metadata_string(meta.get(), "hull.config");
  r.version = metadata_string(meta.get(), "version");
  oci::ImageConfig cfg = oci::ImageConfig::parse(r.config);
  r.created = cfg.created;
  r.architecture = cfg.architecture;
  r.timestamp = ostree_commit_get_timestamp(v.get());
  return r;
}

ImageRecord read_image(OstreeRepo* repo, const std::string& commit) {
  std::optional<ImageRecord> r = find_image(repo, commit);
  if (!r) fail("commit {} is not an image imported by hull", commit.substr(0, 12));
  return *r;
}

PruneResult prune(OstreeRepo* repo, const std::set<std::string>& keep_commits) {
  PruneResult res;
  GHashTable* refs = nullptr;
  GErr err;
  if (!ostree_repo_list_refs_ext(repo, "hull", &refs, OSTREE_REPO_LIST_REFS_EXT_NONE, nullptr, err.out()))
    err.raise("listing refs");
  std::set<std::string> keep_layers;
  std::vector<std::string> drop;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, refs);
  while (g_hash_table_iter_next(&it, &k, &v)) {
    std::string ref = static_cast<const char*>(k), commit = static_cast<const char*>(v);
    if (!ref.starts_with("hull/image/")) continue;
    if (!keep_commits.count(commit)) {
      drop.push_back(ref);
      continue;
    }
    ImageRecord r = read_image(repo, commit);
    for (auto& l : oci::Manifest::parse(r.manifest).layers) keep_layers.insert(layer_ref(l.digest));
  }
  g_hash_table_iter_init(&it, refs);
  while (g_hash_table_iter_next(&it, &k, &v)) {
    std::string ref = static_cast<const char*>(k);
    if (ref.starts_with("hull/blob/") && !keep_layers.count(ref)) drop.push_back(ref);
  }
  g_hash_table_unref(refs);
  for (auto& ref : drop) {
    if (!ostree_repo_set_ref_immediate(repo, nullptr, ref.c_str(), nullptr, nullptr, err.out()))
      err.raise(fmt::format("deleting ref {}", ref));
    res.refs_removed++;
  }
  gint total = 0, pruned = 0;
  guint64 freed = 0;
  if (!ostree_repo_prune(repo, OSTREE_REPO_PRUNE_FLAGS_REFS_ONLY, 0, &total, &pruned, &freed, nullptr, err.out()))
    err.raise("pruning the repository");
  res.objects_removed = pruned;
  res.bytes_freed = freed;
  if (pruned > 0) ContentIndex(repo).drop_missing();
  return res;
}

}  // namespace hull::store
