// A sysroot directory for tests of the host commands (--sysroot DIR).
// libostree makes deployment roots immutable (chattr +i), so they are made
// mutable again before the directory is removed. (sysroot_test.cc and
// signature_test.cc still carry copies of their own.)
#pragma once

#include <string>

#include "support/process.h"
#include "util/file.h"

namespace hull::test {

struct SysrootDir {
  TempDir dir{"hull-sysroot"};
  SysrootDir() { make_dirs(path()); }
  ~SysrootDir() { run({"sh", "-c", "chattr -R -i " + dir.path() + " 2>/dev/null"}); }
  std::string path() const { return dir.path() + "/root"; }
};

}  // namespace hull::test
