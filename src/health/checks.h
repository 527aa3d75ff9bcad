// Health checks: the scripts that decide whether a boot is good.
//
// Read from, in this order (a name in a later directory replaces the same
// name in an earlier one, as /etc overrides /usr):
//   /usr/lib/hull/check/{required.d,wanted.d}
//   /usr/lib/greenboot/check/{required.d,wanted.d}   greenboot's, so that
//   /etc/greenboot/check/{required.d,wanted.d}       existing checks keep working
//   /etc/hull/check/{required.d,wanted.d}
// Every executable regular file runs, in name order, with a time limit; a
// required one that fails (non-zero exit, or time out) fails the boot, a
// wanted one is only logged.
#pragma once

#include <string>
#include <vector>

namespace hull::health {

struct Check {
  std::string name;  // file name, the identity across directories
  std::string path;
  bool required = false;
};

struct CheckResult {
  Check check;
  bool ok = false;
  int exit_code = 0;
  bool timed_out = false;
  double seconds = 0;
  std::string output;  // its last lines, one line (for reasons and the journal)
};

// The checks under `root` ("/" on a host).
std::vector<Check> find_checks(const std::string& root);

CheckResult run_check(const Check& c, int timeout_s);

// "required check 10-sshd failed (exit 1): sshd is not running", or
// "... timed out after 300 s".
std::string describe_failure(const CheckResult& r);

}  // namespace hull::health
