#include "rechunk/rechunk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_map>

#include "image/layout.h"
#include "rechunk/group.h"
#include "rechunk/tar.h"
#include "store/import.h"
#include "store/merge.h"
#include "store/ostree.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/glib.h"
#include "util/hash.h"

namespace hull::rechunk {
namespace {

using Xattrs = std::vector<std::pair<std::string, std::string>>;

// One entry of the merged tree.
struct Node {
  std::string path;  // relative; "" is the root
  TarHeader::Type type = TarHeader::kFile;
  uint32_t uid = 0, gid = 0, mode = 0;
  Xattrs xattrs;
  uint64_t size = 0;
  std::string checksum;  // file objects
  std::string target;    // symlinks
  bool has_children = false;
};

std::string hex(GVariant* bytes) {
  GStr s(ostree_checksum_from_bytes_v(bytes));
  return s.str();
}

// Reads the merged tree into a flat list, parents before children.
class Walker {
 public:
  explicit Walker(OstreeRepo* repo) : repo_(repo) {}

  std::vector<Node> walk(const std::string& tree, const std::string& meta) {
    nodes_.clear();
    dir(tree, meta, "");
    return std::move(nodes_);
  }

 private:
  void dir(const std::string& tree, const std::string& meta, const std::string& path) {
    Node d;
    d.path = path;
    d.type = TarHeader::kDir;
    {
      GVar mv;
      GErr err;
      if (!ostree_repo_load_variant(repo_, OSTREE_OBJECT_TYPE_DIR_META, meta.c_str(), mv.out(), err.out()))
        err.raise(fmt::format("\"/{}\": loading directory metadata", path));
      guint32 uid, gid, mode;
      GVar xv;
      g_variant_get(mv.get(), "(uuu@a(ayay))", &uid, &gid, &mode, xv.out());
      d.uid = GUINT32_FROM_BE(uid);
      d.gid = GUINT32_FROM_BE(gid);
      d.mode = GUINT32_FROM_BE(mode) & 07777;
      d.xattrs = store::xattrs_from_variant(xv.get());
    }
    size_t self = nodes_.size();
    nodes_.push_back(std::move(d));

    GVar dt;
    GErr err;
    if (!ostree_repo_load_variant(repo_, OSTREE_OBJECT_TYPE_DIR_TREE, tree.c_str(), dt.out(), err.out()))
      err.raise(fmt::format("\"/{}\": loading a directory tree", path));
    GVar files(g_variant_get_child_value(dt.get(), 0));
    GVar dirs(g_variant_get_child_value(dt.get(), 1));
    const std::string prefix = path.empty() ? "" : path + "/";
    gsize nf = g_variant_n_children(files.get()), nd = g_variant_n_children(dirs.get());
    nodes_[self].has_children = nf + nd > 0;
    // Files and directories are each sorted by ostree; the tar order is by
    // full path (set when the layers are built), so the order here is free.
    for (gsize i = 0; i < nf; i++) {
      const char* name;
      GVar csum;
      g_variant_get_child(files.get(), i, "(&s@ay)", &name, csum.out());
      nodes_.push_back(file(prefix + name, hex(csum.get())));
    }
    for (gsize i = 0; i < nd; i++) {
      const char* name;
      GVar t, m;
      g_variant_get_child(dirs.get(), i, "(&s@ay@ay)", &name, t.out(), m.out());
      dir(hex(t.get()), hex(m.get()), prefix + name);
    }
  }

  Node file(std::string path, std::string csum) {
    auto it = cache_.find(csum);
    if (it == cache_.end()) {
      GRef<GFileInfo> info;
      GVar xv;
      GErr err;
      if (!ostree_repo_load_file(repo_, csum.c_str(), nullptr, info.out(), xv.out(), nullptr, err.out()))
        err.raise(fmt::format("\"/{}\": loading file object {}", path, csum.substr(0, 12)));
      Node n;
      n.uid = g_file_info_get_attribute_uint32(info.get(), "unix::uid");
      n.gid = g_file_info_get_attribute_uint32(info.get(), "unix::gid");
      n.mode = g_file_info_get_attribute_uint32(info.get(), "unix::mode") & 07777;
      n.xattrs = store::xattrs_from_variant(xv.get());
      if (g_file_info_get_file_type(info.get()) == G_FILE_TYPE_SYMBOLIC_LINK) {
        n.type = TarHeader::kSymlink;
        n.target = g_file_info_get_symlink_target(info.get());
      } else {
        n.type = TarHeader::kFile;
        n.size = static_cast<uint64_t>(g_file_info_get_size(info.get()));
      }
      n.checksum = csum;
      it = cache_.emplace(csum, std::move(n)).first;
    }
    Node n = it->second;
    n.path = std::move(path);
    return n;
  }

  OstreeRepo* repo_;
  std::vector<Node> nodes_;
  std::unordered_map<std::string, Node> cache_;  // file objects by checksum
};

// The content of file object `csum`, at most `limit` bytes.
std::string read_object(OstreeRepo* repo, const std::string& csum, const std::string& path, size_t limit) {
  GRef<GInputStream> in;
  GErr err;
  if (!ostree_repo_load_file(repo, csum.c_str(), in.out(), nullptr, nullptr, nullptr, err.out()))
    err.raise(fmt::format("reading \"/{}\"", path));
  std::string out;
  char buf[65536];
  for (;;) {
    gssize n = g_input_stream_read(in.get(), buf, sizeof buf, nullptr, err.out());
    if (n < 0) err.raise(fmt::format("reading \"/{}\"", path));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) fail("\"/{}\" is larger than {} bytes", path, limit);
  }
  return out;
}

// The tree's dpkg database as group.h wants it; empty without one.
struct Dpkg {
  std::string dir;
  std::vector<Package> packages;
};

Dpkg read_dpkg(OstreeRepo* repo, const std::vector<Node>& nodes, const std::map<std::string, std::string>& symlinks) {
  std::unordered_map<std::string, const Node*> by_path;
  for (auto& n : nodes) by_path.emplace(n.path, &n);
  Dpkg db;
  const Node* status = nullptr;
  for (const char* cand : {"usr/lib/sysimage/dpkg/status", "var/lib/dpkg/status"}) {
    auto it = by_path.find(canonical_path(cand, symlinks));
    if (it != by_path.end() && it->second->type == TarHeader::kFile) {
      status = it->second;
      break;
    }
  }
  if (!status) return db;
  db.dir = status->path.substr(0, status->path.rfind('/'));
  std::map<std::string, StatusEntry> entries;
  for (auto& e : parse_status(read_object(repo, status->checksum, status->path, 256u << 20)))
    entries[e.package] = e;

  const std::string info = db.dir + "/info/";
  for (auto& n : nodes) {
    if (n.type != TarHeader::kFile || !n.path.starts_with(info) || !n.path.ends_with(".list")) continue;
    std::string file = n.path.substr(info.size());
    if (file.find('/') != std::string::npos) continue;
    std::string name = file.substr(0, file.size() - 5);
    name = name.substr(0, name.find(':'));
    Package p;
    p.name = name;
    auto e = entries.find(name);
    p.source = e != entries.end() ? e->second.source : name;
    if (e != entries.end()) {
      p.priority = e->second.priority;
      p.installed_size_kib = e->second.installed_size_kib;
    }
    std::string list = read_object(repo, n.checksum, n.path, 64u << 20);
    size_t pos = 0;
    while (pos < list.size()) {
      size_t end = list.find('\n', pos);
      if (end == std::string::npos) end = list.size();
      std::string_view line(list.data() + pos, end - pos);
      pos = end + 1;
      if (line.empty() || line == "/." || line == "/") continue;
      p.paths.push_back(canonical_path(line, symlinks));
    }
    db.packages.push_back(std::move(p));
  }
  // Two .list files of one package (two architectures): one entry.
  std::sort(db.packages.begin(), db.packages.end(), [](auto& a, auto& b) { return a.name < b.name; });
  for (size_t i = 1; i < db.packages.size();) {
    if (db.packages[i].name == db.packages[i - 1].name) {
      auto& into = db.packages[i - 1].paths;
      into.insert(into.end(), db.packages[i].paths.begin(), db.packages[i].paths.end());
      db.packages.erase(db.packages.begin() + static_cast<long>(i));
    } else {
      i++;
    }
  }
  return db;
}

// The tar stream of one layer, produced on demand (a pull reader, so that
// a compressor can read it without a temporary file).
class TarStream {
 public:
  TarStream(OstreeRepo* repo, std::vector<const Node*> entries, uint64_t mtime)
      : repo_(repo), entries_(std::move(entries)), mtime_(mtime) {}

  // Up to `n` bytes of the stream; 0 at its end.
  size_t read(void* buf, size_t n) {
    char* out = static_cast<char*>(buf);
    size_t got = 0;
    while (got < n) {
      if (pos_ < pending_.size()) {
        size_t k = std::min(n - got, pending_.size() - pos_);
        std::memcpy(out + got, pending_.data() + pos_, k);
        pos_ += k;
        got += k;
        continue;
      }
      if (content_) {
        GErr err;
        gssize k = g_input_stream_read(content_.get(), out + got, n - got, nullptr, err.out());
        if (k < 0) err.raise(fmt::format("reading \"/{}\"", entries_[next_ - 1]->path));
        if (k > 0) {
          got += static_cast<size_t>(k);
          left_ -= std::min<uint64_t>(left_, static_cast<uint64_t>(k));
          continue;
        }
        if (left_ != 0) fail("\"/{}\": content ends {} bytes early", entries_[next_ - 1]->path, left_);
        content_.reset();
        set_pending(std::string(tar_padding(entries_[next_ - 1]->size), '\0'));
        continue;
      }
      if (!advance()) break;
    }
    return got;
  }

  uint64_t entries() const { return entries_.size(); }

 private:
  void set_pending(std::string s) {
    pending_ = std::move(s);
    pos_ = 0;
  }

  // Starts the next entry; false at the end of the stream.
  bool advance() {
    if (next_ == entries_.size()) {
      if (trailer_done_) return false;
      trailer_done_ = true;
      set_pending(std::string(kTarTrailer, '\0'));
      return true;
    }
    const Node& e = *entries_[next_++];
    TarHeader h;
    h.path = e.path;
    h.type = e.type;
    h.mode = e.mode;
    h.uid = e.uid;
    h.gid = e.gid;
    h.xattrs = e.xattrs;
    h.mtime = mtime_;
    if (e.type == TarHeader::kSymlink) h.link = e.target;
    bool stream = false;
    if (e.type == TarHeader::kFile) {
      // Not in etc/ and var/: files edited in place there must not share an
      // inode with another file that merely had the same bytes.
      bool linkable = e.size > 0 && !e.path.starts_with("etc/") && !e.path.starts_with("var/");
      auto [it, fresh] = linkable ? first_.emplace(e.checksum, e.path) : std::pair{first_.end(), true};
      if (!fresh) {
        h.type = TarHeader::kHardlink;
        h.link = it->second;
      } else {
        h.size = e.size;
        stream = e.size > 0;
      }
    }
    set_pending(tar_header(h));
    if (stream) {
      GErr err;
      if (!ostree_repo_load_file(repo_, e.checksum.c_str(), content_.out(), nullptr, nullptr, nullptr, err.out()))
        err.raise(fmt::format("reading \"/{}\"", e.path));
      left_ = e.size;
    }
    return true;
  }

  OstreeRepo* repo_;
  std::vector<const Node*> entries_;
  uint64_t mtime_;
  size_t next_ = 0;
  std::string pending_;
  size_t pos_ = 0;
  GRef<GInputStream> content_;
  uint64_t left_ = 0;
  bool trailer_done_ = false;
  std::unordered_map<std::string, std::string> first_;  // checksum -> first path in this layer
};

// Compresses the tar stream of one layer into `fd`.
chunked::WrittenLayer write_blob(TarStream& tar, int fd, chunked::Format format, ProgressBar* bar) {
  chunked::CompressOptions co;
  co.format = format;
  return chunked::compress_layer(
      [&](void* buf, size_t n) {
        size_t got = tar.read(buf, n);
        if (bar) bar->add(got);
        return got;
      },
      fd, co);
}

// The blobs written here, handed to image::Dest as a Source.
class LocalBlobs : public image::Source {
 public:
  void add(const oci::Digest& d, std::string path) {
    std::lock_guard lk(mu_);
    paths_[d] = std::move(path);
  }
  std::string describe() const override { return "rechunked layers"; }
  image::Doc top() override { fail("rechunked layers have no manifest"); }
  image::Doc child(const oci::Descriptor&) override { fail("rechunked layers have no index"); }
  std::string blob_bytes(const oci::Descriptor& d, size_t limit) override {
    return read_file(path(d), limit);
  }
  void fetch_blob(const oci::Descriptor& d, int fd, ProgressBar* bar) override {
    image::copy_verified(path(d), d, fd, bar);
  }
  std::optional<std::string> local_blob(const oci::Descriptor& d) override { return path(d); }

 private:
  std::string path(const oci::Descriptor& d) {
    std::lock_guard lk(mu_);
    auto it = paths_.find(d.digest);
    if (it == paths_.end()) fail("blob {} was not written here", d.digest.short_str());
    return it->second;
  }
  std::mutex mu_;
  std::map<oci::Digest, std::string> paths_;
};

uint64_t default_mtime() {
  const char* s = std::getenv("SOURCE_DATE_EPOCH");
  if (!s || !*s) return 0;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno || *end || s[0] == '-') fail("SOURCE_DATE_EPOCH=\"{}\" is not a number of seconds", s);
  return v;
}

// The entries of one group's layer: its items and all their ancestors
// (the root excepted), sorted by path.
std::vector<const Node*> layer_entries(const Group& g, const std::vector<const Node*>& item_nodes,
                                       const std::unordered_map<std::string, const Node*>& by_path) {
  std::set<std::string> paths;
  for (size_t i : g.items) {
    const std::string& p = item_nodes[i]->path;
    paths.insert(p);
    for (size_t s = p.find('/'); s != std::string::npos; s = p.find('/', s + 1)) paths.insert(p.substr(0, s));
  }
  std::vector<const Node*> out;
  for (auto& p : paths) out.push_back(by_path.at(p));
  return out;
}

}  // namespace

Result rechunk_image(image::Source& src, image::Dest& dst, const Options& opts, Progress& progress) {
  return with_context(fmt::format("rechunking {}", src.describe()), [&] {
    Result res;
    Phases phases(&progress, false, res.phases);
    const uint64_t mtime = opts.mtime ? *opts.mtime : default_mtime();
    TempDir work("hull-rechunk", opts.tmp_dir);  // empty: $TMPDIR, else /var/tmp

    image::Doc manifest_doc;
    oci::Manifest manifest;
    std::string config_bytes;
    oci::ImageConfig config;
    store::Repo repo;
    std::string root_tree, root_meta;
    phases.run("reading the image", [&] {
      manifest_doc = image::resolve_manifest(src, src.top(), opts.platform);
      manifest = oci::Manifest::parse(manifest_doc.bytes, manifest_doc.media_type);
      config_bytes = src.blob_bytes(manifest.config, oci::kMaxConfigSize);
      config = oci::ImageConfig::parse(config_bytes);
      if (config.diff_ids.size() != manifest.layers.size())
        fail("the config lists {} layers (rootfs.diff_ids), the manifest {}", config.diff_ids.size(),
             manifest.layers.size());
      repo = store::create_repo(work.path() + "/repo", OSTREE_REPO_MODE_BARE_USER);
      ostree_repo_set_disable_fsync(repo.get(), TRUE);  // a scratch repository, removed at the end
      store::Transaction txn(repo.get());
      std::vector<std::string> commits;
      for (size_t i = 0; i < manifest.layers.size(); i++) {
        const oci::Descriptor& l = manifest.layers[i];
        res.input_bytes += static_cast<uint64_t>(l.size);
        ProgressBar* bar = progress.bar(l.digest.short_str(), static_cast<uint64_t>(l.size));
        std::string path;
        if (auto lp = src.local_blob(l)) {
          path = *lp;  // checked against the config's diff_id by the import
        } else {
          path = work.path() + "/layer";
          UniqueFd fd = open_file(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
          with_context(fmt::format("layer {}", l.digest.short_str()), [&] { src.fetch_blob(l, fd.get(), bar); });
          fd.close(path);
        }
        UniqueFd fd = open_file(path, O_RDONLY);
        store::ImportOptions io;
        io.diff_id = config.diff_ids[i];
        commits.push_back(store::import_layer(repo.get(), fd.get(), l, io).commit);
        bar->finish("imported");
      }
      store::MergeOptions mo;
      mo.etc_to_usr_etc = false;
      GRef<GFile> root = store::merge_layers(repo.get(), commits, mo);
      GErr err;
      if (!ostree_repo_file_ensure_resolved(OSTREE_REPO_FILE(root.get()), err.out())) err.raise("the merged tree");
      root_tree = ostree_repo_file_tree_get_contents_checksum(OSTREE_REPO_FILE(root.get()));
      root_meta = ostree_repo_file_tree_get_metadata_checksum(OSTREE_REPO_FILE(root.get()));
      txn.commit();
      res.input_layers = manifest.layers.size();
    });

    std::vector<Node> nodes;
    phases.run("reading the tree", [&] { nodes = Walker(repo.get()).walk(root_tree, root_meta); });

    std::vector<Group> groups;
    std::vector<const Node*> item_nodes;
    std::unordered_map<std::string, const Node*> by_path;
    phases.run("grouping files by package", [&] {
      std::map<std::string, std::string> symlinks;
      for (auto& n : nodes) {
        by_path.emplace(n.path, &n);
        if (n.type == TarHeader::kSymlink) symlinks.emplace(n.path, n.target);
      }
      Dpkg db = read_dpkg(repo.get(), nodes, symlinks);
      PlanInput in;
      in.packages = std::move(db.packages);
      in.dpkg_dir = db.dir;
      in.max_layers = opts.max_layers;
      for (auto& n : nodes) {
        if (n.path.empty() || (n.type == TarHeader::kDir && n.has_children)) continue;
        in.items.push_back({n.path, n.size});
        item_nodes.push_back(&n);
        if (n.type != TarHeader::kDir) res.files++;
      }
      groups = plan_groups(in);
    });

    LocalBlobs blobs;
    res.layers.resize(groups.size());
    phases.run(fmt::format("writing {} layers", groups.size()), [&] {
      std::atomic<size_t> next{0};
      std::mutex mu;
      std::exception_ptr error;
      auto worker = [&] {
        for (;;) {
          size_t i = next.fetch_add(1);
          if (i >= groups.size()) return;
          {
            std::lock_guard lk(mu);
            if (error) return;
          }
          try {
            const Group& g = groups[i];
            TarStream tar(repo.get(), layer_entries(g, item_nodes, by_path), mtime);
            std::string path = fmt::format("{}/layer-{:03}", work.path(), i);
            ProgressBar* bar = progress.bar(g.label.substr(0, 40), g.bytes);
            UniqueFd fd = open_file(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
            chunked::WrittenLayer b = with_context(fmt::format("layer \"{}\"", g.label),
                                  [&] { return write_blob(tar, fd.get(), opts.format, bar); });
            fd.close(path);
            bar->finish("written");
            blobs.add(b.desc.digest, path);
            WrittenGroup& w = res.layers[i];
            w.created_by = "hull rechunk: " + g.label;
            w.desc = b.desc;
            w.diff_id = b.diff_id;
            w.tar_bytes = b.tar_bytes;
            w.entries = tar.entries();
          } catch (...) {
            std::lock_guard lk(mu);
            if (!error) error = std::current_exception();
            return;
          }
        }
      };
      {
        std::vector<std::jthread> threads;
        for (int t = 1; t < std::max(1, opts.jobs); t++) threads.emplace_back(worker);
        worker();
      }
      if (error) std::rethrow_exception(error);
    });

    phases.run(fmt::format("writing {}", dst.describe()), [&] {
      // The config: the old one with new diff_ids and history.
      nlohmann::json cfg = nlohmann::json::parse(config_bytes);
      nlohmann::json diff_ids = nlohmann::json::array(), history = nlohmann::json::array();
      for (auto& l : res.layers) {
        diff_ids.push_back(l.diff_id.str());
        nlohmann::json h = {{"created_by", l.created_by}};
        if (!config.created.empty()) h["created"] = config.created;
        history.push_back(h);
      }
      cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
      cfg["history"] = history;
      std::string new_config = cfg.dump();
      oci::Descriptor cd;
      cd.media_type = std::string(oci::media::kOciConfig);
      cd.digest = oci::Digest::of(new_config);
      cd.size = static_cast<int64_t>(new_config.size());
      std::string cpath = work.path() + "/config";
      write_file_atomic(cpath, new_config, 0600);
      blobs.add(cd.digest, cpath);

      nlohmann::ordered_json m;
      m["schemaVersion"] = 2;
      m["mediaType"] = oci::media::kOciManifest;
      m["config"] = nlohmann::ordered_json::parse(oci::descriptor_json(cd));
      m["layers"] = nlohmann::ordered_json::array();
      for (auto& l : res.layers) m["layers"].push_back(nlohmann::ordered_json::parse(oci::descriptor_json(l.desc)));
      if (!manifest.annotations.empty()) m["annotations"] = manifest.annotations;
      image::Doc doc;
      doc.bytes = m.dump();
      doc.media_type = std::string(oci::media::kOciManifest);
      doc.digest = oci::Digest::of(doc.bytes);

      std::vector<oci::Descriptor> to_put;
      std::set<oci::Digest> seen;
      for (auto& l : res.layers)
        if (seen.insert(l.desc.digest).second) to_put.push_back(l.desc);
      to_put.push_back(cd);
      for (auto& d : to_put) {
        if (dst.has_blob(d)) continue;
        ProgressBar* bar = progress.bar("push " + d.digest.short_str(), static_cast<uint64_t>(d.size));
        with_context(fmt::format("blob {}", d.digest.short_str()), [&] { dst.put_blob(d, blobs, bar); });
        bar->finish("done");
      }
      dst.put_manifest(doc, true);
      dst.commit();
      res.manifest_digest = doc.digest;
    });
    return res;
  });
}

}  // namespace hull::rechunk
