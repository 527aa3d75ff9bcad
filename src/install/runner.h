// The seam between hull and the external tools it drives to build a disk:
// mkfs.ext4, mkfs.btrfs, mformat/mmd/mcopy, and the image's own
// grub-mkimage. Everything that spawns a process goes through a Runner, so
// that a test can record the commands instead of running them (style item 6).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hull::install {

// One command: argv[0] is looked up in PATH unless it contains a '/'.
struct Command {
  std::vector<std::string> argv;
  // The tool's name in error messages; empty: basename of argv[0]. (Set when
  // argv[0] is a loader, e.g. the image's ld.so running its grub-mkimage.)
  std::string name;
};

class Runner {
 public:
  virtual ~Runner() = default;
  // Runs the command to completion and returns its stdout. Throws Error
  // "TOOL failed (exit N): LAST STDERR LINE" if it cannot be started, exits
  // non-zero or is killed by a signal.
  virtual std::string run(const Command& cmd) = 0;
};

// Runs commands as child processes (posix_spawn), stdin from /dev/null,
// stdout and stderr captured.
class SystemRunner : public Runner {
 public:
  std::string run(const Command& cmd) override;
};

// The process-wide SystemRunner.
Runner& system_runner();

// The last non-empty line of `text` (trimmed), for one-line errors.
std::string last_line(std::string_view text);

}  // namespace hull::install
