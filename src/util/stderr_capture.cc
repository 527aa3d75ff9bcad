#include "util/stderr_capture.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace hull {

StderrCapture::StderrCapture() {
  std::fflush(stderr);
  UniqueFd mem(::memfd_create("hull-stderr", MFD_CLOEXEC));
  if (!mem) return;
  UniqueFd saved(::fcntl(2, F_DUPFD_CLOEXEC, 3));
  if (!saved || ::dup2(mem.get(), 2) < 0) return;  // fd 2 untouched
  mem_ = std::move(mem);
  saved_ = std::move(saved);
}

StderrCapture::~StderrCapture() { restore(); }

void StderrCapture::restore() {
  if (!saved_) return;
  std::fflush(stderr);
  while (::dup2(saved_.get(), 2) < 0 && errno == EINTR) {
  }
  saved_ = UniqueFd();
}

std::string StderrCapture::finish() {
  if (!saved_) return {};
  restore();
  std::string text;
  off_t end = ::lseek(mem_.get(), 0, SEEK_END);
  if (end > 0) {
    text.resize(static_cast<size_t>(end));
    size_t got = 0;
    while (got < text.size()) {
      ssize_t n = ::pread(mem_.get(), text.data() + got, text.size() - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);
  }
  mem_ = UniqueFd();
  return text;
}

void replay_stderr(std::string_view text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(2, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace hull
