// Path rules for tar layers: how an entry name becomes a path inside the
// image's tree, and what counts as escaping that tree. Pure functions over
// bytes; the reader (layer/reader.h) applies them to every entry.
//
// Decisions (the "why" is in path.cc):
//  - Names are byte strings (Linux file names), not required to be UTF-8.
//  - A leading "/" is stripped, as GNU tar and containers/storage do: every
//    path is relative to the layer root, so "/etc/passwd" is "etc/passwd".
//  - "." and empty components are dropped ("./a//b/" is "a/b").
//  - Any ".." component is refused, even one that would stay inside
//    ("a/../b"): no real layer needs it, and refusing it is the one rule that
//    cannot be got wrong.
//  - The layer root itself ("./", "/") normalizes to the empty path.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hull::layer {

// Linux's NAME_MAX and PATH_MAX - 1 (the NUL is not counted).
inline constexpr size_t kMaxNameBytes = 255;
inline constexpr size_t kMaxPathBytes = 4095;

// Writes the normalized form of the tar name `raw` into `out` (reused, so a
// loop does not allocate). Throws Error `"RAW": why` for an empty name, a
// ".." component, a component over `max_name` bytes or a result over
// `max_path` bytes. `out` is empty for the layer root.
void normalize_path(std::string_view raw, std::string& out, size_t max_name = kMaxNameBytes,
                    size_t max_path = kMaxPathBytes);
// Convenience form of the above.
std::string normalize_path(std::string_view raw);

// True if the symlink at normalized path `path` with target `target` climbs
// above the tree's root when resolved lexically: relative targets start from
// the link's directory, absolute ones from the image root (a container sees
// "/" as its root, so "/etc/alternatives/x" stays inside). Only ".." can
// escape: "a/b -> ../../x" does, "usr/bin/sh -> dash" and "lib -> /usr/lib"
// do not. Components of the target are not followed as links; consumers
// must never resolve a layer's links on the host anyway.
bool link_escapes(std::string_view path, std::string_view target);

// `s` in double quotes, with bytes outside printable ASCII (and `"`, `\`)
// written as \xNN, so that a hostile name cannot break a one-line message.
// A name over kQuoteMaxBytes is shortened to its first kQuoteHeadBytes and
// last kQuoteTailBytes around an ellipsis, followed by its length:
// "usr/nnnn…nnnn" (5004 bytes). So the result is at most
// 4 * (kQuoteHeadBytes + kQuoteTailBytes) + 24 characters, whatever `s` is.
inline constexpr size_t kQuoteMaxBytes = 96;
inline constexpr size_t kQuoteHeadBytes = 48;
inline constexpr size_t kQuoteTailBytes = 32;
std::string quote(std::string_view s);

}  // namespace hull::layer
