// Atomic outputs and temporary directories.
//
// AtomicFile writes to a temporary name beside the target; commit() fsyncs,
// renames over the target and fsyncs the directory. If commit() is never
// reached (error, exception) the temporary is removed, and on SIGINT/SIGTERM
// the signal handler installed by install_cleanup_handlers() removes it too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "util/fd.h"

namespace hull {

class AtomicFile {
 public:
  // Creates a temporary file in the directory of `path`.
  explicit AtomicFile(std::string path, mode_t mode = 0644);
  AtomicFile(AtomicFile&&) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }
  void write(std::string_view data) { write_all(fd_.get(), data, tmp_); }
  // Drops everything written so far (for a restart from zero).
  void truncate();
  // fsync + rename onto path() + fsync of the directory.
  void commit();
  // Removes the temporary without touching the target.
  void abandon();

 private:
  std::string path_;
  std::string tmp_;
  UniqueFd fd_;
  int slot_ = -1;
};

// Writes `data` to `path` atomically.
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);

// A directory made with mkdtemp, removed recursively on destruction unless
// release()d.
class TempDir {
 public:
  // Creates DIR/PREFIX.XXXXXX; DIR defaults to $TMPDIR or /var/tmp.
  explicit TempDir(std::string_view prefix = "hull", std::string dir = "");
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string release() { return std::exchange(path_, {}); }

 private:
  std::string path_;
};

// mkdir -p; throws naming the path on failure.
void make_dirs(const std::string& path, mode_t mode = 0755);

// True if `path` exists (any type, links not followed).
bool path_exists(const std::string& path);

// The host path of `rel` inside the directory tree `root`, every symlink on
// the way resolved as if `root` were "/" (openat2 RESOLVE_IN_ROOT): an
// image's /usr/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/... lands
// in the image, never on the host. Empty if it does not exist.
std::string resolve_in_root(const std::string& root, const std::string& rel);

// The regular file `rel` of the tree `root`, resolved as above, at most
// `limit` bytes (more is an error); nullopt if it does not exist. Throws if
// it is something else than a regular file.
std::optional<std::string> read_file_in_root(const std::string& root, const std::string& rel,
                                             size_t limit = 1u << 20);

// Installs SIGINT/SIGTERM/SIGHUP handlers that unlink the temporaries of
// live AtomicFiles, then re-raise the signal.
void install_cleanup_handlers();

}  // namespace hull
