#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/progress.h"

namespace hull {
namespace {

TEST(Error, ContextIsPrepended) {
  try {
    with_context("pulling x", [] { with_context("layer sha256:ab", [] { fail("digest mismatch"); }); });
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "pulling x: layer sha256:ab: digest mismatch");
  }
}

TEST(Error, ErrnoNamesTheCause) {
  try {
    open_file("/nonexistent/hull-test", O_RDONLY);
    FAIL();
  } catch (const SystemError& e) {
    EXPECT_EQ(e.code(), ENOENT);
    EXPECT_EQ(e.message(), "opening /nonexistent/hull-test: No such file or directory");
  }
}

TEST(Hash, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Hasher h(Hasher::Algo::kSha512);
  h.update("abc");
  EXPECT_EQ(h.hex_final().substr(0, 16), "ddaf35a193617aba");
  // The hasher resets after hex_final().
  h.update("abc");
  EXPECT_EQ(h.hex_final().substr(0, 16), "ddaf35a193617aba");
}

TEST(AtomicFile, CommitReplacesTarget) {
  TempDir dir("hull-test");
  std::string p = dir.path() + "/f";
  write_file_atomic(p, "one");
  write_file_atomic(p, "two");
  EXPECT_EQ(read_file(p), "two");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(AtomicFile, AbandonedLeavesTargetUntouched) {
  TempDir dir("hull-test");
  std::string p = dir.path() + "/f";
  write_file_atomic(p, "old");
  {
    AtomicFile f(p);
    f.write("half-written");
    // no commit: an error path
  }
  EXPECT_EQ(read_file(p), "old");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(ReadFile, RefusesOverLimit) {
  TempDir dir("hull-test");
  std::string p = dir.path() + "/big";
  write_file_atomic(p, std::string(100, 'x'));
  EXPECT_THROW(read_file(p, 10), Error);
  EXPECT_EQ(read_file(p, 100).size(), 100u);
}

TEST(TempDir, RemovedOnDestruction) {
  std::string p;
  {
    TempDir d("hull-test");
    p = d.path();
    make_dirs(p + "/a/b");
    write_file_atomic(p + "/a/b/c", "x");
  }
  EXPECT_FALSE(path_exists(p));
}

TEST(HumanBytes, Units) {
  EXPECT_EQ(human_bytes(999), "999 B");
  EXPECT_EQ(human_bytes(1500), "1.5 kB");
  EXPECT_EQ(human_bytes(2'000'000'000), "2.0 GB");
}

TEST(Progress, QuietPrintsNothing) {
  Progress p(/*quiet=*/true);
  EXPECT_FALSE(p.enabled());
  auto* b = p.bar("layer", 10);
  b->add(5);
  b->finish("done");
}

}  // namespace
}  // namespace hull
