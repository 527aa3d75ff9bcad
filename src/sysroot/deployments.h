// libostree's sysroot and deployments, as the sysroot library's files share
// them (internal to hull_sysroot: the CLI and the layers above use
// sysroot.h). Plain wrappers: loading and locking, the deployment list and
// its one writer, switch_boot(), which also keeps the boot counter
// (trial.h) in step with the boot order.
#pragma once

#include <ostree.h>

#include <optional>
#include <string>
#include <vector>

#include "store/ostree.h"
#include "store/store.h"
#include "sysroot/origin.h"
#include "sysroot/status.h"
#include "sysroot/sysroot.h"
#include "sysroot/trial.h"
#include "util/glib.h"

namespace hull::sysroot {

using SysrootRef = GRef<OstreeSysroot>;
using DeploymentRef = GRef<OstreeDeployment>;

// libostree g_print()s "Freed objects: SIZE" to stdout when it prunes
// (ostree_sysroot_cleanup, and ostree_sysroot_write_deployments, which cleans
// up too; its own "TODO remove printf in library"). --quiet must not show it,
// and hull's own summary says what its prune freed: silenced while one lives.
struct SilentGPrint {
  GPrintFunc old = g_set_print_handler([](const gchar*) {});
  ~SilentGPrint() { g_set_print_handler(old); }
  SilentGPrint() = default;
  SilentGPrint(const SilentGPrint&) = delete;
  SilentGPrint& operator=(const SilentGPrint&) = delete;
};

SysrootRef load_sysroot(const std::string& path);
void lock(OstreeSysroot* s);

// The sysroot's repository, owned by the (loaded) sysroot.
inline OstreeRepo* repo_of(OstreeSysroot* s) { return ostree_sysroot_repo(s); }

std::vector<OstreeDeployment*> deployments_of(OstreeSysroot* s);

// The deployment that upgrades start from: the booted one, else (a
// directory sysroot) the default.
OstreeDeployment* current_deployment(OstreeSysroot* s);

// The deployment's origin file (empty if it has none).
Origin origin_of(OstreeDeployment* d);

// Its kernel arguments, without the ostree= that libostree adds itself.
std::vector<std::string> deployment_kargs(OstreeDeployment* d);
// Its hull.entry nonce (trial.h), "" for a deployment made before hull had one.
std::string deployment_entry(OstreeDeployment* d);

std::string deployment_dir(OstreeSysroot* s, OstreeDeployment* d, const std::string& sysroot);

ImageStatus image_status(const store::ImageRecord& r, const image::ImageName& name, bool enforce);
BootEntry boot_entry(OstreeRepo* repo, OstreeDeployment* d);

// "IMAGE (VERSION)" of a deployment, or its commit: for messages.
std::string describe_deployment(OstreeRepo* repo, OstreeDeployment* d);

// Makes `deps` the sysroot's deployments, in that order (the first boots
// next), with `next` as the boot counter of the new boot order: written
// into the loader.N libostree is about to fill, so that both go live in
// libostree's one rename (trial.h). `sysroot` is the sysroot's path. Where
// GRUB does not count (counting_supported), only the deployments change.
void switch_boot(OstreeSysroot* s, const std::string& sysroot, const std::vector<OstreeDeployment*>& deps,
                 const Trial& next);

// The trial the boot order `deps` should get after an upgrade, switch or
// rollback: its first deployment on trial for the tries of boot.toml (read
// from `etc_dir`, the /etc that decides: the running system's), unless
// there is nothing to fall back to or counting is off.
Trial trial_for(OstreeRepo* repo, const std::vector<OstreeDeployment*>& deps, const std::string& etc_dir);

// The /etc whose configuration applies to operations on the sysroot: "/etc"
// on the booted host, the default deployment's /etc in a directory.
std::string config_etc(OstreeSysroot* s, const std::string& sysroot);

// The stateroot's /var: "/var" on the booted host, else
// SYSROOT/ostree/deploy/STATEROOT/var.
std::string var_dir(OstreeSysroot* s, const std::string& sysroot, OstreeDeployment* d);

// counting.cc: the record of an update that failed its trial, and the
// trial in progress, for status and upgrade.
std::optional<FailedUpdate> read_failed_update(OstreeSysroot* s, const std::string& sysroot);
std::optional<TrialStatus> trial_status(OstreeSysroot* s, const std::string& sysroot);
// Throws on a fallback boot that hull-boot-assess.service has not handled
// yet (a trial armed, another deployment booted): an update staged now
// would go out before the failed one is recorded, and could be it again.
void refuse_unassessed_fallback(OstreeSysroot* s, const Context& ctx);

}  // namespace hull::sysroot
