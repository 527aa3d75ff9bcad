#include "store/import.h"

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "layer/path.h"
#include "layer/reader.h"
#include "store/ostree.h"
#include "util/error.h"

namespace hull::store {
namespace {

// Files up to this size are read into memory and written by the pool;
// larger ones are streamed by the reading thread.
constexpr uint64_t kInlineMax = 4u << 20;
// Bytes of small files waiting for the pool at most.
constexpr uint64_t kInFlightMax = 48u << 20;

using Xattrs = std::vector<std::pair<std::string, std::string>>;

// One small file to write.
struct Job {
  std::string* out;  // where the checksum goes (a stable deque element)
  uint32_t uid, gid, mode;
  Xattrs xattrs;
  std::vector<std::byte> data;
  std::string path;
};

// A bounded queue of Jobs and the threads that write them. Checksums land
// through Job::out; the first error stops everything and is rethrown by finish().
class WriterPool {
 public:
  WriterPool(OstreeRepo* repo, int threads) : repo_(repo) {
    for (int i = 0; i < threads; i++) threads_.emplace_back([this] { run(); });
  }
  ~WriterPool() { stop(); }

  void submit(Job job) {
    std::unique_lock lk(mu_);
    space_.wait(lk, [&] { return in_flight_ < kInFlightMax || error_; });
    if (error_) return;
    in_flight_ += job.data.size();
    jobs_.push_back(std::move(job));
    ready_.notify_one();
  }

  // Waits for every job, then rethrows the first error, if any.
  void finish() {
    stop();
    if (error_) std::rethrow_exception(error_);
  }

  bool failed() {
    std::lock_guard lk(mu_);
    return error_ != nullptr;
  }

 private:
  void stop() {
    {
      std::lock_guard lk(mu_);
      closing_ = true;
      ready_.notify_all();
    }
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  void run() {
    for (;;) {
      Job job;
      {
        std::unique_lock lk(mu_);
        ready_.wait(lk, [&] { return !jobs_.empty() || closing_; });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      try {
        GVar xv(xattrs_variant(job.xattrs));
        GErr err;
        GStr csum(ostree_repo_write_regfile_inline(repo_, nullptr, job.uid, job.gid, S_IFREG | job.mode, xv.get(),
                                                   reinterpret_cast<const guint8*>(job.data.data()), job.data.size(),
                                                   nullptr, err.out()));
        if (!csum.get()) err.raise(fmt::format("\"{}\": writing content", job.path));
        *job.out = csum.str();
      } catch (...) {
        std::lock_guard lk(mu_);
        if (!error_) error_ = std::current_exception();
        space_.notify_all();
      }
      std::lock_guard lk(mu_);
      in_flight_ -= job.data.size();
      space_.notify_one();
    }
  }

  OstreeRepo* repo_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<Job> jobs_;
  uint64_t in_flight_ = 0;
  bool closing_ = false;
  std::exception_ptr error_;
};

// What the layer does to the tree, in stream order; applied to a mutable
// tree once every checksum is known.
struct Op {
  enum Kind { kFile, kDir, kHardlink } kind;
  std::string path;
  size_t slot = 0;       // kFile: index into the checksum slots
  std::string dirmeta;   // kDir
  std::string target;    // kHardlink
};

std::string write_large_file(OstreeRepo* repo, const layer::Entry& e, layer::Content& content) {
  GVar xv(xattrs_variant(e.xattrs));
  GErr err;
  GRef<OstreeContentWriter> w(
      ostree_repo_write_regfile(repo, nullptr, e.uid, e.gid, S_IFREG | e.mode, e.size, xv.get(), err.out()));
  if (!w) err.raise("writing content");
  for (;;) {
    auto piece = content.next();
    if (piece.empty()) break;
    gsize written = 0;
    if (!g_output_stream_write_all(G_OUTPUT_STREAM(w.get()), piece.data(), piece.size(), &written, nullptr,
                                   err.out()))
      err.raise("writing content");
  }
  GStr csum(ostree_content_writer_finish(w.get(), nullptr, err.out()));
  if (!csum.get()) err.raise("writing content");
  return csum.str();
}

// The dirmeta checksum for an owner/mode/xattrs, written once per distinct value.
class DirmetaCache {
 public:
  explicit DirmetaCache(OstreeRepo* repo) : repo_(repo) {}
  const std::string& get(uint32_t uid, uint32_t gid, uint32_t mode, const Xattrs& x) {
    std::string key = fmt::format("{}:{}:{:o}", uid, gid, mode);
    for (auto& [n, v] : x) key += fmt::format("|{}:{}|{}:{}", n.size(), n, v.size(), v);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    return cache_.emplace(key, write_dirmeta(repo_, uid, gid, mode, x)).first->second;
  }

 private:
  OstreeRepo* repo_;
  std::unordered_map<std::string, std::string> cache_;
};

struct SplitPath {
  GPtrArray* parts = g_ptr_array_new_with_free_func(g_free);
  explicit SplitPath(const std::string& path) {
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      g_ptr_array_add(parts, g_strndup(path.data() + start, end - start));
      start = end + 1;
    }
  }
  ~SplitPath() { g_ptr_array_unref(parts); }
  const char* last() const { return static_cast<const char*>(parts->pdata[parts->len - 1]); }
};

// Builds the layer's tree from `ops` and writes it; returns the root.
// Directories without an op of their own get `implicit_meta`.
GRef<OstreeMutableTree> apply_ops(const std::vector<Op>& ops, const std::deque<std::string>& slots,
                                  const std::string& implicit_meta) {
  GRef<OstreeMutableTree> root(ostree_mutable_tree_new());
  ostree_mutable_tree_set_metadata_checksum(root.get(), implicit_meta.c_str());
  std::unordered_map<std::string, std::string> file_csum;  // for hardlinks
  GErr err;
  for (auto& op : ops) {
    if (op.path.empty()) {  // the layer root
      if (op.kind == Op::kDir) ostree_mutable_tree_set_metadata_checksum(root.get(), op.dirmeta.c_str());
      continue;
    }
    SplitPath sp(op.path);
    GRef<OstreeMutableTree> parent;
    if (!ostree_mutable_tree_ensure_parent_dirs(root.get(), sp.parts, implicit_meta.c_str(), parent.out(), err.out()))
      err.raise(fmt::format("\"{}\"", op.path));
    const char* name = sp.last();
    GStr existing_file;
    GRef<OstreeMutableTree> existing_dir;
    ostree_mutable_tree_lookup(parent.get(), name, existing_file.out(), existing_dir.out(), nullptr);
    if (op.kind == Op::kDir) {
      if (existing_file.get()) ostree_mutable_tree_remove(parent.get(), name, TRUE, nullptr);
      GRef<OstreeMutableTree> sub;
      if (!ostree_mutable_tree_ensure_dir(parent.get(), name, sub.out(), err.out()))
        err.raise(fmt::format("\"{}\"", op.path));
      ostree_mutable_tree_set_metadata_checksum(sub.get(), op.dirmeta.c_str());
      continue;
    }
    std::string csum;
    if (op.kind == Op::kHardlink) {
      auto it = file_csum.find(op.target);
      if (it == file_csum.end()) fail("{}: hardlink target {} is not a file of this layer", layer::quote(op.path),
                                           layer::quote(op.target));
      csum = it->second;
    } else {
      csum = slots[op.slot];
    }
    if (existing_dir) ostree_mutable_tree_remove(parent.get(), name, TRUE, nullptr);
    if (!ostree_mutable_tree_replace_file(parent.get(), name, csum.c_str(), err.out()))
      err.raise(fmt::format("\"{}\"", op.path));
    file_csum[op.path] = csum;
  }
  return root;
}

std::string whiteout_marker(const std::string& path, bool opaque) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (opaque) return path.empty() ? ".wh..wh..opq" : path + "/.wh..wh..opq";
  return dir + ".wh." + base;
}

}  // namespace

std::string layer_ref(const oci::Digest& blob) { return "hull/blob/" + blob.algorithm() + "_" + blob.encoded(); }

ImportedLayer import_layer(OstreeRepo* repo, int fd, const oci::Descriptor& d, const ImportOptions& opts) {
  return with_context(fmt::format("importing layer {}", d.digest.short_str()), [&] {
    int threads = opts.jobs > 0 ? opts.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    // Checksums by slot; a deque, so that the pool can write into elements
    // while the reader appends new ones.
    std::deque<std::string> slots;
    std::vector<Op> ops;
    DirmetaCache dirmeta(repo);
    const std::string implicit_meta = dirmeta.get(0, 0, 0755, {{kImplicitDirXattr, ""}});

    // The whiteout marker: an empty root-owned file.
    GErr err;
    GStr marker(ostree_repo_write_regfile_inline(repo, nullptr, 0, 0, S_IFREG | 0644, nullptr, nullptr, 0, nullptr,
                                                 err.out()));
    if (!marker.get()) err.raise("writing a whiteout marker");

    layer::Options lo;
    lo.compression = oci::layer_compression(d.media_type);
    lo.drop_top_level = {"dev", "proc", "sys", "run", "tmp"};
    layer::Summary summary;
    {
      WriterPool pool(repo, threads);
      summary = layer::read_layer(fd, lo, [&](const layer::Entry& e, layer::Content& content) {
        if (pool.failed()) fail("stopping: a writer failed");
        switch (e.type) {
          case layer::EntryType::kDirectory:
            ops.push_back({Op::kDir, e.path, 0, dirmeta.get(e.uid, e.gid, e.mode, e.xattrs), {}});
            break;
          case layer::EntryType::kRegular: {
            size_t slot = slots.size();
            slots.emplace_back();
            if (e.size <= kInlineMax) {
              Job job{&slots[slot], e.uid, e.gid, e.mode, e.xattrs, std::vector<std::byte>(e.size), e.path};
              size_t got = 0;
              while (got < e.size) {
                size_t n = content.read(job.data.data() + got, e.size - got);
                if (n == 0) fail("{}: short read", layer::quote(e.path));
                got += n;
              }
              pool.submit(std::move(job));
            } else {
              slots[slot] = with_context(fmt::format("\"{}\"", e.path), [&] { return write_large_file(repo, e, content); });
            }
            ops.push_back({Op::kFile, e.path, slot, {}, {}});
            break;
          }
          case layer::EntryType::kSymlink: {
            size_t slot = slots.size();
            GVar xv(xattrs_variant(e.xattrs));
            GStr csum(ostree_repo_write_symlink(repo, nullptr, e.uid, e.gid, xv.get(), e.link_target.c_str(), nullptr,
                                                err.out()));
            if (!csum.get()) err.raise(fmt::format("\"{}\"", e.path));
            slots.push_back(csum.str());
            ops.push_back({Op::kFile, e.path, slot, {}, {}});
            break;
          }
          case layer::EntryType::kHardlink:
            ops.push_back({Op::kHardlink, e.path, 0, {}, e.link_target});
            break;
          case layer::EntryType::kWhiteout:
          case layer::EntryType::kOpaque: {
            size_t slot = slots.size();
            slots.push_back(marker.str());
            ops.push_back({Op::kFile, whiteout_marker(e.path, e.type == layer::EntryType::kOpaque), slot, {}, {}});
            break;
          }
        }
      });
      pool.finish();
    }
    if (opts.diff_id && summary.diff_id != opts.diff_id->str())
      fail("uncompressed content is {}, but the image config says {}", summary.diff_id, opts.diff_id->str());

    GRef<OstreeMutableTree> root = apply_ops(ops, slots, implicit_meta);
    GRef<GFile> root_file;
    if (!ostree_repo_write_mtree(repo, root.get(), root_file.out(), nullptr, err.out())) err.raise("writing the tree");
    GVariantBuilder mb;
    g_variant_builder_init(&mb, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&mb, "{sv}", "hull.layer-digest", g_variant_new_string(d.digest.str().c_str()));
    g_variant_builder_add(&mb, "{sv}", "hull.diff-id", g_variant_new_string(summary.diff_id.c_str()));
    GVar meta(g_variant_builder_end(&mb));
    GStr commit;
    std::string subject = "layer " + d.digest.str();
    // A fixed timestamp: the same layer always gives the same commit.
    if (!ostree_repo_write_commit_with_time(repo, nullptr, subject.c_str(), nullptr, meta.get(),
                                            OSTREE_REPO_FILE(root_file.get()), 0, commit.out(), nullptr, err.out()))
      err.raise("writing the layer commit");
    return ImportedLayer{commit.str(), summary.diff_id, summary.entries, summary.content_bytes};
  });
}

}  // namespace hull::store
