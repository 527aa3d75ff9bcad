// Move-only owner of a file descriptor, and the small file operations built
// on it. Closing can fail (NFS, quota): close() reports it; the destructor is
// only a backstop.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace hull {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  // Closes the descriptor; throws SystemError naming `what` on failure.
  void close(std::string_view what);

 private:
  int fd_ = -1;
};

// open(2) that throws "opening PATH: reason".
UniqueFd open_file(const std::string& path, int flags, mode_t mode = 0644);
UniqueFd open_at(int dirfd, const std::string& path, int flags, mode_t mode = 0644);

// Writes all of `data`, retrying short writes and EINTR.
void write_all(int fd, std::span<const std::byte> data, std::string_view what);
void write_all(int fd, std::string_view data, std::string_view what);
// The same at byte `offset` (pwrite), the file position untouched.
void pwrite_all(int fd, std::string_view data, uint64_t offset, std::string_view what);

// Reads a whole file; refuses files larger than `limit` bytes.
std::string read_file(const std::string& path, size_t limit = 64u << 20);

// fsync(2) of a file or directory; throws with `what` on failure.
void fsync_fd(int fd, std::string_view what);
void fsync_dir(const std::string& dir);

}  // namespace hull
