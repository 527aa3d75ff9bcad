// bootc-image-builder's build configuration (config.toml / config.json), the
// part of the osbuild blueprint that bib applies to a bootc image, with the
// same key names and rules:
//
//   [[customizations.user]]        name, password, key, groups
//                                  (+ description, home, shell, uid, gid)
//   [[customizations.group]]       name, gid
//   [customizations.kernel]        append
//   [[customizations.filesystem]]  mountpoint, minsize
//   [customizations.disk]          minsize
//
// Pure: parsers take the text and the file's name (for messages and to pick
// TOML or JSON by extension) and do no I/O. Every error names the file and
// the key. Keys hull does not know (or blueprint keys it does not apply,
// such as customizations.hostname) are refused rather than ignored, as bib
// refuses undecoded keys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hull::install {

struct BibUser {
  std::string name;
  std::optional<std::string> password;  // plain text or a crypt(3) hash
  std::optional<std::string> key;       // authorized_keys line(s)
  std::vector<std::string> groups;      // supplementary groups; must exist
  std::optional<std::string> description, home, shell;
  std::optional<int64_t> uid, gid;
};

struct BibGroup {
  std::string name;
  std::optional<int64_t> gid;
};

struct BibFilesystem {
  std::string mountpoint;
  uint64_t minsize = 0;  // bytes
};

struct BibConfig {
  std::string file;  // where it came from, for messages
  std::vector<BibUser> users;
  std::vector<BibGroup> groups;
  std::string kernel_append;
  std::vector<BibFilesystem> filesystems;
  std::optional<uint64_t> disk_minsize;

  bool empty() const {
    return users.empty() && groups.empty() && kernel_append.empty() && filesystems.empty() && !disk_minsize;
  }
  // The minimum size of "/" or "/boot" asked for, 0 if none.
  uint64_t minsize_of(std::string_view mountpoint) const;
};

// Parses a config; `file` ends in .toml or .json (bib decides by extension
// the same way; "-" is JSON). JSON may be wrapped in {"blueprint": {...}},
// bib's legacy form. Throws Error "FILE: ..." naming the offending key.
BibConfig parse_bib_config(std::string_view text, const std::string& file);

// The config back as bib's JSON (passwords as their SHA-512 crypt hash),
// for the installer ISO, which applies it at install time.
std::string to_bib_json(const BibConfig& c);

// A size as bib accepts it: a number of bytes, or a number (decimals
// allowed) and one of kB, KiB, MB, MiB, GB, GiB, TB, TiB, with optional
// spaces: "10 GiB", "1.5GB", "4096". Throws on anything else ("20G" too:
// bib rejects it).
uint64_t parse_bib_size(std::string_view s);

// bib's mountpoint rules for a disk whose root is `rootfs`: "/" and
// "/boot" (exactly), directories below /var except /var itself and
// /var/home, /var/lock, /var/mail, /var/mnt, /var/roothome, /var/run,
// /var/srv, /var/usrlocal; for btrfs only "/" and "/boot". Throws naming
// the file and every refused path.
void check_mountpoints(const BibConfig& c, const std::string& rootfs);

// The file to read when --config is not given: config.toml or config.json
// in `dir`, empty if neither; both present is an error, as with bib.
std::string find_default_config(const std::string& dir);

// Splits kernel.append into arguments at blanks outside double quotes
// (`foo="a b"` stays one argument).
std::vector<std::string> split_kargs(std::string_view append);

// True if `s` looks like a crypt(3) hash ($1$, $5$, $6$, $y$, $2b$, ...).
bool is_crypted(std::string_view s);

// SHA-512 crypt of `password` with a random salt (libcrypt), or `password`
// itself if it is already a hash.
std::string hash_password(std::string_view password);

}  // namespace hull::install
