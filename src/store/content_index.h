// The content index: sha256 of a file's content -> a content object of the
// repository that holds exactly that content.
//
// libostree names a file object by a checksum over its owner, mode, xattrs
// and content together (reference/updates.md §3), so the sha256 that a
// zstd:chunked table of contents gives for a file cannot be looked up in
// the repository directly. The index closes that gap: every import (full
// or partial) adds the sha256 of each regular file it writes, and a
// partial pull asks it which files it already has, whatever their owner.
//
// The file: <repo>/extensions/hull/content-index, written atomically
// (temp + fsync + rename) after each pull and prune.
//   "HULLCIDX" | u32 LE version (1) | u32 LE record size (64) | u64 LE count
//   | count records sorted by key: 32 bytes sha256 of the content,
//     32 bytes the object's checksum (binary)
//   | 32 bytes sha256 of everything before it.
// 200k files are 12.8 MB, read whole and searched in place (binary
// search), so a lookup costs ~18 comparisons and opening costs one read
// and one hash of the file.
//
// Truth: a record may name an object that prune has since removed (two
// processes, a crash between prune and the index write): find() checks the
// object exists. A missing, damaged (trailer mismatch, bad size) or
// other-version file is rebuilt from the repository's file objects, which
// costs a read of every file once. Losing records (a crash between the
// ostree transaction and the index write) only costs re-fetching.
#pragma once

#include <ostree.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hull::store {

class ContentIndex {
 public:
  using Key = std::array<unsigned char, 32>;

  // Opens the index of `repo`, rebuilding it if it is missing or damaged.
  explicit ContentIndex(OstreeRepo* repo);
  ContentIndex(const ContentIndex&) = delete;
  ContentIndex& operator=(const ContentIndex&) = delete;

  // The checksum (hex) of an existing object whose content has sha256
  // `sha256_hex`, or nullopt. Thread-safe.
  std::optional<std::string> find(std::string_view sha256_hex) const;
  // Records that object `checksum_hex` has content `sha256_hex`; kept in
  // memory until save(). Thread-safe.
  void add(std::string_view sha256_hex, std::string_view checksum_hex);
  // Writes the index if anything changed since it was opened.
  void save();
  // Drops records whose objects no longer exist, then saves.
  void drop_missing();

  size_t size() const;
  // True if opening found no usable file and rebuilt the index.
  bool rebuilt() const { return rebuilt_; }

  // The file's path inside a repository directory.
  static constexpr const char* kPath = "extensions/hull/content-index";
  static constexpr uint32_t kVersion = 1;

 private:
  struct Record {
    Key key;
    Key object;
  };
  bool load();
  void rebuild();
  bool object_exists(const Key& object) const;

  OstreeRepo* repo_;
  std::vector<Record> sorted_;
  std::unordered_map<std::string, Key> pending_;  // binary key bytes -> object
  mutable std::mutex mu_;
  bool dirty_ = false;
  bool rebuilt_ = false;
};

// sha256 hex <-> 32 raw bytes; throws for malformed hex.
ContentIndex::Key key_from_hex(std::string_view hex);
std::string key_to_hex(const ContentIndex::Key& k);

}  // namespace hull::store
