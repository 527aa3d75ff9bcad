#include "store/merge.h"

#include <sys/stat.h>

#include <string_view>

#include "store/import.h"
#include "store/ostree.h"
#include "util/error.h"

namespace hull::store {
namespace {

constexpr std::string_view kWhiteout = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

bool is_mount_point(std::string_view name) {
  return name == "dev" || name == "proc" || name == "sys" || name == "run" || name == "tmp";
}

GVar load_dirtree(OstreeRepo* repo, const char* csum) {
  GVar v;
  GErr err;
  if (!ostree_repo_load_variant(repo, OSTREE_OBJECT_TYPE_DIR_TREE, csum, v.out(), err.out()))
    err.raise("loading a directory tree");
  return v;
}

std::string hex(GVariant* bytes) {
  GStr s(ostree_checksum_from_bytes_v(bytes));
  return s.str();
}

// Removes every entry of `dir` (an opaque whiteout).
void clear_dir(OstreeMutableTree* dir) {
  std::vector<std::string> names;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, ostree_mutable_tree_get_files(dir));
  while (g_hash_table_iter_next(&it, &key, nullptr)) names.emplace_back(static_cast<const char*>(key));
  g_hash_table_iter_init(&it, ostree_mutable_tree_get_subdirs(dir));
  while (g_hash_table_iter_next(&it, &key, nullptr)) names.emplace_back(static_cast<const char*>(key));
  for (auto& n : names) ostree_mutable_tree_remove(dir, n.c_str(), TRUE, nullptr);
}

// The subdirectory `name` of `parent`, made if missing (a file of that name
// is replaced); a new one gets `default_meta`.
GRef<OstreeMutableTree> ensure_dir(OstreeMutableTree* parent, const char* name, const std::string& path,
                                   const std::string& default_meta) {
  GStr file;
  GRef<OstreeMutableTree> sub;
  ostree_mutable_tree_lookup(parent, name, file.out(), sub.out(), nullptr);
  if (file.get()) ostree_mutable_tree_remove(parent, name, TRUE, nullptr);
  GErr err;
  GRef<OstreeMutableTree> out;
  if (!ostree_mutable_tree_ensure_dir(parent, name, out.out(), err.out())) err.raise(fmt::format("\"{}\"", path));
  if (!ostree_mutable_tree_get_metadata_checksum(out.get()))
    ostree_mutable_tree_set_metadata_checksum(out.get(), default_meta.c_str());
  return out;
}

class Merger {
 public:
  Merger(OstreeRepo* repo, OstreeMutableTree* root, std::string default_meta, std::string implicit_meta,
         bool etc_to_usr)
      : repo_(repo),
        root_(root),
        default_meta_(std::move(default_meta)),
        implicit_meta_(std::move(implicit_meta)),
        etc_to_usr_(etc_to_usr) {}

  // Sets `meta` on `dir` unless it is the implicit-directory marker
  // (store/import.h), which leaves what lower layers said.
  void set_meta(OstreeMutableTree* dir, const std::string& meta) {
    if (meta != implicit_meta_) ostree_mutable_tree_set_metadata_checksum(dir, meta.c_str());
  }

  // Applies the layer tree `tree` onto `dst` (which is at `path`).
  void apply(OstreeMutableTree* dst, const char* tree, const std::string& path) {
    GVar dt = load_dirtree(repo_, tree);
    GVar files(g_variant_get_child_value(dt.get(), 0));
    GVar dirs(g_variant_get_child_value(dt.get(), 1));
    const bool at_root = path.empty();

    // An opaque marker hides what the lower layers put here.
    gsize n = g_variant_n_children(files.get());
    for (gsize i = 0; i < n; i++) {
      const char* name;
      g_variant_get_child(files.get(), i, "(&s@ay)", &name, nullptr);
      if (name == kOpaque) {
        clear_dir(dst);
        break;
      }
    }
    for (gsize i = 0; i < n; i++) {
      const char* name;
      GVar csum;
      g_variant_get_child(files.get(), i, "(&s@ay)", &name, csum.out());
      std::string_view nv(name);
      if (nv == kOpaque) continue;
      if (nv.starts_with(kWhiteout)) {
        remove(dst, std::string(nv.substr(kWhiteout.size())), at_root);
        continue;
      }
      if (at_root && ((etc_to_usr_ && nv == "etc") || is_mount_point(nv))) continue;  // files where directories belong
      GStr existing;
      GRef<OstreeMutableTree> sub;
      ostree_mutable_tree_lookup(dst, name, existing.out(), sub.out(), nullptr);
      if (sub) ostree_mutable_tree_remove(dst, name, TRUE, nullptr);
      GErr err;
      if (!ostree_mutable_tree_replace_file(dst, name, hex(csum.get()).c_str(), err.out()))
        err.raise(fmt::format("\"{}{}\"", path, name));
    }

    gsize nd = g_variant_n_children(dirs.get());
    for (gsize i = 0; i < nd; i++) {
      const char* name;
      GVar tcsum, mcsum;
      g_variant_get_child(dirs.get(), i, "(&s@ay@ay)", &name, tcsum.out(), mcsum.out());
      std::string sub_path = path + name + "/";
      GRef<OstreeMutableTree> sub;
      if (etc_to_usr_ && at_root && std::string_view(name) == "etc") {
        GRef<OstreeMutableTree> usr = ensure_dir(root_, "usr", "usr", default_meta_);
        sub = ensure_dir(usr.get(), "etc", "usr/etc", default_meta_);
      } else {
        sub = ensure_dir(dst, name, sub_path, default_meta_);
      }
      set_meta(sub.get(), hex(mcsum.get()));
      if (at_root && is_mount_point(name)) continue;  // mount points stay empty
      apply(sub.get(), hex(tcsum.get()).c_str(), sub_path);
    }
  }

 private:
  // A whiteout of `name` in `dst`; at the root, "etc" means /usr/etc.
  void remove(OstreeMutableTree* dst, const std::string& name, bool at_root) {
    if (etc_to_usr_ && at_root && name == "etc") {
      GStr f;
      GRef<OstreeMutableTree> usr;
      ostree_mutable_tree_lookup(root_, "usr", f.out(), usr.out(), nullptr);
      if (usr) ostree_mutable_tree_remove(usr.get(), "etc", TRUE, nullptr);
      return;
    }
    ostree_mutable_tree_remove(dst, name.c_str(), TRUE, nullptr);
  }

  OstreeRepo* repo_;
  OstreeMutableTree* root_;
  std::string default_meta_;   // 0755 root:root
  std::string implicit_meta_;  // the marker of directories a layer did not list
  bool etc_to_usr_;            // /etc of the layers goes to /usr/etc
};

}  // namespace

GRef<GFile> merge_layers(OstreeRepo* repo, const std::vector<std::string>& layer_commits, const MergeOptions& opts) {
  GRef<OstreeMutableTree> root(ostree_mutable_tree_new());
  std::string default_meta = write_dirmeta(repo, 0, 0, 0755, {});
  ostree_mutable_tree_set_metadata_checksum(root.get(), default_meta.c_str());
  Merger m(repo, root.get(), default_meta, write_dirmeta(repo, 0, 0, 0755, {{kImplicitDirXattr, ""}}),
           opts.etc_to_usr_etc);
  for (auto& c : layer_commits) {
    auto [tree, meta] = commit_root(repo, c);
    m.set_meta(root.get(), meta);
    const char* tree_checksum = tree.c_str();  // clang 14 cannot capture a structured binding
    with_context(fmt::format("merging layer commit {}", c.substr(0, 12)), [&] { m.apply(root.get(), tree_checksum, ""); });
  }
  // Mount points exist even if no layer made them; /tmp is world-writable.
  std::string tmp_meta = write_dirmeta(repo, 0, 0, 01777, {});
  for (const char* mp : {"dev", "proc", "sys", "run", "tmp"}) {
    GStr f;
    GRef<OstreeMutableTree> sub;
    ostree_mutable_tree_lookup(root.get(), mp, f.out(), sub.out(), nullptr);
    if (!sub) {
      sub = ensure_dir(root.get(), mp, mp, default_meta);
      ostree_mutable_tree_set_metadata_checksum(sub.get(), std::string_view(mp) == "tmp" ? tmp_meta.c_str()
                                                                                     : default_meta.c_str());
    }
  }
  GRef<GFile> out;
  GErr err;
  if (!ostree_repo_write_mtree(repo, root.get(), out.out(), nullptr, err.out())) err.raise("writing the merged tree");
  return out;
}

}  // namespace hull::store
