#include "sysroot/staged_lock.h"

#include <errno.h>
#include <unistd.h>

#include "sysroot/deployments.h"
#include "sysroot/origin.h"
#include "util/error.h"
#include "util/file.h"

namespace hull::sysroot {

bool staged_locked(const std::string& file) { return path_exists(file); }

void lock_staged(const std::string& file) {
  if (path_exists(file)) return;
  size_t slash = file.rfind('/');
  if (slash != std::string::npos && slash > 0) make_dirs(file.substr(0, slash));
  write_file_atomic(file, "locked by upgrade --download-only; upgrade --from-downloaded unlocks\n", 0640);
}

bool unlock_staged(const std::string& file) {
  if (::unlink(file.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  fail_errno(fmt::format("removing {}", file));
}

DownloadLock::DownloadLock(std::string file) : file_(std::move(file)), existed_(staged_locked(file_)) {
  lock_staged(file_);
}

DownloadLock::~DownloadLock() {
  if (settled_ || existed_) return;
  try {
    unlock_staged(file_);
  } catch (const Error&) {
    // A backstop: the upgrade's own error is the one to report.
  }
}

void DownloadLock::settle(bool staged) {
  settled_ = true;
  if (staged)
    lock_staged(file_);
  else
    unlock_staged(file_);
}

void require_booted_for_download(OstreeSysroot* s, const UpgradeOptions& opts, const std::string& sysroot_path) {
  if (ostree_sysroot_get_booted_deployment(s) || (!opts.download_only && !opts.from_downloaded)) return;
  fail("{} works on the booted host only: nothing is staged or finalized in a sysroot directory ({})",
       opts.download_only ? "--download-only" : "--from-downloaded", sysroot_path);
}

OstreeDeployment* staged_same_image(OstreeSysroot* s, const std::string& commit, const image::ImageName& name,
                                    bool enforce) {
  if (!ostree_sysroot_get_booted_deployment(s)) return nullptr;
  OstreeDeployment* staged = ostree_sysroot_get_staged_deployment(s);
  if (!staged || commit != ostree_deployment_get_csum(staged)) return nullptr;
  bool staged_enforce = false;
  auto staged_name = origin_container_image(origin_of(staged), &staged_enforce);
  bool same = staged_name && staged_name->str() == name.str() && staged_enforce == enforce;
  return same ? staged : nullptr;
}

OstreeDeployment* settle_staged(OstreeSysroot* s, DownloadLock* download) {
  OstreeDeployment* staged = ostree_sysroot_get_staged_deployment(s);
  if (download)
    download->settle(staged != nullptr);
  else if (staged)
    unlock_staged();
  return staged;
}

OstreeDeployment* unlock_downloaded(OstreeSysroot* s, std::string_view prog, bool* was_locked) {
  OstreeDeployment* staged = ostree_sysroot_get_staged_deployment(s);
  if (!staged) fail("no staged deployment to apply: '{} upgrade --download-only' downloads and stages one", prog);
  *was_locked = unlock_staged();
  return staged;
}

}  // namespace hull::sysroot
