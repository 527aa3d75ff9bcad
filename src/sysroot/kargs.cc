#include "sysroot/kargs.h"
#include "sysroot/toml_type.h"

#include <toml++/toml.h>

#include <algorithm>

#include "util/error.h"

namespace hull::sysroot {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// An argument as key and value, quotes removed as the kernel does: the
// argument's outer quotes, and a quote right after '='.
struct Param {
  std::string_view key;
  std::optional<std::string_view> value;
};

Param parse_param(std::string_view p) {
  if (p.starts_with('"')) p.remove_prefix(1);
  if (p.ends_with('"')) p.remove_suffix(1);
  size_t eq = p.find('=');
  if (eq == std::string_view::npos) return {p, std::nullopt};
  std::string_view value = p.substr(eq + 1);
  if (value.starts_with('"')) value.remove_prefix(1);
  return {p.substr(0, eq), value};
}

bool same_key(std::string_view a, std::string_view b) {
  auto canon = [](char c) { return c == '-' ? '_' : c; };
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [&](char x, char y) { return canon(x) == canon(y); });
}

bool contains_karg(const std::vector<std::string>& list, std::string_view k) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& x) { return same_karg(x, k); });
}

// Appends `k` unless the same argument is there (bootc's Cmdline::add).
void add_karg(std::vector<std::string>& list, std::string_view k) {
  if (!contains_karg(list, k)) list.emplace_back(k);
}

std::vector<std::string> string_array(std::string_view name, std::string_view key, const toml::node& n) {
  const toml::array* arr = n.as_array();
  if (!arr) fail("{}: \"{}\" must be an array of strings, not {}", name, key, toml_type_name(n));
  std::vector<std::string> out;
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& item = *arr->get(i);
    if (!item.is_string())
      fail("{}: \"{}\"[{}] must be a string, not {}", name, key, i, toml_type_name(item));
    out.push_back(item.as_string()->get());
  }
  return out;
}

toml::table parse_toml(std::string_view name, std::string_view text) {
  try {
    return toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    fail("{}: line {}, column {}: {}", name, at.line, at.column, e.description());
  }
}

}  // namespace

std::vector<std::string> split_kargs(std::string_view cmdline) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < cmdline.size()) {
    while (i < cmdline.size() && is_space(cmdline[i])) ++i;
    if (i == cmdline.size()) break;
    size_t start = i;
    bool quoted = false;
    for (; i < cmdline.size() && (quoted || !is_space(cmdline[i])); ++i)
      if (cmdline[i] == '"') quoted = !quoted;
    out.emplace_back(cmdline.substr(start, i - start));
  }
  return out;
}

std::string join_kargs(const std::vector<std::string>& kargs) {
  std::string out;
  for (const std::string& k : kargs) {
    if (!out.empty()) out += ' ';
    out += k;
  }
  return out;
}

bool same_karg(std::string_view a, std::string_view b) {
  Param pa = parse_param(a), pb = parse_param(b);
  return same_key(pa.key, pb.key) && pa.value == pb.value;
}

KargsFile parse_kargs_file(std::string_view name, std::string_view text) {
  toml::table t = parse_toml(name, text);
  KargsFile f;
  bool have_kargs = false;
  for (const auto& [key, value] : t) {
    if (key == "kargs") {
      f.kargs = split_kargs(join_kargs(string_array(name, key.str(), value)));
      have_kargs = true;
    } else if (key == "match-architectures") {
      f.match_architectures = string_array(name, key.str(), value);
    } else {
      fail("{}: unknown key \"{}\" (expected kargs, match-architectures)", name, key.str());
    }
  }
  if (!have_kargs) fail("{}: missing key \"kargs\"", name);
  return f;
}

bool kargs_file_applies(const KargsFile& file, std::string_view arch) {
  if (!file.match_architectures) return true;
  const auto& arches = *file.match_architectures;
  return std::find(arches.begin(), arches.end(), arch) != arches.end();
}

std::string kargs_arch(std::string_view m) {
  if (m == "ppc64le" || m == "ppc64") return "powerpc64";
  if (m == "ppc") return "powerpc";
  if (m == "i386" || m == "i486" || m == "i586" || m == "i686") return "x86";
  if (m == "arm64") return "aarch64";
  if (m.starts_with("armv") || m == "arm") return "arm";
  return std::string(m);
}

std::vector<std::string> kargs_from_files(std::vector<std::pair<std::string, std::string>> files,
                                          std::string_view arch) {
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (const auto& [name, text] : files) {
    if (!name.ends_with(".toml")) continue;
    KargsFile f = parse_kargs_file(name, text);
    if (!kargs_file_applies(f, arch)) continue;
    for (const std::string& k : f.kargs) add_karg(out, k);
  }
  return out;
}

std::vector<std::string> apply_kargs_diff(const std::vector<std::string>& current,
                                          const std::vector<std::string>& old_image_kargs,
                                          const std::vector<std::string>& new_image_kargs) {
  std::vector<std::string> out;
  for (const std::string& k : current) {
    bool dropped = contains_karg(old_image_kargs, k) && !contains_karg(new_image_kargs, k);
    if (!dropped) out.push_back(k);
  }
  for (const std::string& k : new_image_kargs)
    if (!contains_karg(old_image_kargs, k)) add_karg(out, k);
  return out;
}

}  // namespace hull::sysroot
