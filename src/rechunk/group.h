// Grouping the files of an image's tree into layers: a pure function from
// what the dpkg database says ({package -> files, source, priority}) and the
// tree's entries (path, size) to an ordered list of groups, one per layer.
// No I/O; rechunk.h describes the rules and why.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hull::rechunk {

// One installed dpkg package.
struct Package {
  std::string name;      // "libc6"
  std::string source;    // "glibc" (the name itself when the status has no Source:)
  std::string priority;  // "required", "important", "optional", ...
  uint64_t installed_size_kib = 0;
  // The paths of its .list, relative and canonical (canonical_path), files
  // and directories alike, as dpkg records them.
  std::vector<std::string> paths;
};

// One entry of the tree that must land in some layer: every non-directory
// and every directory without entries below it. Directories with entries
// are carried by the layers of those entries (as ancestors).
struct Item {
  std::string path;   // relative, no leading '/': "usr/bin/bash"
  uint64_t size = 0;  // content bytes (0 for links and directories)
};

struct PlanInput {
  std::vector<Package> packages;
  std::vector<Item> items;
  // Where the dpkg database is, relative ("usr/lib/sysimage/dpkg" or
  // "var/lib/dpkg"); empty when the tree has none.
  std::string dpkg_dir;
  int max_layers = 64;
  // A source whose files weigh at least this much may get a layer of its own.
  uint64_t min_own_layer_bytes = 1u << 20;
};

struct Group {
  enum Kind { kPackages, kBucket, kUnowned, kMetadata };
  Kind kind = kPackages;
  // "packages libc6 libc-bin", "unowned usr/bin", "metadata": the history
  // entry's created_by after "hull rechunk: ".
  std::string label;
  std::vector<std::string> packages;  // sorted (kPackages, kBucket)
  std::vector<size_t> items;          // indexes into PlanInput::items, sorted by path
  uint64_t bytes = 0;
};

// The layers for `in`, in their order in the image: packages with a layer
// of their own (by source name), the buckets of small packages, unowned
// files by directory, the metadata layer last. Empty groups are dropped; at
// most max(2, in.max_layers) groups. Every item is in exactly one group.
std::vector<Group> plan_groups(const PlanInput& in);

// `path` (relative) with every directory component that is a symlink in
// the tree resolved, as the kernel would resolve it with the tree as "/"
// (the last component is kept as is): "bin/bash" -> "usr/bin/bash" when
// bin -> usr/bin. `symlinks` maps relative paths to their targets. Paths
// that climb out of the root stay at the root, loops stop after 40 links.
std::string canonical_path(std::string_view path, const std::map<std::string, std::string>& symlinks);

// A stable hash (FNV-1a, 64 bit) of `s`: the same in every build and on every host.
uint64_t stable_hash(std::string_view s);

// One paragraph of a dpkg status file.
struct StatusEntry {
  std::string package, source, priority, status, architecture;
  uint64_t installed_size_kib = 0;
};
// Parses a dpkg status file (RFC 822-like paragraphs). The Source field's
// "(version)" is dropped. Refuses a paragraph without Package:.
std::vector<StatusEntry> parse_status(std::string_view text);

}  // namespace hull::rechunk
