#include "health/checks.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "health/run.h"

namespace hull::health {

std::vector<Check> find_checks(const std::string& root) {
  namespace fs = std::filesystem;
  static const char* kDirs[] = {"usr/lib/hull/check", "usr/lib/greenboot/check", "etc/greenboot/check",
                                "etc/hull/check"};
  std::map<std::pair<bool, std::string>, Check> found;  // (wanted?, name): required ones first
  for (const char* base : kDirs)
    for (bool required : {true, false}) {
      fs::path dir = fs::path(root) / base / (required ? "required.d" : "wanted.d");
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(dir, ec)) {
        struct stat st;
        if (::stat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111)) continue;
        std::string name = e.path().filename();
        found[{!required, name}] = Check{name, e.path(), required};
      }
    }
  std::vector<Check> out;
  for (auto& [key, c] : found) out.push_back(c);  // required first, each in name order
  return out;
}

CheckResult run_check(const Check& c, int timeout_s) {
  RunResult r = run({c.path}, timeout_s);
  CheckResult cr;
  cr.check = c;
  cr.exit_code = r.exit_code;
  cr.timed_out = r.timed_out;
  cr.seconds = r.seconds;
  cr.ok = r.exit_code == 0 && !r.timed_out;
  cr.output = last_lines(r.output, 3);
  return cr;
}

std::string describe_failure(const CheckResult& r) {
  std::string what = fmt::format("{} check {}", r.check.required ? "required" : "wanted", r.check.name);
  std::string why = r.timed_out ? fmt::format("timed out after {:.0f} s", r.seconds)
                    : r.exit_code == 127 ? std::string("could not run")
                                         : fmt::format("failed (exit {})", r.exit_code);
  return r.output.empty() ? what + " " + why : what + " " + why + ": " + r.output;
}

}  // namespace hull::health
