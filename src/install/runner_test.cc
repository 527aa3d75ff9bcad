#include "install/runner.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace hull::install {
namespace {

std::string error_of(const Command& c) {
  try {
    system_runner().run(c);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Runner, ReturnsStdout) {
  EXPECT_EQ(system_runner().run({{"echo", "hi"}, {}}), "hi\n");
  EXPECT_EQ(system_runner().run({{"true"}, {}}), "");
}

TEST(Runner, FailureNamesTheToolAndItsLastStderrLine) {
  EXPECT_EQ(error_of({{"sh", "-c", "echo first >&2; echo '  the reason  ' >&2; echo >&2; exit 3"}, {}}),
            "sh failed (exit 3): the reason");
  EXPECT_EQ(error_of({{"sh", "-c", "exit 4"}, "mkfs.pretend"}), "mkfs.pretend failed (exit 4)");
  EXPECT_EQ(error_of({{"sh", "-c", "kill -9 $$"}, {}}), "sh failed (signal 9)");
  EXPECT_EQ(error_of({{"/bin/sh", "-c", "echo only-stdout; exit 1"}, {}}), "sh failed (exit 1): only-stdout");
}

TEST(Runner, MissingProgram) {
  EXPECT_EQ(error_of({{"hull-no-such-tool"}, {}}),
            "running hull-no-such-tool: program not found (is its package installed?)");
}

TEST(Runner, LargeOutputOnBothStreamsDoesNotDeadlock) {
  std::string out = system_runner().run(
      {{"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' e >&2; head -c 1000000 /dev/zero | tr '\\0' o"}, {}});
  EXPECT_EQ(out.size(), 1000000u);
}

TEST(LastLine, Table) {
  struct {
    const char* in;
    const char* want;
  } cases[] = {{"", ""}, {"a", "a"}, {"a\nb\n", "b"}, {"a\n  b \r\n\n \n", "b"}, {"\n\n", ""}};
  for (auto& c : cases) EXPECT_EQ(last_line(c.in), c.want) << c.in;
}

}  // namespace
}  // namespace hull::install
