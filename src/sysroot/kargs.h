// Kernel arguments, as bootc handles them (crates/lib/src/bootc_kargs.rs and
// the linux-kernel-cmdline crate):
//   - a command line splits at whitespace outside double quotes;
//   - two arguments are the same when their keys match with '-' and '_'
//     equivalent and their values match after the surrounding quotes are
//     removed ("foo-bar=\"x\"" is "foo_bar=x");
//   - an image's /usr/lib/bootc/kargs.d/*.toml files, in lexical order, add
//     their `kargs` when `match-architectures` is absent or names this host;
//     an argument already present is not added twice;
//   - an upgrade keeps the deployment's own arguments and applies only the
//     difference between the old and the new image's kargs.d.
// Pure functions: the caller reads the files and the current command line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hull::sysroot {

// The arguments of a command line, each as written (quotes kept):
// `a  b="x y" c` -> {"a", "b=\"x y\"", "c"}. An unclosed quote runs to the
// end of the line.
std::vector<std::string> split_kargs(std::string_view cmdline);

// The arguments joined by single spaces.
std::string join_kargs(const std::vector<std::string>& kargs);

// True if `a` and `b` are the same argument (see above).
bool same_karg(std::string_view a, std::string_view b);

// One kargs.d file.
struct KargsFile {
  std::vector<std::string> kargs;  // split: an entry "a b" gives two arguments
  std::optional<std::vector<std::string>> match_architectures;  // absent: every architecture
};

// Parses the TOML text of the kargs.d file `name`: `kargs` (required, an
// array of strings) and `match-architectures` (optional, an array of
// strings). Throws Error naming the file and, for a bad or unknown key,
// the key: `10-console.toml: unknown key "karg" (expected kargs, match-architectures)`.
KargsFile parse_kargs_file(std::string_view name, std::string_view text);

// True if `file` applies on `arch` (a kargs.d architecture name, see
// kargs_arch).
bool kargs_file_applies(const KargsFile& file, std::string_view arch);

// The architecture name kargs.d files use -- Rust's std::env::consts::ARCH,
// as bootc -- for a uname(2) machine name: x86_64 -> x86_64, aarch64 ->
// aarch64, ppc64le -> powerpc64, i686 -> x86, armv7l -> arm; others unchanged.
std::string kargs_arch(std::string_view uname_machine);

// The arguments of an image's kargs.d: `files` are (name, text) pairs in
// any order; names not ending in ".toml" are skipped (as bootc does), the
// rest applied in lexical order of name, for `arch`. Throws Error naming
// the first bad file.
std::vector<std::string> kargs_from_files(std::vector<std::pair<std::string, std::string>> files,
                                          std::string_view arch);

// The upgrade rule (bootc's compute_apply_kargs_diff): from `current` (the
// deployment's arguments) remove every argument the old image's kargs.d
// had and the new one has not, then append what the new image's kargs.d
// adds over the old one's, unless already present. Local arguments are
// kept, in their order.
//
// bootc's special case is the caller's: when the new image has no kargs.d
// directory at all, bootc keeps `current` plus the old image's kargs.d
// (nothing removed): apply_kargs_diff(current, {}, old_image_kargs).
std::vector<std::string> apply_kargs_diff(const std::vector<std::string>& current,
                                          const std::vector<std::string>& old_image_kargs,
                                          const std::vector<std::string>& new_image_kargs);

}  // namespace hull::sysroot
