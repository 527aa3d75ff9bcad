#include "sysroot/trial.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <ctime>

#include <toml++/toml.h>

#include "sysroot/status.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::sysroot {
namespace {

constexpr std::string_view kHeader = "# GRUB Environment Block\n";
constexpr size_t kBlockSize = 1024;

int to_int(const std::map<std::string, std::string>& v, const char* key) {
  auto it = v.find(key);
  if (it == v.end()) return 0;
  int n = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
  return ec == std::errc() && p == it->second.data() + it->second.size() ? n : 0;
}

std::string get(const std::map<std::string, std::string>& v, const char* key) {
  auto it = v.find(key);
  return it == v.end() ? "" : it->second;
}

std::string loader_dir(const std::string& boot_dir, int version) {
  return fmt::format("{}/loader.{}", boot_dir, version);
}

// GRUB reads /boot from the disk, not from the ext4 journal: the block must
// be in its place there. syncfs flushes it; a freeze/thaw cycle of a /boot
// that is a filesystem of its own checkpoints the journal (what libostree
// does before its own switch).
void make_visible_to_grub(const std::string& boot_dir) {
  UniqueFd dir = open_file(boot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (::syncfs(dir.get()) != 0) fail_errno("syncing " + boot_dir);
  struct stat self{}, parent{};
  if (::fstat(dir.get(), &self) != 0 || ::stat((boot_dir + "/..").c_str(), &parent) != 0) return;
  if (self.st_dev == parent.st_dev) return;  // a directory of the root filesystem: syncfs did it
  if (::ioctl(dir.get(), FIFREEZE, 0) != 0) {
    if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EBUSY || errno == EPERM) return;
    fail_errno("freezing " + boot_dir);
  }
  if (::ioctl(dir.get(), FITHAW, 0) != 0) fail_errno("thawing " + boot_dir);
}


}  // namespace

std::string render_env_block(const std::map<std::string, std::string>& vars) {
  std::string out(kHeader);
  for (const auto& [k, v] : vars) {
    if (k.empty() || k.find_first_of("=\n\\") != std::string::npos || v.find_first_of("\n\\") != std::string::npos)
      fail("GRUB environment: cannot store {}={}", k, v);
    out += k + "=" + v + "\n";
  }
  if (out.size() > kBlockSize) fail("GRUB environment: {} bytes do not fit the {}-byte block", out.size(), kBlockSize);
  out.resize(kBlockSize, '#');
  return out;
}

std::map<std::string, std::string> parse_env_block(std::string_view block) {
  if (block.size() != kBlockSize) fail("GRUB environment block is {} bytes, not {}", block.size(), kBlockSize);
  if (!block.starts_with(kHeader)) fail("not a GRUB environment block (no header)");
  std::map<std::string, std::string> vars;
  size_t pos = kHeader.size();
  while (pos < block.size()) {
    size_t nl = block.find('\n', pos);
    if (nl == std::string_view::npos) break;  // the padding
    std::string_view line = block.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string value;
    for (size_t i = eq + 1; i < line.size(); i++) {
      if (line[i] == '\\' && i + 1 < line.size()) i++;
      value += line[i];
    }
    vars[std::string(line.substr(0, eq))] = value;
  }
  return vars;
}

Trial arm(const std::string& entry, int tries, const std::string& what) {
  if (tries < 1 || tries > kMaxTries) fail("boot tries must be 1 to {}, not {}", kMaxTries, tries);
  Trial t;
  t.armed = true;
  t.tries = t.left = tries;
  t.entry = entry;
  t.armed_at = rfc3339(time(nullptr));
  t.what = what;
  return t;
}

std::map<std::string, std::string> trial_vars(const Trial& t) {
  std::map<std::string, std::string> v;
  v["hull_trial"] = t.armed ? "1" : "0";
  if (!t.armed) return v;
  v["hull_tries"] = std::to_string(t.tries);
  v["hull_left"] = std::to_string(t.left);
  v["hull_entry"] = t.entry;
  v["hull_armed_at"] = t.armed_at;
  // The name is informational: cut so that the block always fits.
  v["hull_what"] = t.what.substr(0, 400);
  return v;
}

Trial trial_from_vars(const std::map<std::string, std::string>& vars) {
  Trial t;
  t.armed = get(vars, "hull_trial") == "1";
  if (!t.armed) return t;
  t.tries = to_int(vars, "hull_tries");
  t.left = to_int(vars, "hull_left");
  t.entry = get(vars, "hull_entry");
  t.armed_at = get(vars, "hull_armed_at");
  t.what = get(vars, "hull_what");
  return t;
}

Trial read_current(const std::string& boot_dir) {
  std::string path = boot_dir + "/loader/" + kEnvFile;
  if (!path_exists(path)) return {};
  try {
    return trial_from_vars(parse_env_block(read_file(path, 4096)));
  } catch (const Error&) {
    return {};
  }
}

int current_bootversion(const std::string& boot_dir) {
  char buf[64];
  ssize_t n = ::readlink((boot_dir + "/loader").c_str(), buf, sizeof buf);
  if (n < 0) fail_errno(fmt::format("reading the link {}/loader", boot_dir));
  std::string_view target(buf, static_cast<size_t>(n));
  if (target == "loader.0") return 0;
  if (target == "loader.1") return 1;
  fail("{}/loader points at {}, not loader.0 or loader.1", boot_dir, target);
}

void prepare_next(const std::string& boot_dir, const Trial& next) {
  with_context("preparing the boot counter", [&] {
    std::string dir = loader_dir(boot_dir, 1 - current_bootversion(boot_dir));
    make_dirs(dir);
    write_file_atomic(dir + "/" + kEnvFile, render_env_block(trial_vars(next)));
  });
}

bool switched(const std::string& boot_dir, int before) { return current_bootversion(boot_dir) != before; }

void write_current(const std::string& boot_dir, const Trial& t) {
  with_context("writing the boot counter", [&] {
    std::string dir = loader_dir(boot_dir, current_bootversion(boot_dir));
    write_file_atomic(dir + "/" + kEnvFile, render_env_block(trial_vars(t)));
    make_visible_to_grub(boot_dir);
  });
}

bool counting_supported(const std::string& boot_dir) {
  std::string cfg = boot_dir + "/grub/grub.cfg";
  if (!path_exists(cfg)) return false;
  return read_file(cfg, 1 << 20).find("hull boot counting") != std::string::npos;
}

std::string new_entry_karg() {
  unsigned char b[8];
  if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) fail_errno("reading random bytes");
  std::string hex;
  for (unsigned char c : b) hex += fmt::format("{:02x}", c);
  return std::string(kEntryKarg) + hex;
}

std::string entry_of(std::string_view kargs_line) {
  size_t pos = 0;
  while (pos < kargs_line.size()) {
    size_t end = kargs_line.find(' ', pos);
    if (end == std::string_view::npos) end = kargs_line.size();
    std::string_view k = kargs_line.substr(pos, end - pos);
    if (k.starts_with(kEntryKarg)) return std::string(k.substr(kEntryKarg.size()));
    pos = end + 1;
  }
  return "";
}

BootConfig parse_boot_config(std::string_view text, const std::string& path) {
  return with_context(path, [&] {
    toml::table t;
    try {
      t = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
      fail("{}", e.description());
    }
    BootConfig c;
    for (const auto& [key, value] : t) {
      auto n = value.value<int64_t>();
      if (key == "tries") {
        if (!n || *n < 0 || *n > kMaxTries) fail("tries must be 0 (off) to {}", kMaxTries);
        c.tries = static_cast<int>(*n);
      } else if (key == "check-timeout") {
        if (!n || *n < 1 || *n > 86400) fail("check-timeout must be 1 to 86400 seconds");
        c.check_timeout = static_cast<int>(*n);
      } else {
        fail("unknown key {} (known: tries, check-timeout)", key.str());
      }
    }
    return c;
  });
}

BootConfig load_boot_config(const std::string& path) {
  if (!path_exists(path)) return {};
  return parse_boot_config(read_file(path, 1 << 20), path);
}

}  // namespace hull::sysroot
