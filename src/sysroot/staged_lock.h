// The finalization lock of the staged deployment, behind `upgrade
// --download-only` and `upgrade --from-downloaded` (bootc's flags).
//
// libostree finalizes a staged deployment at shutdown
// (ostree-finalize-staged.service) unless the runstate file
// /run/ostree/staged-deployment-locked exists: then it logs "Not finalizing;
// found /run/ostree/staged-deployment-locked", the host boots its current
// deployment again, and the staged one is gone with /run (its image stays in
// the repository until a later upgrade prunes it, so a new --download-only
// fetches nothing). libostree 2022.7 (Debian 12) has no API for the lock:
// its own `ostree admin deploy --stage --lock-finalization` creates the file
// *before* staging, so that a shutdown in between cannot finalize. libostree
// removes the file with the staged deployment (rollback, undeploy) and,
// since 2023.8, when a new staging replaces an earlier staged deployment;
// so a --download-only upgrade creates it before staging and again after.
//
// The second half works on a loaded libostree sysroot: what upgrade and
// switch do with the staged deployment (sysroot.cc calls it).
#pragma once

#include <ostree.h>

#include <string>
#include <string_view>

#include "sysroot/sysroot.h"

namespace hull::sysroot {

inline constexpr const char* kStagedLockFile = "/run/ostree/staged-deployment-locked";

// True if `file` exists: the staged deployment (if any) is not finalized.
bool staged_locked(const std::string& file = kStagedLockFile);

// Creates `file` (and its directory) atomically: written under a temporary
// name, synced, renamed. An existing file is left as it is.
void lock_staged(const std::string& file = kStagedLockFile);

// Removes `file`; false if it was not there.
bool unlock_staged(const std::string& file = kStagedLockFile);

// The lock held over a --download-only upgrade: taken at construction,
// before anything is staged. settle() says how the upgrade ended; an
// upgrade that throws before settle() leaves the lock as it found it (an
// earlier, unlocked staged deployment stays unlocked).
class DownloadLock {
 public:
  explicit DownloadLock(std::string file = kStagedLockFile);
  ~DownloadLock();
  DownloadLock(const DownloadLock&) = delete;
  DownloadLock& operator=(const DownloadLock&) = delete;

  // `staged`: a deployment is staged now (new, or one that was there):
  // locked (created again if staging removed it). Nothing staged: the lock
  // is removed, as it would lock nothing.
  void settle(bool staged);

 private:
  std::string file_;
  bool existed_ = false;
  bool settled_ = false;
};

// Refuses --download-only and --from-downloaded unless `s` is the booted
// host: one line naming the flag and `sysroot_path`.
void require_booted_for_download(OstreeSysroot* s, const UpgradeOptions& opts, const std::string& sysroot_path);

// The staged deployment of the booted host `s` if it is `commit`, deployed
// for `name` with the same signature enforcement; else nullptr.
OstreeDeployment* staged_same_image(OstreeSysroot* s, const std::string& commit, const image::ImageName& name,
                                    bool enforce);

// After an upgrade or switch on the booted host `s`: the staged deployment
// (nullptr if none), then locked if `download` (a --download-only upgrade,
// settled here), else unlocked (bootc: a plain upgrade unlocks).
OstreeDeployment* settle_staged(OstreeSysroot* s, DownloadLock* download);

// --from-downloaded: unlocks the staged deployment of the booted host `s`
// and returns it; `was_locked` tells whether it was. No staged deployment is
// one error line naming `prog upgrade --download-only`.
OstreeDeployment* unlock_downloaded(OstreeSysroot* s, std::string_view prog, bool* was_locked);

}  // namespace hull::sysroot
