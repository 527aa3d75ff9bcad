#include "util/fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "util/error.h"

namespace hull {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

void UniqueFd::close(std::string_view what) {
  int f = release();
  if (f >= 0 && ::close(f) != 0 && errno != EINTR) fail_errno(fmt::format("closing {}", what));
}

UniqueFd open_file(const std::string& path, int flags, mode_t mode) {
  return open_at(AT_FDCWD, path, flags, mode);
}

UniqueFd open_at(int dirfd, const std::string& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) fail_errno(fmt::format("opening {}", path));
  return UniqueFd(fd);
}

void write_all(int fd, std::span<const std::byte> data, std::string_view what) {
  const std::byte* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(fmt::format("writing {}", what));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void write_all(int fd, std::string_view data, std::string_view what) {
  write_all(fd, std::as_bytes(std::span(data.data(), data.size())), what);
}

void pwrite_all(int fd, std::string_view data, uint64_t offset, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(fmt::format("writing {}", what));
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
}

std::string read_file(const std::string& path, size_t limit) {
  UniqueFd fd = open_file(path, O_RDONLY);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) fail_errno(fmt::format("reading {}", path));
  if (static_cast<size_t>(st.st_size) > limit)
    fail("reading {}: file is {} bytes, over the limit of {}", path, st.st_size, limit);
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(fmt::format("reading {}", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) fail("reading {}: over the limit of {} bytes", path, limit);
  }
  return out;
}

void fsync_fd(int fd, std::string_view what) {
  if (::fsync(fd) != 0) fail_errno(fmt::format("syncing {}", what));
}

void fsync_dir(const std::string& dir) {
  UniqueFd fd = open_file(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
  fsync_fd(fd.get(), dir);
}

}  // namespace hull
