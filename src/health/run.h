// Running a check or a system tool with a time limit: stdout and stderr
// together, the process group killed when time is up.
#pragma once

#include <string>
#include <vector>

namespace hull::health {

struct RunResult {
  int exit_code = -1;      // exit status, 128 + signal if killed, -1 if it could not start
  bool timed_out = false;  // killed after the time limit
  double seconds = 0;
  std::string output;      // stdout + stderr, at most the last 64 KiB
};

// Runs argv (argv[0] looked up in PATH) with stdin from /dev/null, in a
// process group of its own; after `timeout_s` seconds the group gets
// SIGTERM, 5 s later SIGKILL.
RunResult run(const std::vector<std::string>& argv, int timeout_s);

// The last `n` non-empty lines of `text`, joined with " / " (for one-line reasons).
std::string last_lines(const std::string& text, int n);

}  // namespace hull::health
