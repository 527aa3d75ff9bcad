#include "store/content_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "store/ostree.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/glib.h"
#include "util/hash.h"

namespace hull::store {
namespace {

constexpr char kMagic[8] = {'H', 'U', 'L', 'L', 'C', 'I', 'D', 'X'};
constexpr size_t kHeader = 24;
constexpr size_t kRecord = 64;
constexpr size_t kTrailer = 32;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string repo_path(OstreeRepo* repo) {
  GFile* f = ostree_repo_get_path(repo);
  GStr p(g_file_get_path(f));
  return p.str();
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

std::string sha256_raw(std::string_view data) {
  std::string hex = sha256_hex(data);
  ContentIndex::Key k = key_from_hex(hex);
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

}  // namespace

ContentIndex::Key key_from_hex(std::string_view hex) {
  if (hex.size() != 64) fail("invalid sha256 \"{}\": expected 64 hex digits", hex.substr(0, 80));
  ContentIndex::Key k;
  for (size_t i = 0; i < 32; i++) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) fail("invalid sha256 \"{}\": not hex", hex);
    k[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return k;
}

std::string key_to_hex(const ContentIndex::Key& k) {
  static const char* digits = "0123456789abcdef";
  std::string s(64, '0');
  for (size_t i = 0; i < 32; i++) {
    s[2 * i] = digits[k[i] >> 4];
    s[2 * i + 1] = digits[k[i] & 15];
  }
  return s;
}

ContentIndex::ContentIndex(OstreeRepo* repo) : repo_(repo) {
  if (!load()) {
    rebuild();
    rebuilt_ = true;
    dirty_ = true;
    save();
  }
}

bool ContentIndex::load() {
  std::string path = repo_path(repo_) + "/" + kPath;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || st.st_size < static_cast<off_t>(kHeader + kTrailer)) return false;
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd.get(), data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  auto* p = reinterpret_cast<const unsigned char*>(data.data());
  if (std::memcmp(p, kMagic, 8) != 0) return false;
  if (get_le(p + 8, 4) != kVersion || get_le(p + 12, 4) != kRecord) return false;
  uint64_t count = get_le(p + 16, 8);
  if (count > (data.size() - kHeader - kTrailer) / kRecord || kHeader + count * kRecord + kTrailer != data.size())
    return false;
  std::string_view body(data.data(), data.size() - kTrailer);
  if (sha256_raw(body) != std::string_view(data.data() + body.size(), kTrailer)) return false;
  sorted_.resize(count);
  for (uint64_t i = 0; i < count; i++) {
    const unsigned char* r = p + kHeader + i * kRecord;
    std::memcpy(sorted_[i].key.data(), r, 32);
    std::memcpy(sorted_[i].object.data(), r + 32, 32);
    if (i > 0 && !(sorted_[i - 1].key < sorted_[i].key)) return false;  // unsorted or duplicate: damaged
  }
  return true;
}

// Hashes the content of every regular file object of the repository.
void ContentIndex::rebuild() {
  sorted_.clear();
  GHashTable* objects = nullptr;
  GErr err;
  if (!ostree_repo_list_objects(repo_, OSTREE_REPO_LIST_OBJECTS_LOOSE, &objects, nullptr, err.out()))
    err.raise("rebuilding the content index: listing objects");
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, objects);
  std::vector<char> buf(1u << 20);
  while (g_hash_table_iter_next(&it, &k, &v)) {
    const char* checksum = nullptr;
    OstreeObjectType type;
    ostree_object_name_deserialize(static_cast<GVariant*>(k), &checksum, &type);
    if (type != OSTREE_OBJECT_TYPE_FILE) continue;
    GRef<GInputStream> in;
    GRef<GFileInfo> info;
    if (!ostree_repo_load_file(repo_, checksum, in.out(), info.out(), nullptr, nullptr, err.out()))
      err.raise(fmt::format("rebuilding the content index: loading {}", checksum));
    if (g_file_info_get_file_type(info.get()) != G_FILE_TYPE_REGULAR || !in) continue;
    Hasher h;
    for (;;) {
      gssize n = g_input_stream_read(in.get(), buf.data(), buf.size(), nullptr, err.out());
      if (n < 0) err.raise(fmt::format("rebuilding the content index: reading {}", checksum));
      if (n == 0) break;
      h.update(buf.data(), static_cast<size_t>(n));
    }
    sorted_.push_back({key_from_hex(h.hex_final()), key_from_hex(checksum)});
  }
  g_hash_table_unref(objects);
  std::sort(sorted_.begin(), sorted_.end(), [](const Record& a, const Record& b) { return a.key < b.key; });
  sorted_.erase(std::unique(sorted_.begin(), sorted_.end(), [](const Record& a, const Record& b) { return a.key == b.key; }),
                sorted_.end());
}

bool ContentIndex::object_exists(const Key& object) const {
  gboolean have = FALSE;
  std::string hex = key_to_hex(object);
  GErr err;
  if (!ostree_repo_has_object(repo_, OSTREE_OBJECT_TYPE_FILE, hex.c_str(), &have, nullptr, err.out()))
    err.raise(fmt::format("looking up object {}", hex));
  return have;
}

std::optional<std::string> ContentIndex::find(std::string_view sha256_hex) const {
  Key key = key_from_hex(sha256_hex);
  std::optional<Key> object;
  {
    std::lock_guard lk(mu_);
    auto p = pending_.find(std::string(reinterpret_cast<const char*>(key.data()), key.size()));
    if (p != pending_.end()) {
      object = p->second;
    } else {
      auto it = std::lower_bound(sorted_.begin(), sorted_.end(), key,
                                 [](const Record& r, const Key& k) { return r.key < k; });
      if (it != sorted_.end() && it->key == key) object = it->object;
    }
  }
  if (!object || !object_exists(*object)) return std::nullopt;
  return key_to_hex(*object);
}

void ContentIndex::add(std::string_view sha256_hex, std::string_view checksum_hex) {
  Key key = key_from_hex(sha256_hex), object = key_from_hex(checksum_hex);
  std::lock_guard lk(mu_);
  pending_[std::string(reinterpret_cast<const char*>(key.data()), key.size())] = object;
  dirty_ = true;
}

size_t ContentIndex::size() const {
  std::lock_guard lk(mu_);
  return sorted_.size() + pending_.size();
}

void ContentIndex::save() {
  std::lock_guard lk(mu_);
  if (!dirty_) return;
  if (!pending_.empty()) {
    std::vector<Record> add;
    add.reserve(pending_.size());
    for (auto& [k, obj] : pending_) {
      Record r;
      std::memcpy(r.key.data(), k.data(), 32);
      r.object = obj;
      add.push_back(r);
    }
    std::sort(add.begin(), add.end(), [](const Record& a, const Record& b) { return a.key < b.key; });
    std::vector<Record> merged;
    merged.reserve(sorted_.size() + add.size());
    // New records win over old ones with the same key: they name objects
    // this process has just written.
    std::merge(add.begin(), add.end(), sorted_.begin(), sorted_.end(), std::back_inserter(merged),
               [](const Record& a, const Record& b) { return a.key < b.key; });
    merged.erase(std::unique(merged.begin(), merged.end(), [](const Record& a, const Record& b) { return a.key == b.key; }),
                 merged.end());
    sorted_ = std::move(merged);
    pending_.clear();
  }
  std::string out;
  out.reserve(kHeader + sorted_.size() * kRecord + kTrailer);
  out.append(kMagic, 8);
  put_u32(out, kVersion);
  put_u32(out, kRecord);
  put_u64(out, sorted_.size());
  for (auto& r : sorted_) {
    out.append(reinterpret_cast<const char*>(r.key.data()), 32);
    out.append(reinterpret_cast<const char*>(r.object.data()), 32);
  }
  out += sha256_raw(out);
  std::string dir = repo_path(repo_) + "/extensions/hull";
  make_dirs(dir, 0755);
  with_context("writing the content index", [&] { write_file_atomic(repo_path(repo_) + "/" + kPath, out, 0644); });
  dirty_ = false;
}

void ContentIndex::drop_missing() {
  {
    std::lock_guard lk(mu_);
    for (auto it = pending_.begin(); it != pending_.end();) it = object_exists(it->second) ? std::next(it) : pending_.erase(it);
    size_t before = sorted_.size();
    std::erase_if(sorted_, [&](const Record& r) { return !object_exists(r.object); });
    if (sorted_.size() != before) dirty_ = true;
  }
  save();
}

}  // namespace hull::store
