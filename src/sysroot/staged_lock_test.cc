#include "sysroot/staged_lock.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "util/error.h"
#include "util/file.h"

namespace hull::sysroot {
namespace {

struct LockDir {
  TempDir dir{"hull-staged-lock"};
  std::string file() const { return dir.path() + "/run/ostree/staged-deployment-locked"; }
};

TEST(StagedLock, LockIsAFileCreatedWithItsDirectory) {
  LockDir d;
  EXPECT_FALSE(staged_locked(d.file()));
  EXPECT_FALSE(unlock_staged(d.file()));
  lock_staged(d.file());
  EXPECT_TRUE(staged_locked(d.file()));
  struct stat st;
  ASSERT_EQ(::stat(d.file().c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  lock_staged(d.file());  // again: nothing changes
  EXPECT_TRUE(staged_locked(d.file()));
  EXPECT_TRUE(unlock_staged(d.file()));
  EXPECT_FALSE(staged_locked(d.file()));
  EXPECT_FALSE(unlock_staged(d.file()));
}

TEST(StagedLock, DownloadLockHeldFromTheStart) {
  LockDir d;
  DownloadLock lock(d.file());
  EXPECT_TRUE(staged_locked(d.file()));  // before anything is staged
}

TEST(StagedLock, SettledStagedKeepsOrRestoresTheLock) {
  LockDir d;
  {
    DownloadLock lock(d.file());
    unlock_staged(d.file());  // as libostree >= 2023.8 does when a staging replaces another
    lock.settle(true);
    EXPECT_TRUE(staged_locked(d.file()));
  }
  EXPECT_TRUE(staged_locked(d.file()));  // settled: kept after the guard
}

TEST(StagedLock, SettledNothingStagedRemovesTheLock) {
  LockDir d;
  DownloadLock lock(d.file());
  lock.settle(false);
  EXPECT_FALSE(staged_locked(d.file()));
}

TEST(StagedLock, FailedUpgradeLeavesTheLockAsItWas) {
  LockDir d;
  {
    DownloadLock lock(d.file());  // no lock before: an unlocked staged deployment stays unlocked
  }
  EXPECT_FALSE(staged_locked(d.file()));
  lock_staged(d.file());
  {
    DownloadLock lock(d.file());  // locked before: stays locked
  }
  EXPECT_TRUE(staged_locked(d.file()));
}

TEST(StagedLock, UnlockErrorsNameTheFile) {
  LockDir d;
  make_dirs(d.file());  // a directory where the file should be
  try {
    unlock_staged(d.file());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("removing " + d.file()), std::string::npos) << e.message();
  }
}

}  // namespace
}  // namespace hull::sysroot
