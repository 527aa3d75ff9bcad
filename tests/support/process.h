// Running programs from tests: one-shot commands with captured output, and
// background servers owned by an RAII object that stops them.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace hull::test {

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128 + signal number
  std::string out;     // stdout
  std::string err;     // stderr
  bool ok() const { return exit_code == 0; }
};

struct RunOptions {
  std::string input;  // fed to stdin (then closed)
  std::string cwd;    // empty: the current directory
};

// Runs argv[0] (looked up in PATH) with `argv` and waits for it. Throws
// Error only if it cannot be started.
ProcessResult run(const std::vector<std::string>& argv, const RunOptions& opts = {});

// run() that throws Error("CMD failed (exit N): STDERR") unless it exits 0;
// returns stdout.
std::string run_ok(const std::vector<std::string>& argv, const RunOptions& opts = {});

// run_ok() of `sh -c SCRIPT`.
std::string sh(const std::string& script, const RunOptions& opts = {});

// A background child process, stopped (SIGTERM, then SIGKILL after 5 s) when
// the owner goes away. stdout and stderr go to `log_path` (or /dev/null).
// The child also gets SIGKILL if the test process dies first.
class Child {
 public:
  Child() = default;
  Child(const std::vector<std::string>& argv, const std::string& log_path);
  Child(Child&& o) noexcept : pid_(o.pid_), status_(o.status_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { stop(); }

  pid_t pid() const { return pid_; }
  // True while the process has not exited (reaps it if it has).
  bool running();
  // Stops the process and waits for it; returns its exit code (as run()).
  int stop();

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// An unused TCP port on 127.0.0.1 (bound and released; the caller binds it
// soon after, and retries on the rare collision).
int free_port();

}  // namespace hull::test
