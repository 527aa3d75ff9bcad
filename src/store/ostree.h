// The small pieces of libostree that the store and the sysroot share: an
// owned repo, a transaction that aborts unless committed, and conversions
// between hull's values and ostree's GVariants.
#pragma once

#include <ostree.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/glib.h"

namespace hull::store {

using Repo = GRef<OstreeRepo>;

// Opens the repository at `path`; throws naming it.
Repo open_repo(const std::string& path);
// Creates (or opens) a repository in `mode` at `path`.
Repo create_repo(const std::string& path, OstreeRepoMode mode);

// The commit a ref points to, or nullopt if there is no such ref.
std::optional<std::string> resolve_ref(OstreeRepo* repo, const std::string& ref);

// A transaction: prepared by the constructor, aborted by the destructor
// unless commit() ran, so a failed import leaves no ref behind.
class Transaction {
 public:
  explicit Transaction(OstreeRepo* repo);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  // Sets `ref` to `commit` when the transaction commits.
  void set_ref(const std::string& ref, const std::string& commit);
  void commit();

 private:
  OstreeRepo* repo_;
  bool done_ = false;
};

// xattrs as ostree wants them: a(ayay), names NUL-terminated.
GVariant* xattrs_variant(const std::vector<std::pair<std::string, std::string>>& xattrs);

// The inverse of xattrs_variant: a(ayay) as (name, value) pairs, sorted by
// name; null gives none.
std::vector<std::pair<std::string, std::string>> xattrs_from_variant(GVariant* v);

// Writes directory metadata (owner, mode, xattrs); returns its checksum.
std::string write_dirmeta(OstreeRepo* repo, uint32_t uid, uint32_t gid, uint32_t mode,
                          const std::vector<std::pair<std::string, std::string>>& xattrs);

// Root tree and root metadata checksums of `commit`.
std::pair<std::string, std::string> commit_root(OstreeRepo* repo, const std::string& commit);

// The a{sv} metadata of `commit`, as a GVariant.
GVar commit_metadata(OstreeRepo* repo, const std::string& commit);
// A string entry of commit metadata, or empty.
std::string metadata_string(GVariant* metadata, const char* key);

// "hull/blob/sha256_<hex>" and friends: refs may not hold ':'.
std::string escape_ref_part(std::string_view s);

}  // namespace hull::store
