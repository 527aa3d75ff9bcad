// The disk hull installs to, as data: a GPT layout (bootc-image-builder's
// x86_64 default: 1 MiB BIOS boot, ESP, 1 GiB /boot, then any partitions
// for directories below /var, root last, to the end of the disk), and
// the filesystems written straight into the image file or block device at
// their offsets. Nothing is mounted and no loop device is used: hull
// writes the table into the file (gpt.h), mkfs.ext4 -E offset= -d and mtools'
// IMAGE@@OFFSET write at an offset, mkfs.btrfs --rootdir writes a temporary
// file that is copied in (it has no offset option).
// install to-disk and build-disk share this.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "install/runner.h"

namespace hull::install {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kSector = 512;

// GPT partition type GUIDs.
inline constexpr std::string_view kTypeBiosBoot = "21686148-6449-6E6F-744E-656564454649";
inline constexpr std::string_view kTypeEsp = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
inline constexpr std::string_view kTypeLinuxData = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
// "Linux root (x86-64)": systemd-gpt-auto-generator would mount it even
// without root= (which can hide a missing ostree= karg; hull always passes
// root=UUID=).
inline constexpr std::string_view kTypeRootX86_64 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";

struct Partition {
  std::string name;       // GPT partition name
  std::string type_guid;  // one of kType*
  std::string part_guid;  // unique partition GUID
  uint64_t start = 0;     // bytes from the start of the disk, MiB-aligned
  uint64_t size = 0;      // bytes
  std::string fs;         // "", "vfat", "ext4", "btrfs"
  std::string fs_uuid;    // ext4/btrfs: a UUID; vfat: the volume id "XXXX-XXXX"
  std::string label;      // filesystem label
  std::string mountpoint; // where the installed system mounts it ("" for BIOS boot and the ESP)
  uint64_t end_sector() const { return (start + size) / kSector - 1; }
};

struct Layout {
  uint64_t disk_size = 0;  // bytes
  std::string disk_guid;
  std::vector<Partition> parts;  // bios, esp, boot, the /var mounts, root, in this order
  const Partition& bios() const { return parts.at(0); }
  const Partition& esp() const { return parts.at(1); }
  const Partition& boot() const { return parts.at(2); }
  const Partition& root() const { return parts.back(); }
  // The partitions for directories below /var, by mountpoint (parents first).
  std::vector<const Partition*> var_mounts() const;
};

// A partition of its own for a directory below /var (bootc-image-builder's
// [[customizations.filesystem]]), with the root's filesystem type.
struct VarMount {
  std::string mountpoint;  // "/var/data"
  uint64_t size = 0;       // bytes, whole MiB
};

struct LayoutOptions {
  uint64_t disk_size = 0;
  std::string root_fs = "ext4";
  std::string root_uuid;              // default: a fresh one
  std::optional<uint64_t> root_size;  // default: to the end of the disk
  uint64_t esp_size = 501 * kMiB;     // bootc-image-builder's x86_64 ESP
  uint64_t boot_size = 1 * kGiB;
  std::vector<VarMount> var_mounts;
};

// The smallest root partition plan_layout accepts.
constexpr uint64_t kMinRootSize = 1 * kGiB;

// Plans the layout with fresh random UUIDs: p1 BIOS boot at 1 MiB (1 MiB),
// p2 ESP, p3 /boot (ext4), then one partition per /var mount (sorted by
// mountpoint), root last up to the last whole MiB before the backup GPT,
// or `root_size` long. Throws if it does not fit or a mount is refused.
Layout plan_layout(const LayoutOptions& o);

// The disk size needed for a layout whose root is `root_size` long.
uint64_t disk_size_for_root(uint64_t root_size, const LayoutOptions& o = {});

// A random (version 4) UUID, lower case; and a FAT volume id "XXXX-XXXX".
std::string random_uuid();
std::string random_vfat_id();

// Parses "10G", "512M", "1.5G", "4096" (bytes), "20GiB"; K/M/G/T are powers
// of 1024. Throws on anything else.
uint64_t parse_size(std::string_view s);

// --- the target --------------------------------------------------------

struct TargetInfo {
  bool exists = false;
  bool block_device = false;
  uint64_t size = 0;
  bool has_partition_table = false;  // an MBR boot signature or a GPT header
};

// Looks at `path` (a regular file or a block device) without changing it.
TargetInfo inspect_target(const std::string& path);

// True if `first_sectors` (the first 1024 bytes or more of a disk) carries
// an MBR boot signature (55 AA at 510) or a GPT header ("EFI PART" at 512).
bool has_partition_table(std::string_view first_sectors);

// Throws if `device` or one of its partitions is mounted (/proc/self/mountinfo).
void check_not_mounted(const std::string& device);

// --- writing -----------------------------------------------------------

// Writes the GPT (and protective MBR) of `l` into `target` (install/gpt.h),
// clearing what was before the first partition; the old table's backup at
// the end is overwritten by the new one.
void write_gpt(const std::string& target, const Layout& l);

// Makes the filesystem of `p` (ext4 or btrfs) at its offset in `target`,
// populated from the directory `from` (owners, modes, hard links, xattrs
// kept). `workdir` holds temporaries (btrfs is made in a file there, then
// copied in sparsely).
void make_filesystem(Runner& r, const std::string& target, const Partition& p, const std::string& from,
                     const std::string& workdir);

// Makes [offset, offset+size) of the regular file `target` a hole (it
// reads as zeros, takes no space); false if `target` is not a regular file
// or its filesystem cannot punch holes.
bool punch_hole(const std::string& target, uint64_t offset, uint64_t size);

// Formats the ESP (FAT32) at its offset and copies `files` into it:
// pairs of (host path, path on the ESP such as "EFI/BOOT/BOOTX64.EFI").
void make_esp(Runner& r, const std::string& target, const Partition& p,
              const std::vector<std::pair<std::string, std::string>>& files);

// Copies the file `from` into `target` at byte `offset`, skipping holes
// (SEEK_DATA/SEEK_HOLE), so sparse images stay sparse.
void copy_into(const std::string& from, const std::string& target, uint64_t offset);

// The root filesystem type that install configs ask for: the files of
// /usr/lib/bootc/install/*.toml as (name, text) pairs, applied in name order
// (later files win), `[install.filesystem.root] type`. Empty if none says.
// Throws naming the file on malformed TOML.
std::string root_fs_from_install_configs(std::vector<std::pair<std::string, std::string>> files);

}  // namespace hull::install
