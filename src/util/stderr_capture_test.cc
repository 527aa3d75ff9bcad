#include "util/stderr_capture.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include <gtest/gtest.h>

namespace hull {
namespace {

// What fd 2 is: (device, inode).
std::pair<dev_t, ino_t> fd2() {
  struct stat st{};
  EXPECT_EQ(::fstat(2, &st), 0);
  return {st.st_dev, st.st_ino};
}

TEST(StderrCapture, TakesStdioAndRawWritesThenRestoresFd2) {
  auto before = fd2();
  std::string got;
  {
    StderrCapture cap;
    EXPECT_NE(fd2(), before);
    std::fprintf(stderr, "note: one\n");
    ASSERT_EQ(::write(2, "raw\n", 4), 4);
    std::fputs("unterminated", stderr);  // flushed by finish()
    got = cap.finish();
    EXPECT_EQ(fd2(), before);
    EXPECT_EQ(cap.finish(), "");
  }
  EXPECT_EQ(got, "note: one\nraw\nunterminated");
  EXPECT_EQ(fd2(), before);
}

TEST(StderrCapture, DestructorRestoresFd2) {
  auto before = fd2();
  {
    StderrCapture cap;
    std::fprintf(stderr, "dropped\n");
  }
  EXPECT_EQ(fd2(), before);
  // And a later capture starts empty.
  StderrCapture cap;
  EXPECT_EQ(cap.finish(), "");
}

}  // namespace
}  // namespace hull
