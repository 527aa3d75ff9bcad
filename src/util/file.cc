#include "util/file.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "util/error.h"

namespace hull {
namespace {

// Fixed slots of temp paths that the signal handler may unlink: a plain
// array so that the handler touches no allocator and no lock.
constexpr int kSlots = 256;
struct Slot {
  std::atomic<bool> used{false};
  char path[4096];
};
std::array<Slot, kSlots> g_slots;

int claim_slot(const std::string& path) {
  if (path.size() >= sizeof(Slot::path)) return -1;
  for (int i = 0; i < kSlots; i++) {
    bool expected = false;
    if (!g_slots[i].used.load(std::memory_order_relaxed) &&
        g_slots[i].used.compare_exchange_strong(expected, true)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      return i;
    }
  }
  return -1;  // more than kSlots at once: only the signal cleanup is lost
}

void release_slot(int i) {
  if (i >= 0) g_slots[i].used.store(false);
}

void on_signal(int sig) {
  for (auto& s : g_slots)
    if (s.used.load()) ::unlink(s.path);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

std::string dir_of(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, mode_t mode) : path_(std::move(path)) {
  std::string dir = dir_of(path_);
  std::string base = path_.substr(path_.rfind('/') == std::string::npos ? 0 : path_.rfind('/') + 1);
  std::string templ = dir + "/." + base + ".tmp-XXXXXX";
  int fd = ::mkostemp(templ.data(), O_CLOEXEC);
  if (fd < 0) fail_errno(fmt::format("creating a temporary file for {}", path_));
  fd_ = UniqueFd(fd);
  tmp_ = templ;
  slot_ = claim_slot(tmp_);
  if (::fchmod(fd, mode) != 0) fail_errno(fmt::format("setting the mode of {}", tmp_));
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : path_(std::move(o.path_)), tmp_(std::move(o.tmp_)), fd_(std::move(o.fd_)), slot_(o.slot_) {
  o.tmp_.clear();
  o.slot_ = -1;
}

AtomicFile::~AtomicFile() { abandon(); }

void AtomicFile::truncate() {
  if (::ftruncate(fd_.get(), 0) != 0 || ::lseek(fd_.get(), 0, SEEK_SET) != 0)
    fail_errno(fmt::format("truncating {}", tmp_));
}

void AtomicFile::commit() {
  fsync_fd(fd_.get(), tmp_);
  fd_.close(tmp_);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail_errno(fmt::format("renaming {} to {}", tmp_, path_));
  tmp_.clear();
  release_slot(slot_);
  slot_ = -1;
  fsync_dir(dir_of(path_));
}

void AtomicFile::abandon() {
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
  release_slot(slot_);
  slot_ = -1;
}

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  AtomicFile f(path, mode);
  f.write(data);
  f.commit();
}

TempDir::TempDir(std::string_view prefix, std::string dir) {
  if (dir.empty()) {
    const char* t = getenv("TMPDIR");
    dir = (t && *t) ? t : "/var/tmp";
  }
  std::string templ = dir + "/" + std::string(prefix) + ".XXXXXX";
  if (!::mkdtemp(templ.data())) fail_errno(fmt::format("creating a temporary directory in {}", dir));
  path_ = templ;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void make_dirs(const std::string& path, mode_t mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) fail("creating directory {}: {}", path, ec.message());
  (void)mode;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

namespace {

// An fd for `rel` in `root` opened with RESOLVE_IN_ROOT; -1 (errno set) on failure.
long open_in_root(const std::string& root, const std::string& rel, uint64_t flags) {
  UniqueFd rootfd = open_file(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  open_how how = {};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return syscall(SYS_openat2, rootfd.get(), rel.c_str(), &how, sizeof how);
}

}  // namespace

std::string resolve_in_root(const std::string& root, const std::string& rel) {
  long fd = open_in_root(root, rel, O_PATH);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return {};
    fail_errno(fmt::format("resolving {} in {}", rel, root));
  }
  UniqueFd f{static_cast<int>(fd)};
  char buf[4096];
  ssize_t n = readlink(fmt::format("/proc/self/fd/{}", f.get()).c_str(), buf, sizeof buf - 1);
  if (n < 0) fail_errno(fmt::format("resolving {} in {}", rel, root));
  return std::string(buf, size_t(n));
}

std::optional<std::string> read_file_in_root(const std::string& root, const std::string& rel, size_t limit) {
  long fd = open_in_root(root, rel, O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    fail_errno(fmt::format("opening {} in {}", rel, root));
  }
  UniqueFd f{static_cast<int>(fd)};
  struct stat st;
  if (fstat(f.get(), &st) != 0) fail_errno(fmt::format("{} in {}", rel, root));
  if (!S_ISREG(st.st_mode)) fail("{} in {} is not a regular file", rel, root);
  if (uint64_t(st.st_size) > limit) fail("{} in {} is larger than {} bytes", rel, root, limit);
  std::string out(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = read(f.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(fmt::format("reading {} in {}", rel, root));
    if (n == 0) break;
    got += size_t(n);
  }
  out.resize(got);
  return out;
}

void install_cleanup_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

}  // namespace hull
