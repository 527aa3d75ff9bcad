#include "store/ostree.h"

#include <algorithm>

#include <sys/stat.h>

#include <cctype>

#include "util/error.h"

namespace hull::store {

Repo open_repo(const std::string& path) {
  GRef<GFile> file(g_file_new_for_path(path.c_str()));
  Repo repo(ostree_repo_new(file.get()));
  GErr err;
  if (!ostree_repo_open(repo.get(), nullptr, err.out())) err.raise(fmt::format("opening ostree repository {}", path));
  return repo;
}

Repo create_repo(const std::string& path, OstreeRepoMode mode) {
  GRef<GFile> file(g_file_new_for_path(path.c_str()));
  Repo repo(ostree_repo_new(file.get()));
  GErr err;
  if (!ostree_repo_create(repo.get(), mode, nullptr, err.out()))
    err.raise(fmt::format("creating ostree repository {}", path));
  return repo;
}

std::optional<std::string> resolve_ref(OstreeRepo* repo, const std::string& ref) {
  GStr out;
  GErr err;
  if (!ostree_repo_resolve_rev(repo, ref.c_str(), TRUE, out.out(), err.out()))
    err.raise(fmt::format("resolving ref {}", ref));
  if (!out.get()) return std::nullopt;
  return out.str();
}

Transaction::Transaction(OstreeRepo* repo) : repo_(repo) {
  GErr err;
  if (!ostree_repo_prepare_transaction(repo_, nullptr, nullptr, err.out()))
    err.raise("starting an ostree transaction");
}

Transaction::~Transaction() {
  if (!done_) ostree_repo_abort_transaction(repo_, nullptr, nullptr);
}

void Transaction::set_ref(const std::string& ref, const std::string& commit) {
  ostree_repo_transaction_set_ref(repo_, nullptr, ref.c_str(), commit.c_str());
}

void Transaction::commit() {
  GErr err;
  if (!ostree_repo_commit_transaction(repo_, nullptr, nullptr, err.out())) err.raise("committing an ostree transaction");
  done_ = true;
}

GVariant* xattrs_variant(const std::vector<std::pair<std::string, std::string>>& xattrs) {
  GVariantBuilder b;
  g_variant_builder_init(&b, G_VARIANT_TYPE("a(ayay)"));
  for (auto& [name, value] : xattrs) {
    g_variant_builder_add(&b, "(@ay@ay)", g_variant_new_bytestring(name.c_str()),
                          g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, value.data(), value.size(), 1));
  }
  return g_variant_builder_end(&b);
}

std::string write_dirmeta(OstreeRepo* repo, uint32_t uid, uint32_t gid, uint32_t mode,
                          const std::vector<std::pair<std::string, std::string>>& xattrs) {
  GRef<GFileInfo> info(g_file_info_new());
  g_file_info_set_attribute_uint32(info.get(), "standard::type", G_FILE_TYPE_DIRECTORY);
  g_file_info_set_attribute_uint32(info.get(), "unix::uid", uid);
  g_file_info_set_attribute_uint32(info.get(), "unix::gid", gid);
  g_file_info_set_attribute_uint32(info.get(), "unix::mode", S_IFDIR | (mode & 07777));
  GVar xv(xattrs_variant(xattrs));
  GVar meta(ostree_create_directory_metadata(info.get(), xv.get()));
  guchar* csum = nullptr;
  GErr err;
  if (!ostree_repo_write_metadata(repo, OSTREE_OBJECT_TYPE_DIR_META, nullptr, meta.get(), &csum, nullptr, err.out()))
    err.raise("writing directory metadata");
  GStr hex(ostree_checksum_from_bytes(csum));
  g_free(csum);
  return hex.str();
}

std::vector<std::pair<std::string, std::string>> xattrs_from_variant(GVariant* v) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!v) return out;
  gsize n = g_variant_n_children(v);
  for (gsize i = 0; i < n; i++) {
    const char* name = nullptr;
    GVar value;
    g_variant_get_child(v, i, "(^&ay@ay)", &name, value.out());
    gsize len = 0;
    const void* data = g_variant_get_fixed_array(value.get(), &len, 1);
    out.emplace_back(name, std::string(static_cast<const char*>(data), len));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::pair<std::string, std::string> commit_root(OstreeRepo* repo, const std::string& commit) {
  GVar v;
  GErr err;
  if (!ostree_repo_load_variant(repo, OSTREE_OBJECT_TYPE_COMMIT, commit.c_str(), v.out(), err.out()))
    err.raise(fmt::format("loading commit {}", commit));
  GVar tree(g_variant_get_child_value(v.get(), 6));
  GVar meta(g_variant_get_child_value(v.get(), 7));
  GStr t(ostree_checksum_from_bytes_v(tree.get()));
  GStr m(ostree_checksum_from_bytes_v(meta.get()));
  return {t.str(), m.str()};
}

GVar commit_metadata(OstreeRepo* repo, const std::string& commit) {
  GVar v;
  GErr err;
  if (!ostree_repo_load_variant(repo, OSTREE_OBJECT_TYPE_COMMIT, commit.c_str(), v.out(), err.out()))
    err.raise(fmt::format("loading commit {}", commit));
  return GVar(g_variant_get_child_value(v.get(), 0));
}

std::string metadata_string(GVariant* metadata, const char* key) {
  const char* s = nullptr;
  if (metadata && g_variant_lookup(metadata, key, "&s", &s)) return s;
  return {};
}

std::string escape_ref_part(std::string_view s) {
  // ostree refs allow [\w\d][-._\w\d]* per component, '/' between: keep
  // those, write everything else as _XX_ (hex), as ostree-ext does.
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.')
      out += static_cast<char>(c);
    else
      out += fmt::format("_{:02X}_", c);
  }
  return out;
}

}  // namespace hull::store
