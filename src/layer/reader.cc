#include "layer/reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <unordered_set>

#include "util/error.h"
#include "util/fd.h"
#include "util/hash.h"

// How the stream is read: two libarchive readers, stacked.
//   raw_: the fd -> gzip/zstd filter (or none) -> the "raw" format, which
//         hands out the uncompressed bytes block by block;
//   tar_: the tar format, whose read callback takes raw_'s blocks as they
//         are (no copy).
// The seam between them is where the uncompressed stream is hashed (the
// diff_id) and where, after the tar end marker, the rest of the stream is
// read to its end: a gzip or zstd stream cut anywhere, even in the zero
// padding after the last entry, is an error and not a silently short
// layer. libarchive alone stops reading at the tar end marker.

namespace hull::layer {

namespace {

// Read size from the fd: large, so that a 500 MB layer is a few hundred
// reads.
constexpr size_t kBlockSize = 1u << 20;

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
// A read archive owns no fd and has nothing to flush: closing cannot fail
// in a way the caller could act on, so the destructor is the only close.
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

ArchivePtr new_archive() {
  archive* a = archive_read_new();
  if (a == nullptr) fail("libarchive: out of memory");
  return ArchivePtr(a);
}

const char* error_of(archive* a) {
  const char* s = archive_error_string(a);
  return s != nullptr ? s : "damaged or truncated data";
}

// A filter that libarchive would run as an external program reports
// ARCHIVE_WARN: refused, hull never forks a decompressor.
void require_ok(archive* a, int r, std::string_view what) {
  if (r != ARCHIVE_OK) fail("libarchive: {}: {}", what, error_of(a));
}

const char* compression_name(oci::Compression c) {
  switch (c) {
    case oci::Compression::kNone: return "uncompressed";
    case oci::Compression::kGzip: return "gzip";
    case oci::Compression::kZstd: return "zstd";
  }
  return "?";
}

// libarchive turns pax UTF-8 names into the current locale's charset; in
// the "C" locale (a program that never called setlocale) every non-ASCII
// name would be a conversion warning. C.UTF-8 makes the conversion the
// identity. uselocale is per thread, so nothing outside this read changes.
class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale() {
    static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
    if (utf8 != locale_t{}) prev_ = uselocale(utf8);
  }
  ~ScopedUtf8Locale() {
    if (prev_ != locale_t{}) uselocale(prev_);
  }
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;

 private:
  locale_t prev_{};
};

alignas(64) constexpr std::byte kZeros[64 * 1024] = {};

std::string_view dirname(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
}

std::string_view basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view top_level(std::string_view path) { return path.substr(0, path.find('/')); }

constexpr std::string_view kWhPrefix = ".wh.";
constexpr std::string_view kWhMeta = ".wh..wh.";
constexpr std::string_view kWhOpaque = ".wh..wh..opq";

// True if a directory component of `path` (not the last one) starts with
// `prefix`; `slash_prefix` is "/" + prefix.
bool dir_has_prefix(std::string_view path, std::string_view prefix, std::string_view slash_prefix) {
  std::string_view dir = dirname(path);
  return dir.starts_with(prefix) || dir.find(slash_prefix) != std::string_view::npos;
}

uint32_t checked_id(int64_t id, std::string_view path, const char* what) {
  if (id < 0 || id > 0xFFFFFFFEll) fail("{}: {} {} out of range", quote(path), what, id);
  return static_cast<uint32_t>(id);
}

uint64_t path_key(std::string_view path) { return std::hash<std::string_view>{}(path); }

}  // namespace

const char* type_name(EntryType t) {
  switch (t) {
    case EntryType::kRegular: return "regular";
    case EntryType::kDirectory: return "directory";
    case EntryType::kSymlink: return "symlink";
    case EntryType::kHardlink: return "hardlink";
    case EntryType::kWhiteout: return "whiteout";
    case EntryType::kOpaque: return "opaque";
  }
  return "?";
}

// ---- Content ---------------------------------------------------------------

void Content::reset(archive* a, const std::string* path, uint64_t size) {
  a_ = a;
  path_ = path;
  size_ = size;
  pos_ = 0;
  block_off_ = 0;
  pending_ = {};
  copy_left_ = {};
  eof_ = a == nullptr;
}

std::span<const std::byte> Content::next() {
  if (!copy_left_.empty()) return std::exchange(copy_left_, {});
  return next_piece();
}

std::span<const std::byte> Content::next_piece() {
  while (true) {
    if (pending_.empty() && !eof_) {
      const void* buf = nullptr;
      size_t len = 0;
      la_int64_t off = 0;
      int r = archive_read_data_block(a_, &buf, &len, &off);
      if (r == ARCHIVE_EOF) {
        eof_ = true;
        block_off_ = size_;  // a trailing hole, if any, reads as zeros
      } else if (r != ARCHIVE_OK) {
        fail("{}: reading content: {}", quote(*path_), error_of(a_));
      } else {
        if (off < 0 || static_cast<uint64_t>(off) < pos_ || static_cast<uint64_t>(off) + len > size_)
          fail("{}: content block at offset {} outside the file", quote(*path_), off);
        pending_ = {static_cast<const std::byte*>(buf), len};
        block_off_ = static_cast<uint64_t>(off);
      }
    }
    if (pos_ < block_off_) {  // a hole of a sparse file
      size_t n = static_cast<size_t>(std::min<uint64_t>(block_off_ - pos_, sizeof kZeros));
      pos_ += n;
      return {kZeros, n};
    }
    if (!pending_.empty()) {
      pos_ += pending_.size();
      return std::exchange(pending_, {});
    }
    if (eof_) return {};
  }
}

size_t Content::read(void* buf, size_t n) {
  if (copy_left_.empty()) copy_left_ = next_piece();
  size_t k = std::min(n, copy_left_.size());
  if (k > 0) std::memcpy(buf, copy_left_.data(), k);
  copy_left_ = copy_left_.subspan(k);
  return k;
}

// ---- LayerReader -----------------------------------------------------------

class LayerReader {
 public:
  LayerReader(const Options& opts, const Visitor& visit) : opts_(opts), visit_(visit) {
    if (opts.compute_diff_id) hasher_.emplace(Hasher::Algo::kSha256);
  }
  Summary run(int fd);

 private:
  static la_ssize_t source_read(archive* tar, void* self, const void** buf);
  la_ssize_t pull(const void** buf);
  void open_raw(int fd);
  void check_compression();
  void open_tar();
  bool next_header(archive_entry** e);
  std::string stream_error();
  void handle(archive_entry* e);
  void emit();
  void drain();

  const Options& opts_;
  const Visitor& visit_;
  ArchivePtr raw_;
  ArchivePtr tar_;
  std::optional<Hasher> hasher_;
  std::string source_error_;  // why raw_ failed, for tar_'s caller
  Summary sum_;
  uint64_t headers_ = 0;
  Entry entry_;
  Content content_;
  EntryChecker checker_{opts_};
};

Summary LayerReader::run(int fd) {
  ScopedUtf8Locale utf8;
  open_raw(fd);
  check_compression();
  open_tar();
  archive_entry* e = nullptr;
  while (next_header(&e)) handle(e);
  drain();
  if (hasher_) sum_.diff_id = "sha256:" + hasher_->hex_final();
  return std::move(sum_);
}

void LayerReader::open_raw(int fd) {
  raw_ = new_archive();
  archive* a = raw_.get();
  require_ok(a, archive_read_support_filter_gzip(a), "gzip support");
  require_ok(a, archive_read_support_filter_zstd(a), "zstd support");
  require_ok(a, archive_read_support_format_raw(a), "raw format");
  if (archive_read_open_fd(a, fd, kBlockSize) != ARCHIVE_OK)
    fail("reading the layer: {}", error_of(a));
  archive_entry* e = nullptr;
  if (archive_read_next_header(a, &e) != ARCHIVE_OK) fail("reading the layer: {}", error_of(a));
}

void LayerReader::check_compression() {
  archive* a = raw_.get();
  // One filter plus the bottom "none" at most: a gzip inside a gzip is not
  // an OCI layer.
  if (archive_filter_count(a) > 2) fail("nested compression ({}) is not a layer", archive_filter_name(a, 0));
  switch (archive_filter_code(a, 0)) {
    case ARCHIVE_FILTER_NONE: sum_.compression = oci::Compression::kNone; break;
    case ARCHIVE_FILTER_GZIP: sum_.compression = oci::Compression::kGzip; break;
    case ARCHIVE_FILTER_ZSTD: sum_.compression = oci::Compression::kZstd; break;
    default: fail("unsupported compression {}", archive_filter_name(a, 0));
  }
  if (opts_.compression && *opts_.compression != sum_.compression)
    fail("layer declared {} but the stream is {}", compression_name(*opts_.compression),
         compression_name(sum_.compression));
}

la_ssize_t LayerReader::source_read(archive* tar, void* self, const void** buf) {
  auto* r = static_cast<LayerReader*>(self);
  try {
    return r->pull(buf);
  } catch (const std::exception& e) {  // nothing may unwind through libarchive
    r->source_error_ = e.what();
    archive_set_error(tar, EIO, "%s", e.what());
    return ARCHIVE_FATAL;
  }
}

// The next block of the uncompressed stream, hashed; 0 at its end.
la_ssize_t LayerReader::pull(const void** buf) {
  size_t len = 0;
  la_int64_t off = 0;
  int r = archive_read_data_block(raw_.get(), buf, &len, &off);
  if (r == ARCHIVE_EOF) return 0;
  if (r != ARCHIVE_OK) fail("{} stream: {}", compression_name(sum_.compression), error_of(raw_.get()));
  if (hasher_) hasher_->update(*buf, len);
  sum_.tar_bytes += len;
  return static_cast<la_ssize_t>(len);
}

void LayerReader::open_tar() {
  tar_ = new_archive();
  archive* a = tar_.get();
  require_ok(a, archive_read_support_format_tar(a), "tar format");
  if (archive_read_open(a, this, nullptr, &LayerReader::source_read, nullptr) != ARCHIVE_OK)
    fail("not a tar stream: {}", stream_error());
}

std::string LayerReader::stream_error() {
  return source_error_.empty() ? std::string(error_of(tar_.get())) : source_error_;
}

// Every status but OK and EOF is refused, warnings included: a warning
// from the tar reader means a pax record or a name was dropped or changed,
// and an entry read differently from what the layer's author meant is how
// parser-differential attacks work.
bool LayerReader::next_header(archive_entry** e) {
  int r = archive_read_next_header(tar_.get(), e);
  if (r == ARCHIVE_OK) return true;
  if (r == ARCHIVE_EOF) return false;
  const char* name = (r == ARCHIVE_WARN && *e != nullptr) ? archive_entry_pathname(*e) : nullptr;
  if (name != nullptr) fail("{}: damaged layer: {}", quote(name), stream_error());
  if (checker_.last_path().empty() && headers_ == 0) fail("damaged layer at its first entry: {}", stream_error());
  fail("damaged layer after {}: {}", quote(checker_.last_path()), stream_error());
}

void LayerReader::handle(archive_entry* e) {
  if (++headers_ > opts_.max_entries) fail("more than {} entries", opts_.max_entries);
  RawEntry raw;
  const char* name = archive_entry_pathname(e);
  if (name == nullptr) fail("entry without a name after {}", quote(checker_.last_path()));
  raw.name = name;
  if (const char* target = archive_entry_hardlink(e)) {
    raw.type = RawEntry::Type::kHardlink;
    raw.link = target;
  } else {
    switch (archive_entry_filetype(e)) {
      case AE_IFREG: raw.type = RawEntry::Type::kRegular; break;
      case AE_IFDIR: raw.type = RawEntry::Type::kDirectory; break;
      case AE_IFLNK: {
        raw.type = RawEntry::Type::kSymlink;
        const char* target = archive_entry_symlink(e);
        raw.link = target != nullptr ? target : "";
        break;
      }
      case AE_IFCHR: raw.type = RawEntry::Type::kChar; break;
      case AE_IFBLK: raw.type = RawEntry::Type::kBlock; break;
      case AE_IFIFO: raw.type = RawEntry::Type::kFifo; break;
      case AE_IFSOCK: raw.type = RawEntry::Type::kSocket; break;
      default:
        raw.type = RawEntry::Type::kUnknown;
        raw.unknown_type = static_cast<unsigned>(archive_entry_filetype(e));
    }
  }
  raw.perm = archive_entry_perm(e) & 07777;
  raw.uid = archive_entry_uid(e);
  raw.gid = archive_entry_gid(e);
  raw.mtime = archive_entry_mtime(e);
  raw.mtime_nsec = static_cast<uint32_t>(archive_entry_mtime_nsec(e));
  raw.size = archive_entry_size(e);
  if (archive_entry_xattr_reset(e) != 0) {
    const char* xname = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK)
      raw.xattrs.emplace_back(xname != nullptr ? xname : "", std::string(static_cast<const char*>(value), size));
  }
  if (!checker_.check(raw, entry_)) {
    ++sum_.dropped;
    return;
  }
  emit();
}

// ---- EntryChecker ----------------------------------------------------------

EntryChecker::EntryChecker(const Options& opts) : opts_(opts) {}

bool EntryChecker::check(const RawEntry& raw, Entry& entry) {
  if (!check_name(raw, entry)) return false;
  if (entry.type != EntryType::kWhiteout && entry.type != EntryType::kOpaque) check_type(raw, entry);
  return true;
}

// Fills entry.path (and the type for whiteouts); false if the entry is to
// be dropped.
bool EntryChecker::check_name(const RawEntry& raw, Entry& entry) {
  normalize_path(raw.name, entry.path, opts_.max_name, opts_.max_path);
  last_path_ = entry.path;
  if (dir_has_prefix(entry.path, kWhMeta, "/.wh..wh.")) return false;  // inside AUFS bookkeeping
  if (dir_has_prefix(entry.path, kWhPrefix, "/.wh."))
    fail("{}: \".wh.\" names are only allowed as the last component", quote(entry.path));
  entry.type = EntryType::kRegular;
  std::string_view base = basename(entry.path);
  if (base.starts_with(kWhPrefix) && !whiteout(base, entry)) return false;
  return !dropped(entry.path);
}

// Turns `entry` into a whiteout or opaque entry; false for AUFS bookkeeping.
bool EntryChecker::whiteout(std::string_view base, Entry& entry) {
  if (base == kWhOpaque) {
    entry.type = EntryType::kOpaque;
    entry.path.resize(dirname(entry.path).size());
  } else if (base.starts_with(kWhMeta)) {
    return false;
  } else {
    std::string_view name = base.substr(kWhPrefix.size());
    if (name.empty() || name == "." || name == "..")
      fail("{}: whiteout of {} refused", quote(entry.path), quote(name));
    entry.type = EntryType::kWhiteout;
    std::string target = std::string(dirname(entry.path));
    if (!target.empty()) target += '/';
    target += name;
    entry.path = std::move(target);
  }
  entry.mode = entry.uid = entry.gid = 0;
  entry.mtime = 0;
  entry.mtime_nsec = 0;
  entry.size = 0;
  entry.link_target.clear();
  entry.xattrs.clear();
  seen_.erase(path_key(entry.path));
  return true;
}

bool EntryChecker::dropped(std::string_view path) const {
  if (path.empty()) return false;
  std::string_view top = top_level(path);
  return std::find(opts_.drop_top_level.begin(), opts_.drop_top_level.end(), top) != opts_.drop_top_level.end();
}

void EntryChecker::check_type(const RawEntry& raw, Entry& entry) {
  entry.mode = raw.perm & 07777;
  entry.uid = checked_id(raw.uid, entry.path, "uid");
  entry.gid = checked_id(raw.gid, entry.path, "gid");
  entry.mtime = raw.mtime;
  entry.mtime_nsec = raw.mtime_nsec;
  check_xattrs(raw, entry);
  entry.size = 0;
  entry.link_target.clear();
  switch (raw.type) {
    case RawEntry::Type::kHardlink: check_hardlink(raw.link, entry); break;
    case RawEntry::Type::kRegular:
      if (raw.size < 0) fail("{}: negative size", quote(entry.path));
      entry.type = EntryType::kRegular;
      entry.size = static_cast<uint64_t>(raw.size);
      break;
    case RawEntry::Type::kDirectory: entry.type = EntryType::kDirectory; break;
    case RawEntry::Type::kSymlink: check_symlink(raw.link, entry); break;
    case RawEntry::Type::kChar: fail("{}: character device refused", quote(entry.path));
    case RawEntry::Type::kBlock: fail("{}: block device refused", quote(entry.path));
    case RawEntry::Type::kFifo: fail("{}: FIFO refused", quote(entry.path));
    case RawEntry::Type::kSocket: fail("{}: socket refused", quote(entry.path));
    case RawEntry::Type::kUnknown: fail("{}: unknown entry type {:#o}", quote(entry.path), raw.unknown_type);
  }
  if (entry.path.empty() && entry.type != EntryType::kDirectory)
    fail("{}: the layer root must be a directory, not a {}", quote(raw.name), type_name(entry.type));
  if (entry.type == EntryType::kDirectory) {
    seen_.erase(path_key(entry.path));
  } else {
    seen_.insert(path_key(entry.path));
  }
}

// A hardlink's data, if a pax writer stored any, is ignored (as
// containers/storage does): the link shares its target's content.
void EntryChecker::check_hardlink(std::string_view raw_target, Entry& entry) {
  entry.type = EntryType::kHardlink;
  try {
    normalize_path(raw_target, entry.link_target, opts_.max_name, opts_.max_path);
  } catch (Error& e) {
    e.add_context(fmt::format("{}: hardlink target", quote(entry.path)));
    throw;
  }
  const std::string& t = entry.link_target;
  if (t.empty()) fail("{}: hardlink to the layer root refused", quote(entry.path));
  if (t == entry.path) fail("{}: hardlink to itself refused", quote(entry.path));
  if (!seen_.contains(path_key(t)))
    fail("{}: hardlink target {} is not an earlier file of this layer", quote(entry.path), quote(t));
}

void EntryChecker::check_symlink(std::string_view target, Entry& entry) {
  entry.type = EntryType::kSymlink;
  if (target.empty()) fail("{}: symlink with an empty target", quote(entry.path));
  entry.link_target = target;
  if (entry.link_target.size() > opts_.max_path)
    fail("{}: symlink target longer than {} bytes", quote(entry.path), opts_.max_path);
  if (!opts_.allow_escaping_symlinks && link_escapes(entry.path, entry.link_target))
    fail("{}: symlink target {} escapes the tree", quote(entry.path), quote(entry.link_target));
}

// Sorted by name; a name given twice keeps its last value (pax semantics).
void EntryChecker::check_xattrs(const RawEntry& raw, Entry& entry) {
  entry.xattrs.clear();
  for (auto& [name, value] : raw.xattrs) {
    if (name.empty()) fail("{}: xattr with an empty name", quote(entry.path));
    entry.xattrs.emplace_back(name, value);
  }
  auto& x = entry.xattrs;
  std::stable_sort(x.begin(), x.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  auto last = std::unique(x.rbegin(), x.rend(), [](const auto& a, const auto& b) { return a.first == b.first; });
  x.erase(x.begin(), last.base());
}

void LayerReader::emit() {
  bool regular = entry_.type == EntryType::kRegular;
  content_.reset(regular ? tar_.get() : nullptr, &entry_.path, regular ? entry_.size : 0);
  ++sum_.entries;
  sum_.content_bytes += entry_.size;
  visit_(entry_, content_);
  content_.reset(nullptr, nullptr, 0);
}

// Reads the uncompressed stream past the tar end marker to its true end,
// so that the decompressor checks its trailer and the diff_id covers every
// byte.
void LayerReader::drain() {
  const void* buf = nullptr;
  with_context("after the end of the tar stream", [&] {
    while (pull(&buf) > 0) {
    }
  });
}

Summary read_layer(int fd, const Options& opts, const Visitor& visit) {
  LayerReader reader(opts, visit);
  return reader.run(fd);
}

Summary read_layer_file(const std::string& path, const Options& opts, const Visitor& visit) {
  UniqueFd fd = open_file(path, O_RDONLY | O_CLOEXEC);
  posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return read_layer(fd.get(), opts, visit);
}

}  // namespace hull::layer
