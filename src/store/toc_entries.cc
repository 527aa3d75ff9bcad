#include "store/toc_entries.h"

#include "util/error.h"

namespace hull::store {
namespace {

layer::RawEntry::Type raw_type(const chunked::TocEntry& t) {
  using T = layer::RawEntry::Type;
  if (t.type == "reg") return T::kRegular;
  if (t.type == "dir") return T::kDirectory;
  if (t.type == "symlink") return T::kSymlink;
  if (t.type == "hardlink") return T::kHardlink;
  if (t.type == "char") return T::kChar;
  if (t.type == "block") return T::kBlock;
  if (t.type == "fifo") return T::kFifo;
  return T::kUnknown;
}

std::string describe(const layer::Entry& e) {
  return fmt::format("{} {:o} {}:{} size {}{}", layer::type_name(e.type), e.mode, e.uid, e.gid, e.size,
                     e.link_target.empty() ? "" : " -> " + layer::quote(e.link_target));
}

}  // namespace

std::vector<TocFile> toc_files(const chunked::Toc& toc, const layer::Options& lo) {
  std::vector<TocFile> out;
  layer::EntryChecker checker(lo);
  for (const chunked::TocEntry& t : toc.entries) {
    if (t.type == "chunk") continue;  // parts of the file before it; its offsets cover them
    layer::RawEntry raw;
    raw.name = t.name;
    raw.type = raw_type(t);
    raw.link = t.link_name;
    raw.perm = t.mode & 07777;
    raw.uid = t.uid;
    raw.gid = t.gid;
    raw.mtime = t.mtime.value_or(0);
    raw.mtime_nsec = t.mtime_nsec;
    raw.size = t.type == "reg" ? static_cast<int64_t>(t.size) : 0;
    raw.xattrs = t.xattrs;
    TocFile f;
    if (!with_context("table of contents", [&] { return checker.check(raw, f.entry); })) continue;
    if (f.entry.type == layer::EntryType::kRegular && f.entry.size > 0) {
      if (!t.digest.starts_with("sha256:") || t.digest.size() != 7 + 64)
        fail("table of contents: {}: no sha256 digest", layer::quote(f.entry.path));
      f.sha256_hex = t.digest.substr(7);
      f.offset = t.offset;
      f.end_offset = t.end_offset;
      if (f.end_offset <= f.offset)
        fail("table of contents: {}: empty payload range for {} bytes", layer::quote(f.entry.path), f.entry.size);
    }
    out.push_back(std::move(f));
  }
  return out;
}

void TocMatcher::next(const layer::Entry& e) {
  if (pos_ >= files_.size())
    fail("the table of contents disagrees with the tar stream at {}: not in the table", layer::quote(e.path));
  const layer::Entry& t = files_[pos_].entry;
  bool same = t.path == e.path && t.type == e.type && t.mode == e.mode && t.uid == e.uid && t.gid == e.gid &&
              t.size == e.size && t.link_target == e.link_target && t.xattrs == e.xattrs;
  if (!same) {
    if (t.path != e.path)
      fail("the table of contents disagrees with the tar stream: entry {} is {} in the table, {} in the stream", pos_,
           layer::quote(t.path), layer::quote(e.path));
    fail("the table of contents disagrees with the tar stream at {}: {} in the table, {} in the stream",
         layer::quote(e.path), describe(t), describe(e));
  }
  pos_++;
}

void TocMatcher::content(size_t index, const std::string& sha256_hex) const {
  const TocFile& f = files_.at(index);
  if (f.entry.type != layer::EntryType::kRegular || f.entry.size == 0) return;
  if (f.sha256_hex != sha256_hex)
    fail("the table of contents disagrees with the tar stream at {}: content is sha256:{}, the table says sha256:{}",
         layer::quote(f.entry.path), sha256_hex.substr(0, 12), f.sha256_hex.substr(0, 12));
}

void TocMatcher::finish() const {
  if (pos_ != files_.size())
    fail("the table of contents disagrees with the tar stream: the table lists {} more entries, from {}",
         files_.size() - pos_, layer::quote(files_[pos_].entry.path));
}

}  // namespace hull::store
