#include "rechunk/group.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "util/error.h"

namespace hull::rechunk {
namespace {

// Files that change with every build whatever the packages do: caches,
// logs, machine identity, backups of the account files, the image's own
// version stamp. They go to the metadata layer with the dpkg database.
constexpr std::string_view kVolatileFiles[] = {
    "etc/ld.so.cache",   "etc/machine-id",   "var/lib/dbus/machine-id", "etc/.pwd.lock",
    "etc/passwd-",       "etc/group-",       "etc/shadow-",             "etc/gshadow-",
    "etc/subuid-",       "etc/subgid-",      "usr/lib/os-release",      "var/lib/systemd/random-seed",
    "etc/adjtime",       "usr/share/info/dir",
};
constexpr std::string_view kVolatileDirs[] = {
    "var/cache/", "var/log/", "var/lib/apt/", "var/lib/ucf/", "var/lib/systemd/catalog/", "var/tmp/",
};

bool is_volatile(std::string_view path) {
  for (auto f : kVolatileFiles)
    if (path == f) return true;
  for (auto d : kVolatileDirs)
    if (path.starts_with(d) || path == d.substr(0, d.size() - 1)) return true;
  return false;
}

std::vector<std::string_view> split(std::string_view p) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    if (end > start) out.push_back(p.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The directory an unowned item is grouped by: its parent, cut to one
// component ("etc", "opt"), two under usr/ and var/ ("usr/bin"), three under
// usr/lib, usr/share, var/lib ("usr/lib/modules"). "" for the root.
std::string dir_key(std::string_view path) {
  auto parts = split(path);
  if (!parts.empty()) parts.pop_back();
  size_t depth = 1;
  if (!parts.empty() && (parts[0] == "usr" || parts[0] == "var")) {
    depth = 2;
    if (parts.size() >= 2 && ((parts[0] == "usr" && (parts[1] == "lib" || parts[1] == "share")) ||
                              (parts[0] == "var" && parts[1] == "lib")))
      depth = 3;
  }
  std::string key;
  for (size_t i = 0; i < std::min(depth, parts.size()); i++) {
    if (i) key += '/';
    key += parts[i];
  }
  return key;
}

// The package a dpkg info file belongs to: "libglib2.0-0:amd64.list" ->
// "libglib2.0-0", trying the longest stem first; -1 if none.
long info_owner(std::string_view file, const std::unordered_map<std::string, size_t>& by_name) {
  for (size_t dot = file.rfind('.'); dot != std::string_view::npos && dot > 0; dot = file.rfind('.', dot - 1)) {
    std::string_view stem = file.substr(0, dot);
    if (auto colon = stem.find(':'); colon != std::string_view::npos) stem = stem.substr(0, colon);
    auto it = by_name.find(std::string(stem));
    if (it != by_name.end()) return static_cast<long>(it->second);
    if (dot == 0) break;
  }
  return -1;
}

std::string join_label(std::string prefix, const std::vector<std::string>& names) {
  constexpr size_t kMaxNames = 12;
  for (size_t i = 0; i < names.size() && i < kMaxNames; i++) prefix += " " + names[i];
  if (names.size() > kMaxNames) prefix += fmt::format(" (+{} more)", names.size() - kMaxNames);
  return prefix;
}

}  // namespace

uint64_t stable_hash(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string canonical_path(std::string_view path, const std::map<std::string, std::string>& symlinks) {
  std::vector<std::string> todo;
  for (auto p : split(path)) todo.emplace_back(p);
  std::reverse(todo.begin(), todo.end());  // a stack: next component at the back
  std::vector<std::string> out;
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.back());
    todo.pop_back();
    if (c == ".") continue;
    if (c == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(c);
    if (todo.empty()) break;  // the last component is not resolved
    std::string cur;
    for (size_t i = 0; i < out.size(); i++) cur += (i ? "/" : "") + out[i];
    auto it = symlinks.find(cur);
    if (it == symlinks.end() || ++links > 40) continue;
    out.pop_back();
    if (!it->second.empty() && it->second[0] == '/') out.clear();
    auto target = split(it->second);
    for (auto t = target.rbegin(); t != target.rend(); ++t) todo.emplace_back(*t);
  }
  std::string r;
  for (size_t i = 0; i < out.size(); i++) r += (i ? "/" : "") + out[i];
  return r;
}

std::vector<StatusEntry> parse_status(std::string_view text) {
  std::vector<StatusEntry> out;
  StatusEntry cur;
  bool any = false;
  auto flush = [&] {
    if (!any) return;
    if (cur.package.empty()) fail("dpkg status: a paragraph has no Package: field");
    if (cur.source.empty()) cur.source = cur.package;
    out.push_back(std::move(cur));
    cur = {};
    any = false;
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      flush();
      if (end == text.size()) break;
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t') continue;  // continuation of a multi-line field
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon), value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
    any = true;
    if (key == "Package") cur.package = value;
    else if (key == "Source") cur.source = value.substr(0, value.find(' '));
    else if (key == "Priority") cur.priority = value;
    else if (key == "Status") cur.status = value;
    else if (key == "Architecture") cur.architecture = value;
    else if (key == "Installed-Size") {
      uint64_t v = 0;
      for (char c : value) {
        if (c < '0' || c > '9') break;
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      cur.installed_size_kib = v;
    }
    if (end == text.size()) break;
  }
  flush();
  return out;
}

std::vector<Group> plan_groups(const PlanInput& in) {
  const size_t n = in.items.size();
  // Who owns each item: a package index, or kMeta / kNone.
  constexpr long kNone = -1, kMeta = -2;
  std::vector<long> owner(n, kNone);

  // Path -> package: a path listed by several packages (diversions, files
  // moved between packages) goes to the package whose name sorts first.
  std::unordered_map<std::string, size_t> by_name;
  for (size_t p = 0; p < in.packages.size(); p++) by_name.emplace(in.packages[p].name, p);
  std::unordered_map<std::string, size_t> path_owner;
  for (size_t p = 0; p < in.packages.size(); p++)
    for (auto& path : in.packages[p].paths) {
      auto [it, fresh] = path_owner.emplace(path, p);
      if (!fresh && in.packages[p].name < in.packages[it->second].name) it->second = p;
    }

  const std::string dpkg_prefix = in.dpkg_dir.empty() ? std::string() : in.dpkg_dir + "/";
  const std::string info_prefix = dpkg_prefix + "info/";
  for (size_t i = 0; i < n; i++) {
    std::string_view path = in.items[i].path;
    if (!dpkg_prefix.empty() && (path.starts_with(dpkg_prefix) || path == in.dpkg_dir)) {
      // A package's own info files change only with it; the rest of the
      // database (status, available, triggers, alternatives) with every build.
      std::string_view file = path.substr(std::min(path.size(), info_prefix.size()));
      if (path.starts_with(info_prefix) && file.find('/') == std::string_view::npos)
        owner[i] = info_owner(file, by_name);
      if (owner[i] == kNone) owner[i] = kMeta;
      continue;
    }
    if (is_volatile(path)) {
      owner[i] = kMeta;
      continue;
    }
    auto it = path_owner.find(std::string(path));
    if (it != path_owner.end()) owner[i] = static_cast<long>(it->second);
  }

  // Units: source packages (a source's binary packages change together)
  // and directories of unowned items.
  std::map<std::string, uint64_t> source_bytes;
  std::map<std::string, uint64_t> dir_bytes;
  std::vector<std::string> item_unit(n);  // "s:SOURCE" or "d:DIR"
  for (size_t i = 0; i < n; i++) {
    if (owner[i] >= 0) {
      const std::string& src = in.packages[static_cast<size_t>(owner[i])].source;
      item_unit[i] = "s:" + src;
      source_bytes[src] += in.items[i].size;
    } else if (owner[i] == kNone) {
      std::string key = dir_key(in.items[i].path);
      item_unit[i] = "d:" + key;
      dir_bytes[key] += in.items[i].size;
    }
  }

  // The budget: one metadata layer; the rest split between unowned
  // directories (an eighth), buckets of small sources (a quarter of what
  // is left, at most 16) and sources with a layer of their own.
  const int layers = std::max(2, in.max_layers);
  const int avail = layers - 1;
  std::map<std::string, std::string> unit_group;  // unit -> group key
  if (avail < 3) {
    // Too few layers for the split: every unit hashed into `avail` buckets.
    for (auto& [s, b] : source_bytes) unit_group["s:" + s] = fmt::format("b{:04}", stable_hash(s) % avail);
    for (auto& [d, b] : dir_bytes) unit_group["d:" + d] = fmt::format("b{:04}", stable_hash(d) % avail);
  } else {
    const int ndirs = static_cast<int>(dir_bytes.size());
    int unowned_slots = source_bytes.empty() ? std::min(ndirs, avail) : std::min(ndirs, std::max(1, avail / 8));
    int rest = avail - unowned_slots;
    int buckets = std::clamp(rest / 4, 1, 16);
    int own_slots = rest - buckets;
    std::vector<std::pair<uint64_t, std::string>> big;
    for (auto& [s, b] : source_bytes)
      if (b >= in.min_own_layer_bytes) big.emplace_back(b, s);
    std::sort(big.begin(), big.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    std::set<std::string> own;
    for (size_t k = 0; k < big.size() && static_cast<int>(k) < own_slots; k++) own.insert(big[k].second);
    for (auto& [s, b] : source_bytes)
      unit_group["s:" + s] = own.count(s) ? "p:" + s : fmt::format("q{:04}", stable_hash(s) % buckets);
    // More directories than slots: the biggest get slots of their own (the
    // kernel's initramfs, a binary the image adds), the others are hashed
    // into a fixed half of the slots, so that the modulus does not move.
    const int hashed = std::max(1, unowned_slots / 2);
    std::set<std::string> own_dirs;
    if (ndirs <= unowned_slots) {
      for (auto& [d, b] : dir_bytes) own_dirs.insert(d);
    } else {
      std::vector<std::pair<uint64_t, std::string>> bigd;
      for (auto& [d, b] : dir_bytes)
        if (b >= in.min_own_layer_bytes) bigd.emplace_back(b, d);
      std::sort(bigd.begin(), bigd.end(),
                [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
      for (size_t k = 0; k < bigd.size() && static_cast<int>(k) < unowned_slots - hashed; k++)
        own_dirs.insert(bigd[k].second);
    }
    for (auto& [d, b] : dir_bytes)
      unit_group["d:" + d] = own_dirs.count(d) ? "u:" + d : fmt::format("v{:04}", stable_hash(d) % hashed);
  }

  // Group keys sort into the image's order: p: (own), q (buckets),
  // u:/v (unowned), then metadata.
  std::map<std::string, Group> groups;
  for (size_t i = 0; i < n; i++) {
    std::string key = owner[i] == kMeta ? "~meta" : unit_group.at(item_unit[i]);
    Group& g = groups[key];
    g.items.push_back(i);
    g.bytes += in.items[i].size;
  }
  std::vector<Group> out;
  for (auto& [key, g] : groups) {
    std::set<std::string> pkgs, dirs;
    for (size_t i : g.items) {
      if (owner[i] >= 0) pkgs.insert(in.packages[static_cast<size_t>(owner[i])].name);
      else if (owner[i] == kNone) dirs.insert("/" + dir_key(in.items[i].path));
    }
    g.packages.assign(pkgs.begin(), pkgs.end());
    std::vector<std::string> dirv(dirs.begin(), dirs.end());
    switch (key[0]) {
      case 'p':
        g.kind = Group::kPackages;
        g.label = join_label("packages", g.packages);
        break;
      case 'q':
        g.kind = Group::kBucket;
        g.label = join_label("small packages", g.packages);
        break;
      case 'b':
        g.kind = Group::kBucket;
        g.label = join_label(join_label("packages", g.packages) + "; files in", dirv);
        break;
      case 'u':
      case 'v':
        g.kind = Group::kUnowned;
        g.label = join_label("files in", dirv);
        break;
      default:
        g.kind = Group::kMetadata;
        g.label = "dpkg database and files that change with every build";
    }
    std::sort(g.items.begin(), g.items.end(), [&](size_t a, size_t b) { return in.items[a].path < in.items[b].path; });
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace hull::rechunk
