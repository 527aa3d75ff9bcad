#include "sysroot/var_notes.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

namespace hull::sysroot {

std::vector<std::string> VarNotes::finish() {
  std::string text = capture_.finish();
  static constexpr std::string_view kHead = "note: Deploying commit ", kIn = " which contains content in /var/",
                                    kTail = " that will be ignored.";
  std::vector<std::string> entries;
  std::string rest;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    size_t next = nl == std::string::npos ? text.size() : nl + 1;
    std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    size_t at = line.find(kIn);
    if (line.starts_with(kHead) && at != std::string_view::npos && line.ends_with(kTail) &&
        at + kIn.size() <= line.size() - kTail.size()) {
      entries.emplace_back(line.substr(at + kIn.size(), line.size() - kTail.size() - at - kIn.size()));
    } else {
      rest.append(text, pos, next - pos);  // with its newline, if it had one
    }
    pos = next;
  }
  replay_stderr(rest);
  return entries;
}

std::string var_note(const std::vector<std::string>& entries) {
  if (entries.empty()) return {};
  std::string names;
  size_t shown = 0;
  for (const auto& e : entries) {
    bool plain = !e.empty() && e.size() <= 32 &&
                 std::all_of(e.begin(), e.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (!plain) continue;
    if (shown == 4) {
      names += ", …";
      break;
    }
    names += (shown++ ? ", " : "") + e;
  }
  return fmt::format("/var of the image ({} {}{}) not applied: /var is this machine's, an image's /var only seeds "
                     "a new install",
                     entries.size(), entries.size() == 1 ? "entry" : "entries", names.empty() ? "" : ": " + names);
}

}  // namespace hull::sysroot
