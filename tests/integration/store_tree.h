// Reading what the store wrote, for the store tests: a commit's tree through
// libostree's GFile API (OstreeRepoFile), the repository's refs, and a pull
// with the defaults a test wants (quiet, temporary files in the test's dir).
#pragma once

#include <ostree.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/source.h"
#include "store/ostree.h"
#include "store/store.h"
#include "util/error.h"
#include "util/glib.h"

namespace hull::test {

// One node of a committed tree.
struct TreeNode {
  GFileType type = G_FILE_TYPE_UNKNOWN;
  uint32_t mode = 0;  // permission bits (07777)
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  std::string target;    // symlinks
  std::string checksum;  // content object (files and symlinks only)
  std::map<std::string, std::string> xattrs;
  bool is_file() const { return type == G_FILE_TYPE_REGULAR; }
  bool is_dir() const { return type == G_FILE_TYPE_DIRECTORY; }
  bool is_symlink() const { return type == G_FILE_TYPE_SYMBOLIC_LINK; }
};

class CommitTree {
 public:
  CommitTree(OstreeRepo* repo, const std::string& commit) {
    GErr err;
    if (!ostree_repo_read_commit(repo, commit.c_str(), root_.out(), nullptr, nullptr, err.out()))
      err.raise("reading commit " + commit);
  }

  // The node at `path` ("usr/etc/x"; "" is the root), or nullopt.
  std::optional<TreeNode> stat(const std::string& path) const {
    GRef<GFile> f = file(path);
    GRef<GFileInfo> info(g_file_query_info(f.get(), "standard::*,unix::*", G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                           nullptr, nullptr));
    if (!info) return std::nullopt;
    TreeNode n;
    n.type = g_file_info_get_file_type(info.get());
    n.mode = g_file_info_get_attribute_uint32(info.get(), "unix::mode") & 07777;
    n.uid = g_file_info_get_attribute_uint32(info.get(), "unix::uid");
    n.gid = g_file_info_get_attribute_uint32(info.get(), "unix::gid");
    n.size = static_cast<uint64_t>(g_file_info_get_size(info.get()));
    if (n.is_symlink()) n.target = g_file_info_get_symlink_target(info.get());
    auto* rf = OSTREE_REPO_FILE(f.get());
    GErr err;
    if (!ostree_repo_file_ensure_resolved(rf, err.out())) err.raise(path);
    if (!n.is_dir()) n.checksum = ostree_repo_file_get_checksum(rf);
    GVar xv;
    if (!ostree_repo_file_get_xattrs(rf, xv.out(), nullptr, err.out())) err.raise(path + ": xattrs");
    if (xv) {
      gsize count = g_variant_n_children(xv.get());
      for (gsize i = 0; i < count; i++) {
        const char* name = nullptr;
        GVar value;
        g_variant_get_child(xv.get(), i, "(^&ay@ay)", &name, value.out());
        gsize len = 0;
        const void* data = g_variant_get_fixed_array(value.get(), &len, 1);
        n.xattrs[name] = std::string(static_cast<const char*>(data), len);
      }
    }
    return n;
  }

  bool exists(const std::string& path) const { return stat(path).has_value(); }

  // The content of the regular file at `path`.
  std::string read(const std::string& path) const {
    GRef<GFile> f = file(path);
    char* data = nullptr;
    gsize len = 0;
    GErr err;
    if (!g_file_load_contents(f.get(), nullptr, &data, &len, nullptr, err.out())) err.raise("reading " + path);
    std::string s(data, len);
    g_free(data);
    return s;
  }

  // Sorted names in the directory at `path`.
  std::vector<std::string> list(const std::string& path) const {
    GRef<GFile> f = file(path);
    GErr err;
    GRef<GFileEnumerator> en(g_file_enumerate_children(f.get(), "standard::name", G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                                       nullptr, err.out()));
    if (!en) err.raise("listing " + path);
    std::vector<std::string> names;
    for (;;) {
      GFileInfo* info = g_file_enumerator_next_file(en.get(), nullptr, nullptr);
      if (!info) break;
      names.emplace_back(g_file_info_get_name(info));
      g_object_unref(info);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  GRef<GFile> file(const std::string& path) const {
    if (path.empty()) return root_;
    return GRef<GFile>(g_file_resolve_relative_path(root_.get(), path.c_str()));
  }
  GRef<GFile> root_;
};

// Every ref of `repo` under `prefix` ("hull"), with its commit.
inline std::map<std::string, std::string> list_refs(OstreeRepo* repo, const char* prefix = "hull") {
  GHashTable* refs = nullptr;
  GErr err;
  if (!ostree_repo_list_refs_ext(repo, prefix, &refs, OSTREE_REPO_LIST_REFS_EXT_NONE, nullptr, err.out()))
    err.raise("listing refs");
  std::map<std::string, std::string> out;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, refs);
  while (g_hash_table_iter_next(&it, &k, &v)) out[static_cast<const char*>(k)] = static_cast<const char*>(v);
  g_hash_table_unref(refs);
  return out;
}

// True if the repository holds the commit object `commit`.
inline bool has_commit(OstreeRepo* repo, const std::string& commit) {
  gboolean have = FALSE;
  GErr err;
  if (!ostree_repo_has_object(repo, OSTREE_OBJECT_TYPE_COMMIT, commit.c_str(), &have, nullptr, err.out()))
    err.raise("looking up commit " + commit);
  return have;
}

// store::pull_image of `imgref` ("oci:DIR:TAG", "docker://..."), quiet,
// with its temporary blobs in `tmp_dir`.
inline store::PullResult pull(OstreeRepo* repo, const std::string& imgref, const std::string& tmp_dir) {
  image::ImageName name = image::ImageName::parse(imgref);
  std::unique_ptr<image::Source> src = image::open_source(name, registry::Options{});
  Progress progress(true);
  store::PullOptions opts;
  opts.tmp_dir = tmp_dir;
  return store::pull_image(repo, *src, name, opts, progress);
}

// The message of the Error that `fn` throws, or "" if it throws none.
template <typename F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

}  // namespace hull::test
