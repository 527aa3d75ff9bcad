#include "store/layer_builder.h"

#include <sys/stat.h>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "store/import.h"
#include "store/ostree.h"
#include "util/error.h"
#include "util/hash.h"

namespace hull::store {
namespace {

// Bytes of small files waiting for the pool at most.
constexpr uint64_t kInFlightMax = 48u << 20;

using Xattrs = std::vector<std::pair<std::string, std::string>>;

struct Slot {
  std::string checksum;
  std::string sha256;
};

// One small file to write.
struct Job {
  Slot* out;  // a stable deque element
  uint32_t uid, gid, mode;
  Xattrs xattrs;
  std::vector<std::byte> data;
  std::string want_sha256;
  std::string path;
};

// A bounded queue of Jobs and the threads that hash and write them.
// Results land through Job::out; the first error stops everything and is
// rethrown by finish().
class WriterPool {
 public:
  WriterPool(OstreeRepo* repo, int threads, ContentIndex* index) : repo_(repo), index_(index) {
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
        Hasher h;
        h.update(job.data.data(), job.data.size());
        std::string sha = h.hex_final();
        if (!job.want_sha256.empty() && sha != job.want_sha256)
          fail("\"{}\": content is sha256:{}, the table of contents says sha256:{}", job.path, sha.substr(0, 12),
               job.want_sha256.substr(0, 12));
        GVar xv(xattrs_variant(job.xattrs));
        GErr err;
        GStr csum(ostree_repo_write_regfile_inline(repo_, nullptr, job.uid, job.gid, S_IFREG | job.mode, xv.get(),
                                                   reinterpret_cast<const guint8*>(job.data.data()), job.data.size(),
                                                   nullptr, err.out()));
        if (!csum.get()) err.raise(fmt::format("\"{}\": writing content", job.path));
        job.out->checksum = csum.str();
        job.out->sha256 = sha;
        if (index_) index_->add(sha, job.out->checksum);
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
  ContentIndex* index_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<Job> jobs_;
  uint64_t in_flight_ = 0;
  bool closing_ = false;
  std::exception_ptr error_;
};

// What the layer does to the tree, in layer order; applied to a mutable
// tree once every checksum is known.
struct Op {
  enum Kind { kFile, kDir, kHardlink, kMarker } kind;
  std::string path;
  size_t slot = 0;       // kFile
  std::string dirmeta;   // kDir
  std::string target;    // kHardlink
};

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

std::string whiteout_marker(const std::string& path, bool opaque) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (opaque) return path.empty() ? ".wh..wh..opq" : path + "/.wh..wh..opq";
  return dir + ".wh." + base;
}

}  // namespace

struct LayerBuilder::Impl {
  Impl(OstreeRepo* r, int threads, ContentIndex* idx)
      : repo(r), index(idx), dirmeta(r), pool(std::make_unique<WriterPool>(r, threads, idx)) {
    implicit_meta = dirmeta.get(0, 0, 0755, {{kImplicitDirXattr, ""}});
  }

  // Builds the layer's tree from `ops`; directories without an op of their
  // own get `implicit_meta`.
  GRef<OstreeMutableTree> apply_ops() {
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
        if (it == file_csum.end())
          fail("{}: hardlink target {} is not a file of this layer", layer::quote(op.path), layer::quote(op.target));
        csum = it->second;
      } else if (op.kind == Op::kMarker) {
        csum = marker;
      } else {
        csum = slots[op.slot].checksum;
      }
      if (existing_dir) ostree_mutable_tree_remove(parent.get(), name, TRUE, nullptr);
      if (!ostree_mutable_tree_replace_file(parent.get(), name, csum.c_str(), err.out()))
        err.raise(fmt::format("\"{}\"", op.path));
      file_csum[op.path] = csum;
    }
    return root;
  }

  const std::string& marker_checksum() {
    if (marker.empty()) {
      GErr err;
      GStr m(ostree_repo_write_regfile_inline(repo, nullptr, 0, 0, S_IFREG | 0644, nullptr, nullptr, 0, nullptr,
                                              err.out()));
      if (!m.get()) err.raise("writing a whiteout marker");
      marker = m.str();
    }
    return marker;
  }

  OstreeRepo* repo;
  ContentIndex* index;
  DirmetaCache dirmeta;
  std::string implicit_meta;
  std::string marker;
  std::deque<Slot> slots;  // a deque: the pool writes into elements while add_file() appends
  std::vector<Op> ops;
  std::unique_ptr<WriterPool> pool;
  bool finished = false;
};

LayerBuilder::LayerBuilder(OstreeRepo* repo, int threads, ContentIndex* index)
    : impl_(std::make_unique<Impl>(repo, std::max(1, threads), index)) {}

LayerBuilder::~LayerBuilder() = default;

void LayerBuilder::add(const layer::Entry& e) {
  Impl& m = *impl_;
  GErr err;
  switch (e.type) {
    case layer::EntryType::kDirectory:
      m.ops.push_back({Op::kDir, e.path, 0, m.dirmeta.get(e.uid, e.gid, e.mode, e.xattrs), {}});
      break;
    case layer::EntryType::kSymlink: {
      GVar xv(xattrs_variant(e.xattrs));
      GStr csum(ostree_repo_write_symlink(m.repo, nullptr, e.uid, e.gid, xv.get(), e.link_target.c_str(), nullptr,
                                          err.out()));
      if (!csum.get()) err.raise(fmt::format("\"{}\"", e.path));
      size_t slot = m.slots.size();
      m.slots.push_back({csum.str(), {}});
      m.ops.push_back({Op::kFile, e.path, slot, {}, {}});
      break;
    }
    case layer::EntryType::kHardlink: m.ops.push_back({Op::kHardlink, e.path, 0, {}, e.link_target}); break;
    case layer::EntryType::kWhiteout:
    case layer::EntryType::kOpaque:
      m.marker_checksum();
      m.ops.push_back({Op::kMarker, whiteout_marker(e.path, e.type == layer::EntryType::kOpaque), 0, {}, {}});
      break;
    case layer::EntryType::kRegular: fail("\"{}\": a regular file needs add_file()", e.path);
  }
}

size_t LayerBuilder::add_file(const layer::Entry& e) {
  size_t slot = impl_->slots.size();
  impl_->slots.emplace_back();
  impl_->ops.push_back({Op::kFile, e.path, slot, {}, {}});
  return slot;
}

void LayerBuilder::write(size_t slot, const layer::Entry& e, std::vector<std::byte> data, std::string want_sha256) {
  impl_->pool->submit(Job{&impl_->slots[slot], e.uid, e.gid, e.mode, e.xattrs, std::move(data), std::move(want_sha256),
                          e.path});
}

std::string LayerBuilder::stream(size_t slot, const layer::Entry& e,
                                 const std::function<std::span<const std::byte>()>& next) {
  return with_context(fmt::format("\"{}\"", e.path), [&] {
    GVar xv(xattrs_variant(e.xattrs));
    GErr err;
    GRef<OstreeContentWriter> w(ostree_repo_write_regfile(impl_->repo, nullptr, e.uid, e.gid, S_IFREG | e.mode, e.size,
                                                          xv.get(), err.out()));
    if (!w) err.raise("writing content");
    Hasher h;
    for (;;) {
      auto piece = next();
      if (piece.empty()) break;
      h.update(piece.data(), piece.size());
      gsize written = 0;
      if (!g_output_stream_write_all(G_OUTPUT_STREAM(w.get()), piece.data(), piece.size(), &written, nullptr,
                                     err.out()))
        err.raise("writing content");
    }
    GStr csum(ostree_content_writer_finish(w.get(), nullptr, err.out()));
    if (!csum.get()) err.raise("writing content");
    Slot& s = impl_->slots[slot];
    s.checksum = csum.str();
    s.sha256 = h.hex_final();
    if (impl_->index) impl_->index->add(s.sha256, s.checksum);
    return s.sha256;
  });
}

void LayerBuilder::set_object(size_t slot, const std::string& checksum, const std::string& sha256_hex) {
  impl_->slots[slot] = {checksum, sha256_hex};
}

void LayerBuilder::finish_files() {
  if (impl_->finished) return;
  impl_->finished = true;
  impl_->pool->finish();
}

bool LayerBuilder::failed() const { return impl_->pool->failed(); }

const std::string& LayerBuilder::checksum(size_t slot) const { return impl_->slots[slot].checksum; }
const std::string& LayerBuilder::sha256(size_t slot) const { return impl_->slots[slot].sha256; }

std::string LayerBuilder::commit(const oci::Descriptor& d, const std::string& diff_id) {
  finish_files();
  GRef<OstreeMutableTree> root = impl_->apply_ops();
  GRef<GFile> root_file;
  GErr err;
  if (!ostree_repo_write_mtree(impl_->repo, root.get(), root_file.out(), nullptr, err.out())) err.raise("writing the tree");
  GVariantBuilder mb;
  g_variant_builder_init(&mb, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&mb, "{sv}", "hull.layer-digest", g_variant_new_string(d.digest.str().c_str()));
  g_variant_builder_add(&mb, "{sv}", "hull.diff-id", g_variant_new_string(diff_id.c_str()));
  GVar meta(g_variant_builder_end(&mb));
  GStr commit;
  std::string subject = "layer " + d.digest.str();
  // A fixed timestamp: the same layer always gives the same commit.
  if (!ostree_repo_write_commit_with_time(impl_->repo, nullptr, subject.c_str(), nullptr, meta.get(),
                                          OSTREE_REPO_FILE(root_file.get()), 0, commit.out(), nullptr, err.out()))
    err.raise("writing the layer commit");
  return commit.str();
}

}  // namespace hull::store
