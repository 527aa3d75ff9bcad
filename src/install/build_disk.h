// hull build-disk: bootc-image-builder's job (an image -> raw, qcow2, vmdk,
// vhd, gce, iso) as one unprivileged-where-possible command: no container
// runtime, no loop devices, no mounts. A straight list of phases:
//
//   resolve the image (containers-storage: through buildah; a registry
//   image fetched once into a local OCI layout) -> measure it -> install
//   to-disk into a sparse raw file (users, groups and kernel arguments of
//   the config applied to the staged deployment; the disk sized and laid
//   out from the config or the image's own bib config) -> convert
//   (qemu-img, tar) -> iso (installer) -> manifest-hull.json
//
// Several types share one raw build. Outputs are written under temporary
// names in the output directory and renamed into place when complete.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "install/bib_config.h"
#include "install/disk.h"
#include "install/formats.h"
#include "install/runner.h"
#include "util/phases.h"
#include "sysroot/sysroot.h"

namespace hull::install {

struct BuildDiskOptions {
  std::vector<DiskType> types;       // at least one; duplicates ignored
  std::string image;                 // any hull transport, or containers-storage:NAME
  std::string target_imgref;         // what upgrades follow; empty: the image's name
  std::string rootfs;                // ext4|xfs|btrfs; empty: the image's install config
  BibConfig config;                  // customizations
  std::string output = ".";          // output directory (created)
  std::optional<std::pair<uid_t, gid_t>> chown;  // owner of everything written
  std::string workdir;               // staging parent; empty: $TMPDIR or /var/tmp
  // The installer ISO's mode: install to this block device ("auto": the
  // first disk, see first_disk()) with the config applied, instead of
  // building files. Everything on the device is lost.
  std::string install_device;
};

struct BuiltFile {
  DiskType type;
  std::string path;        // relative to the output directory
  uint64_t size = 0;       // apparent bytes
  uint64_t allocated = 0;  // bytes on disk (sparse)
};

struct BuildDiskResult {
  std::string image_digest;  // the manifest's digest
  uint64_t image_size = 0;   // sum of the layers' uncompressed sizes
  uint64_t disk_size = 0;    // the raw disk's (virtual) size
  std::string rootfs;
  std::vector<BuiltFile> files;
  PhaseTimes phases;
};

// Builds every type of `o.types` from `o.image`. Throws Error with the
// phase as context; nothing half-written is left in the output directory.
BuildDiskResult build_disk(sysroot::Context& ctx, const BuildDiskOptions& o, Runner& r = system_runner());

// --- the pieces, exposed for tests ---------------------------------------

// The machine's first disk for the installer: the whole disks of /sys/block
// (`sys_block`), in name order, without loop, ram, zram, CD-ROM (sr), md,
// dm, nbd and floppy devices, empty ones, and the one labelled
// `skip_label` (the installer's own medium). Throws if there is none.
std::string first_disk(const std::string& sys_block = "/sys/block", const std::string& skip_label = "");

// bootc-image-builder's disk size: the largest of 10 GiB (bib's default),
// twice the image's size, the disk minimum, and what the root, /boot and
// /var mount minimums need; rounded up to a whole MiB.
uint64_t plan_disk_size(uint64_t image_size, const BibConfig& c);
constexpr uint64_t kBibDefaultDiskSize = 10ull << 30;

// The size of /boot: the config's minimum in whole MiB, at least 1 GiB.
uint64_t boot_size(const BibConfig& c);

// The partitions of their own that the config's mountpoints below /var
// ask for: minsize rounded up to a whole MiB (at least 16 MiB; 1 GiB when
// no minsize is given); a mountpoint listed twice takes the larger size.
std::vector<VarMount> var_mounts(const BibConfig& c);
constexpr uint64_t kMinVarMountSize = 16ull << 20;
constexpr uint64_t kDefaultVarMountSize = 1ull << 30;

// The image's own bib config, /usr/lib/bootc-image-builder/config.toml or
// config.json in the deployment `deploy` (symlinks resolved inside it),
// parsed with the same rules; nullopt if it has none; both is an error.
// As with bib, only its filesystem and disk customizations are used, and
// only when --config says nothing about either.
std::optional<BibConfig> image_bib_config(const std::string& deploy);
constexpr std::string_view kImageBibConfigDir = "/usr/lib/bootc-image-builder";

// The uncompressed size of a layer blob at `path` with `media_type`: gzip
// from its trailer (ISIZE, with the 4 GiB wrap undone), zstd from its frame
// header or by decompressing, uncompressed tar as is.
uint64_t layer_uncompressed_size(const std::string& path, const std::string& media_type);

// The image's own user tools run against a deployment tree, without chroot:
// `prog` (e.g. "usr/sbin/useradd") through the image's dynamic loader, with
// --prefix DEPLOY (shadow's "no chroot" option), then `args`.
Command image_tool(const std::string& deploy, const std::string& prog, std::vector<std::string> args);

// Applies the config's groups and users to the deployment at `deploy`
// (its /etc) and their homes to the stateroot's /var at `var`: groupadd,
// useradd (password SHA-512 crypt hashed, supplementary groups must exist),
// /var/home/NAME from /etc/skel, ~/.ssh/authorized_keys (0600), all owned
// by the user.
void apply_users(const BibConfig& c, const std::string& deploy, const std::string& var, Runner& r);

}  // namespace hull::install
