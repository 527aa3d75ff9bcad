// Helpers of the tests that run the host commands on a sysroot directory
// (sysroot_test.cc, boot_counting_test.cc).
#pragma once

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.h"
#include "util/file.h"

namespace hull::test {

namespace fs = std::filesystem;
inline const std::string kHull = HULL_BIN;

// A sysroot directory; libostree makes deployment roots immutable, so they
// are made mutable again before the directory is removed.
struct Sysroot {
  TempDir dir{"hull-sysroot"};
  std::string path() const { return dir.path() + "/root"; }
  ~Sysroot() { run({"sh", "-c", "chattr -R -i " + dir.path() + " 2>/dev/null"}); }
};

inline ProcessResult hull(std::vector<std::string> args) {
  args.insert(args.begin(), kHull);
  return run(args);
}

inline std::string hull_ok(std::vector<std::string> args) {
  auto r = hull(args);
  std::string cmd;
  for (auto& a : args) cmd += a + " ";
  EXPECT_EQ(r.exit_code, 0) << "hull " << cmd << "\n" << r.err;
  return r.out;
}

inline nlohmann::json status(const Sysroot& s) {
  return nlohmann::json::parse(hull_ok({"status", "--format", "json", "--sysroot", s.path()}));
}

// The deployment directory of a status entry.
inline std::string deploy_dir(const Sysroot& s, const nlohmann::json& entry) {
  return s.path() + "/ostree/deploy/" + entry["ostree"]["stateroot"].get<std::string>() + "/deploy/" +
         entry["ostree"]["checksum"].get<std::string>() + "." + std::to_string(entry["ostree"]["deploySerial"].get<int>());
}

inline int count_lines_with(const std::string& text, const std::string& part) {
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(part) != std::string::npos;
  return n;
}

inline std::string slurp(const std::string& path) { return path_exists(path) ? read_file(path) : "<absent>"; }

// The kernel command line of the boot entry for `checksum`: the entry whose
// ostree=/ostree/boot.N/STATEROOT/BOOTCSUM/SERIAL link points at its deployment.
inline std::string entry_options(const Sysroot& s, const std::string& checksum) {
  for (auto& e : fs::directory_iterator(s.path() + "/boot/loader/entries")) {
    std::istringstream in(read_file(e.path().string()));
    std::string line, options;
    while (std::getline(in, line))
      if (line.starts_with("options ")) options = line.substr(8);
    auto pos = options.find("ostree=");
    if (pos == std::string::npos) continue;
    std::string link = options.substr(pos + 7, options.find(' ', pos) - pos - 7);
    std::error_code ec;
    if (fs::read_symlink(s.path() + link, ec).string().find(checksum) != std::string::npos) return options;
  }
  return "<no entry>";
}

}  // namespace hull::test
