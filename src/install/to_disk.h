// bootc install to-disk: an image onto a whole disk (a block device, or with
// --via-loopback an image file), bootable on BIOS and UEFI, without mounting
// anything. A straight list of phases over one context:
//
//   check target -> stage sysroot -> root filesystem type -> (customize)
//   -> plan layout -> GRUB files -> partition -> mkfs /boot -> mkfs /var
//   mounts -> mkfs root -> ESP -> BIOS boot code
//
// The sysroot is staged in a temporary directory with libostree
// (sysroot::install_to_filesystem, bootloader "syslinux"), then each
// filesystem is made from its part of that tree (mkfs.ext4 -d,
// mkfs.btrfs --rootdir, mtools): nothing is written to the target until
// the staged tree is complete, so a failed pull leaves the disk untouched.
// The layout is planned once the image is staged, so that what the image
// says (its root filesystem type, its bootc-image-builder config) counts.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "install/disk.h"
#include "install/runner.h"
#include "util/phases.h"
#include "sysroot/sysroot.h"

namespace hull::install {

// What the customize hook sees: the deployment's root directory, the
// stateroot's /var (where users' homes go) and the root filesystem type.
struct Staged {
  std::string deploy;
  std::string var;
  std::string root_fs;
};

// What the customize hook asks of the layout.
struct DiskRequest {
  std::optional<uint64_t> disk_size;  // of a new image file (--via-loopback, file absent)
  std::optional<uint64_t> boot_size;  // whole MiB; default LayoutOptions::boot_size, 1 GiB
  std::vector<VarMount> var_mounts;   // partitions of their own below /var
  uint64_t min_root_size = 0;         // the root partition must be at least this long
};

struct ToDiskOptions {
  std::string device;                  // block device, or image file with via_loopback
  bool via_loopback = false;           // DEVICE is an image file (created if missing)
  bool wipe = false;                   // overwrite an existing partition table
  std::string filesystem;              // ext4|xfs|btrfs; empty: the image's install config
  std::optional<uint64_t> root_size;   // root partition size; default: the rest of the disk
  // source, target, stateroot, kargs, root_ssh_authorized_keys; root and
  // bootloader are set by install_to_disk.
  sysroot::InstallOptions install;
  std::string workdir;                 // staging parent directory; empty: $TMPDIR or /var/tmp
  // build-disk's hook (unset for install to-disk): called once the sysroot
  // is staged and the root filesystem type known, before the layout is
  // planned and anything is written to the target. It may change the
  // deployment (users, groups) and says what the layout must hold. A throw
  // aborts the install.
  std::function<DiskRequest(const Staged&)> customize;
  bool keep_staging = false;           // hand the staging directory to the caller (ToDiskResult::staging)
};

// Size of a new image file with --via-loopback: --root-size plus the fixed
// partitions, else kDefaultDiskSize (sparse: only what is written is used).
constexpr uint64_t kDefaultDiskSize = 10 * kGiB;

// The staging directory (sysroot, work files): removed, deployments
// unfrozen first (sysroot::unfreeze_deployments), when it is destroyed.
class StagingDir;

struct ToDiskResult {
  ToDiskResult();
  ToDiskResult(ToDiskResult&&) noexcept;
  ToDiskResult& operator=(ToDiskResult&&) noexcept;
  ~ToDiskResult();
  std::string commit;
  Layout layout;
  PhaseTimes phases;
  // Set with ToDiskOptions::keep_staging: the staged tree, about the size of
  // the image, for the caller to remove when it suits (build-disk does it
  // while the formats convert).
  std::unique_ptr<StagingDir> staging;
};

// Removes the staging directory `r` kept, if any (its destructor does too).
void remove_staging(ToDiskResult& r);

// Installs o.install.source to o.device. Throws Error with the phase as
// context; a file created here is removed again on failure.
ToDiskResult install_to_disk(sysroot::Context& ctx, const ToDiskOptions& o, Runner& r = system_runner());

// Staging a sysroot writes every file with its real owner (libostree's
// bare repository), so it needs root, or root of a user namespace that maps
// at least 65,536 ids (`buildah unshare`, with /etc/subuid). Throws saying
// so otherwise, before anything is fetched.
void check_can_stage();

// The kernel arguments hull adds for a disk whose root filesystem has
// `root_uuid`: root=UUID=, rw, console on tty0 and ttyS0 (the last console=
// is /dev/console, so the serial line gets systemd's output).
std::vector<std::string> disk_kargs(const std::string& root_uuid);

// The image's install configs, /usr/lib/bootc/install/*.toml of the
// deployment `deploy`, as (path in the image, text) pairs.
std::vector<std::pair<std::string, std::string>> install_configs(const std::string& deploy);

// The /etc/fstab hull writes into the deployment: /boot by UUID.
std::string fstab(const Layout& l);

}  // namespace hull::install
