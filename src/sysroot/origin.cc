#include "sysroot/origin.h"

#include <algorithm>

#include "util/error.h"

namespace hull::sysroot {
namespace {

// Splits "head:rest" at the first ':'.
std::pair<std::string_view, std::string_view> split_colon(std::string_view s) {
  size_t c = s.find(':');
  if (c == std::string_view::npos) fail("missing ':'");
  return {s.substr(0, c), s.substr(c + 1)};
}

[[noreturn]] void refuse_remote(std::string_view scheme) {
  fail("{} references are verified by an ostree remote's GPG keys, which hull does not do "
       "(use ostree-image-signed:, ostree-unverified-registry: or ostree-unverified-image:)",
       scheme);
}

// A containers/image reference "TRANSPORT:NAME" (ostree-ext's ImageReference).
image::ImageName parse_transport_ref(std::string_view s) {
  auto [transport, name] = split_colon(s);
  if (name.empty()) fail("empty image name");
  if (transport == "registry") return image::ImageName::parse(std::string("docker://") + std::string(name));
  if (transport == "docker") {
    if (!name.starts_with("//")) fail("missing // in docker://");
    return image::ImageName::parse(s);
  }
  if (transport == "oci" || transport == "oci-archive") return image::ImageName::parse(s);
  if (transport == "containers-storage" || transport == "dir" || transport == "docker-archive" ||
      transport == "docker-daemon")
    fail("the {} transport is not supported by hull (use registry, oci or oci-archive)", transport);
  fail("unknown transport \"{}\"", transport);
}

// GKeyFile's value escapes.
std::string unescape(std::string_view v, size_t line) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\\') {
      out += v[i];
      continue;
    }
    if (++i == v.size()) fail("origin file line {}: value ends in a lone backslash", line);
    switch (v[i]) {
      case 's': out += ' '; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '\\': out += '\\'; break;
      default: fail("origin file line {}: invalid escape \\{}", line, v[i]);
    }
  }
  return out;
}

// g_key_file_parse_string_as_value: leading spaces and tabs, and every
// newline, carriage return and backslash, escaped.
std::string escape(std::string_view v) {
  std::string out;
  bool leading = true;
  for (char c : v) {
    if (c == ' ' && leading) {
      out += "\\s";
    } else if (c == '\t' && leading) {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += c;
      leading = false;
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

void parse_origin_line(std::string_view raw, size_t line, Origin& o) {
  std::string_view l = trim_left(raw);
  if (l.empty() || l.front() == '#') return;
  if (l.front() == '[') {
    l = trim(l);
    if (l.back() != ']' || l.size() < 3) fail("origin file line {}: invalid group header \"{}\"", line, raw);
    o.groups.push_back({std::string(l.substr(1, l.size() - 2)), {}});
    return;
  }
  if (o.groups.empty()) fail("origin file line {}: key outside any [group]", line);
  size_t eq = l.find('=');
  if (eq == std::string_view::npos) fail("origin file line {}: expected key=value, got \"{}\"", line, raw);
  std::string_view key = trim(l.substr(0, eq));
  if (key.empty()) fail("origin file line {}: empty key", line);
  std::string_view value = l.substr(eq + 1);
  if (value.ends_with('\r')) value.remove_suffix(1);
  o.groups.back().entries.emplace_back(std::string(key), unescape(trim_left(value), line));
}

}  // namespace

std::string origin_image_ref(const image::ImageName& name, bool enforce_signatures) {
  if (enforce_signatures) return "ostree-image-signed:" + name.str();
  if (name.transport == image::Transport::kDocker) return "ostree-unverified-registry:" + name.ref.str();
  return "ostree-unverified-image:" + name.str();
}

image::ImageName parse_origin_image_ref(std::string_view s, bool* enforce_signatures) {
  return with_context(fmt::format("invalid origin image reference \"{}\"", s), [&] {
    auto [scheme, rest] = split_colon(s);
    if (enforce_signatures) *enforce_signatures = scheme == "ostree-image-signed";
    if (scheme == "ostree-unverified-registry") {
      if (rest.empty()) fail("empty image name");
      return image::ImageName::parse(std::string("docker://") + std::string(rest));
    }
    if (scheme == "ostree-unverified-image" || scheme == "ostree-image-signed") return parse_transport_ref(rest);
    if (scheme == "ostree-remote-image" || scheme == "ostree-remote-registry") refuse_remote(scheme);
    fail("unknown scheme \"{}\" (expected ostree-unverified-registry:, ostree-unverified-image: or ostree-image-signed:)", scheme);
  });
}

const std::string* Origin::get(std::string_view group, std::string_view key) const {
  for (const Group& g : groups) {
    if (g.name != group) continue;
    for (const auto& [k, v] : g.entries)
      if (k == key) return &v;
  }
  return nullptr;
}

void Origin::set(std::string_view group, std::string_view key, std::string value) {
  auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.name == group; });
  if (g == groups.end()) g = groups.insert(groups.end(), Group{std::string(group), {}});
  for (auto& [k, v] : g->entries) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  g->entries.emplace_back(std::string(key), std::move(value));
}

bool Origin::has_group(std::string_view group) const {
  return std::any_of(groups.begin(), groups.end(), [&](const Group& g) { return g.name == group; });
}

Origin parse_origin(std::string_view text) {
  Origin o;
  size_t line = 0;
  while (!text.empty()) {
    ++line;
    size_t nl = text.find('\n');
    parse_origin_line(text.substr(0, nl), line, o);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return o;
}

std::string render_origin(const Origin& origin) {
  std::string out;
  for (const Origin::Group& g : origin.groups) {
    if (!out.empty()) out += "\n";
    out += "[" + g.name + "]\n";
    for (const auto& [k, v] : g.entries) out += k + "=" + escape(v) + "\n";
  }
  return out;
}

Origin origin_for_image(const image::ImageName& name, bool enforce_signatures) {
  Origin o;
  o.set(kOriginGroup, kOriginImageKey, origin_image_ref(name, enforce_signatures));
  return o;
}

std::optional<image::ImageName> origin_container_image(const Origin& origin, bool* enforce_signatures) {
  if (enforce_signatures) *enforce_signatures = false;
  const std::string* ref = origin.get(kOriginGroup, kOriginImageKey);
  if (!ref) return std::nullopt;
  return parse_origin_image_ref(*ref, enforce_signatures);
}

bool origin_incompatible(const Origin& origin) {
  for (const char* g : {"rpmostree", "packages", "overrides", "modules"})
    if (origin.has_group(g)) return true;
  return false;
}

}  // namespace hull::sysroot
