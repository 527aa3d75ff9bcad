// Deployments on libostree: install, status, upgrade, switch, rollback.
//
// Every operation works both on the booted host (sysroot "/") and on a
// sysroot directory (--sysroot DIR), which is how the integration tests run
// them without booting. The differences, on purpose:
//   - booted: an upgrade is *staged* and finalized by libostree at shutdown
//     (ostree-finalize-staged), so /etc edits made until then are kept;
//   - directory: nothing is booted, so the new deployment is written
//     directly, first in the boot order, and the previous default becomes
//     the rollback. Status shows the default deployment as "booted" (what
//     would boot) — see sysroot/status.h.
// Each command is a straight list of phases over one Context.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "image/transport.h"
#include "registry/client.h"
#include "signature/verify.h"
#include "sysroot/status.h"
#include "sysroot/trial.h"
#include "util/progress.h"

namespace hull::sysroot {

struct Context {
  std::string sysroot = "/";  // --sysroot
  registry::Options registry;
  // --policy, --registries.d, --enforce-container-sigpolicy. Every pull
  // checks the signature policy before fetching more than the manifest. A
  // deployment installed (or switched) with enforce has an
  // ostree-image-signed: origin, and every later upgrade and switch of the
  // host enforces too (stricter than bootc, whose switch without the flag
  // drops it).
  signature::TrustOptions trust;
  std::optional<oci::Platform> platform;
  Progress* progress = nullptr;  // never null when an operation runs
  bool quiet = false;
  bool verbose = false;  // upgrade/switch: say how each layer was verified
  std::string prog = "hull";  // the command name for hints ("hull" or "bootc")
  // The kernel command line of the running boot, which names the booted
  // deployment by its hull.entry (sysroot/trial.h). Empty: /proc/cmdline on
  // the booted host; in a directory the default deployment counts as booted
  // (tests pass a command line to play a fallback boot).
  std::string kernel_cmdline;
};

struct InstallOptions {
  std::string root;                          // the target filesystem, mounted (or a directory)
  image::ImageName source;                   // --source-imgref: where the image is read from now
  std::optional<image::ImageName> target;    // --target-imgref: what later upgrades follow
  std::string stateroot = "default";
  std::vector<std::string> kargs;            // --karg
  std::string root_ssh_authorized_keys;      // file with keys for root, or empty
  std::string bootloader;                    // sysroot.bootloader ("syslinux", "none"); empty: ostree decides
  std::optional<int> boot_tries;             // --boot-tries: /etc/hull/boot.toml's tries in the deployment
  // false for a staging tree that is copied elsewhere and then removed
  // (install to-disk, build-disk): no fsync of each object, no syncfs.
  bool sync = true;
};

struct Installed {
  std::string commit;          // the deployed image commit
  std::string deployment_dir;  // its checkout: ROOT/ostree/deploy/STATEROOT/deploy/COMMIT.SERIAL
};

// Initializes an ostree sysroot in opts.root, pulls and deploys the image,
// writes its origin, seeds /var of the stateroot from the image, writes
// .bootc-aleph.json.
Installed install_to_filesystem(Context& ctx, const InstallOptions& opts);

// libostree makes every deployment root immutable (chattr +i). A sysroot
// staged in a temporary directory is unfrozen with this before it is
// removed (best effort: what cannot be changed is left as it is).
void unfreeze_deployments(const std::string& sysroot_dir);

// The BootcHost status of the sysroot.
HostStatus status(Context& ctx);

struct UpgradeOptions {
  bool check = false;  // only report what would change
  bool apply = false;  // reboot after staging (booted hosts only; done by the CLI)
  // Booted host only: fetch and stage, but the staged deployment is locked
  // (sysroot/staged_lock.h): not finalized at shutdown until
  // --from-downloaded or a plain upgrade unlocks it.
  bool download_only = false;
  // Booted host only: fetch nothing; unlock the staged deployment so that
  // it is finalized at the next shutdown.
  bool from_downloaded = false;
};

// What upgrade/switch did, for the message printed by the CLI.
struct UpgradeResult {
  bool changed = false;  // a new deployment was staged or written
  // Booted host: a deployment is staged and not locked, so it is finalized
  // at the next shutdown -- staged by this run or left by an earlier one.
  bool staged = false;
  std::string staged_image;  // then: "IMAGE (VERSION)" of that deployment
  std::string message;       // one or a few lines for the user
};

// Looks up the image the default deployment follows; fetches only what is
// missing and stages (booted) or deploys (directory) it. "No update
// available" if the digest is unchanged; a booted host whose staged
// deployment is already that image keeps it ("Already queued"). An origin
// that cannot be reached is one error line: "cannot reach IMAGE (the origin
// of the booted deployment): why; use 'hull switch IMAGE' to follow another
// image".
//
// On a booted host, as bootc: an upgrade that stages (not --check, not
// --download-only) unlocks a staged deployment that --download-only locked;
// --download-only locks it, the one it stages or the one already there.
// --download-only and --from-downloaded are refused on a directory sysroot
// in one line (nothing is staged or finalized there); --from-downloaded
// without a staged deployment is one error line.
UpgradeResult upgrade(Context& ctx, const UpgradeOptions& opts);

// The path of the file `rel` ("etc/hull/updates.toml") in the deployment an
// upgrade starts from: "/REL" on a booted host; in a sysroot directory, REL
// inside the default deployment's checkout, links resolved inside it (the
// unresolved path if the file does not exist).
std::string deployment_file(Context& ctx, const std::string& rel);

// Like upgrade, but to another image; the origin follows it afterwards.
UpgradeResult switch_image(Context& ctx, const image::ImageName& target);

// Swaps the default and the rollback deployment; a second rollback swaps
// them back. A staged, not yet finalized deployment is discarded.
std::string rollback(Context& ctx);

// ---- boot counting (sysroot/trial.h): what hull's units do at boot ----

enum class BootKind {
  kNormal,    // no trial: the default deployment is trusted
  kTrial,     // the deployment on trial booted: assess it
  kFallback,  // a trial is armed but another deployment booted: GRUB fell back
};

struct BootState {
  BootKind kind = BootKind::kNormal;
  Trial trial;                 // the armed trial, if any
  size_t deployments = 0;      // how many there are (nothing to fall back to with one)
  std::string booted;          // "IMAGE (VERSION)" of the booted deployment
};

BootState boot_state(Context& ctx);

// The trial boot reached boot-complete.target: the trial is over, and the
// record of an earlier failed update is cleared. Returns what was blessed
// ("" on a boot that was not on trial).
std::string bless(Context& ctx);

// The trial boot failed (a required check, a unit of boot-complete.target):
// kept with its reasons in /var/lib/hull/trial-boots.json, for the record
// that the fallback boot writes.
void record_failed_boot(Context& ctx, const std::vector<std::string>& reasons);

// On the fallback boot: the booted deployment becomes the default again
// (as rollback does, without a trial), the failed one stays as rollback,
// and /var/lib/hull/failed-update.json says which one failed and why.
// Upgrades do not deploy that image again (switch still does).
FailedUpdate fall_back(Context& ctx);

// At shutdown, before libostree finalizes a staged deployment (the drop-in
// of ostree-finalize-staged.service): puts its trial into the loader.N that
// finalization will write, so that it goes live with it. Returns what was
// armed ("" if nothing is staged, finalization is locked, or counting is off).
std::string arm_staged(Context& ctx);

}  // namespace hull::sysroot
