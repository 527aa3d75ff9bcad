#include "layer/path.h"

#include "util/error.h"

namespace hull::layer {

// Why strip a leading "/" instead of refusing it: the name is only ever used
// relative to the tree being built, so "/x" cannot reach anything but the
// tree's own "x"; GNU tar, Go's archive/tar users (containers/storage,
// moby) and ostree-ext all accept such names, and a layer made by a tool
// that writes them is still a valid image. What can escape is "..", and
// that is refused outright.
void normalize_path(std::string_view raw, std::string& out, size_t max_name, size_t max_path) {
  out.clear();
  if (raw.empty()) fail("\"\": empty name");
  size_t i = 0;
  while (i < raw.size()) {
    size_t end = raw.find('/', i);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view comp = raw.substr(i, end - i);
    i = end + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") fail("{}: \"..\" component refused", quote(raw));
    if (comp.size() > max_name)
      fail("{}: a component is {} bytes (limit {})", quote(raw), comp.size(), max_name);
    if (!out.empty()) out += '/';
    out += comp;
    if (out.size() > max_path)
      fail("{}: path longer than {} bytes", quote(raw.substr(0, 200)), max_path);
  }
}

std::string normalize_path(std::string_view raw) {
  std::string out;
  normalize_path(raw, out);
  return out;
}

bool link_escapes(std::string_view path, std::string_view target) {
  // Depth below the root of the directory being resolved from.
  size_t depth = 0;
  if (target.empty() || target.front() != '/') {
    for (char c : path) depth += c == '/';  // the link's directory
  }
  size_t i = 0;
  while (i <= target.size()) {
    size_t end = target.find('/', i);
    if (end == std::string_view::npos) end = target.size();
    std::string_view comp = target.substr(i, end - i);
    i = end + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      if (depth == 0) return true;
      --depth;
    } else {
      ++depth;
    }
  }
  return false;
}

std::string quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  out += '"';
  return out;
}

}  // namespace hull::layer
