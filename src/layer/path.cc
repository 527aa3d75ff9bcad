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
      fail("{}: path longer than {} bytes", quote(raw), max_path);
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

namespace {

void append_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
}

}  // namespace

// Why shorten in quote() itself rather than at each caller: every caller
// is a one-line error about a name taken from a layer, and a hostile layer
// chooses how long that name is (pax headers allow any length). The start
// and the end are what tell a reader which entry it was; the length says
// how much was left out. The ellipsis is U+2026, which the escaping above
// can never produce from the name itself (it writes non-ASCII as \xNN), so
// it cannot be mistaken for bytes of the name.
std::string quote(std::string_view s) {
  std::string out;
  out += '"';
  if (s.size() <= kQuoteMaxBytes) {
    append_escaped(out, s);
    out += '"';
    return out;
  }
  append_escaped(out, s.substr(0, kQuoteHeadBytes));
  out += "\u2026";
  append_escaped(out, s.substr(s.size() - kQuoteTailBytes));
  out += "\" (";
  out += std::to_string(s.size());
  out += " bytes)";
  return out;
}

}  // namespace hull::layer
