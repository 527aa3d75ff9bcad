// GRUB for hull's disks: BIOS (i386-pc) and UEFI (x86_64-efi), built from the
// image's own GRUB, reading a configuration that libostree switches
// atomically.
//
// The route (see /work/shared/reference/boot-chain.md for the spike that
// booted it): Debian's GRUB 2.06 has no `blscfg`, so libostree runs with
// `sysroot.bootloader=syslinux`. On every deployment change libostree writes
// `/boot/loader.N/syslinux.cfg` beside the BLS entries and flips the
// `/boot/loader` symlink in one rename. GRUB reads that file through the
// static `/boot/grub/grub.cfg` below (`extract_syslinux_entries_source`), which hull
// writes once at install and never again: upgrades and rollbacks, booted or
// offline, change only what libostree changes, atomically.
//
// Nothing in this layer spawns processes: the GRUB tools are returned as argv
// for the caller's runner (install/runner.h, which sits above this layer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hull::boot {

// The GRUB of an image, found in its root directory (a deployment checkout).
struct ImageGrub {
  std::string root;     // the image's root directory
  std::string loader;   // its dynamic loader (ld-linux-x86-64.so.2), a host path
  std::string libpath;  // its library directories, ':'-separated host paths
  std::string mkimage;  // its grub-mkimage
  std::string pc_dir;   // its /usr/lib/grub/i386-pc (modules, boot.img)
  std::string efi_dir;  // its /usr/lib/grub/x86_64-efi
};

// Finds GRUB in the image tree at `root`; throws naming the missing piece
// and the Debian package that ships it (grub-common, grub-pc-bin,
// grub-efi-amd64-bin). Symlinks are resolved inside `root`.
ImageGrub find_image_grub(const std::string& root);

enum class Platform { kBiosPc, kEfiX64 };

// The argv that makes a GRUB image with the image's own grub-mkimage, run
// through the image's own dynamic loader: no chroot (it would need root
// and CAP_SYS_CHROOT) and no mounts (grub-mkimage needs neither /proc nor
// /dev), and the host needs no GRUB at all. `early_cfg` is embedded; the
// result is written to `output` (i386-pc: core.img; x86_64-efi: a PE/COFF
// application for EFI/BOOT/BOOTX64.EFI). Every module the boot needs is
// embedded, so the images work without reading modules from /boot.
std::vector<std::string> mkimage_argv(const ImageGrub& g, Platform p, const std::string& early_cfg,
                                      const std::string& output);

// The configuration embedded in both images: find /boot by its filesystem
// UUID, then read /grub/grub.cfg there.
std::string early_cfg(const std::string& boot_fs_uuid);

// /boot/grub/grub.cfg: serial + console terminals, the boot counter of
// /boot/loader/hullenv (boot/trial.h), then the entries of the syslinux.cfg
// libostree keeps in the current /boot/loader as GRUB's menu, the default
// or (trial over) the previous deployment chosen. Static.
std::string grub_cfg();

// /boot/grub/efi-compat.cfg, sourced by grub.cfg on EFI only (see grub.cc).
std::string efi_compat_cfg();

// Prepares the libostree syslinux backend in an empty /boot before the first
// deployment: loader.0/syslinux.cfg (a TIMEOUT line only), loader -> loader.0, and
// syslinux/syslinux.cfg -> ../loader/syslinux.cfg (libostree refuses to
// use the backend unless that link exists).
void prepare_syslinux_layout(const std::string& boot_dir);

// Writes grub/grub.cfg and grub/efi-compat.cfg into `boot_dir`, and copies
// the image's module directories (grub/i386-pc, grub/x86_64-efi) so that
// `insmod` works from GRUB's shell. Never touched by upgrades.
void write_boot_files(const std::string& boot_dir, const ImageGrub& g);

// What grub-bios-setup would do for a GPT disk with a BIOS boot partition.
// boot.img (MBR code): the LBA of core.img's first sector at 0x5c, and the
// drive check jump at 0x66 replaced by two NOPs (a hard disk, not a floppy).
// core.img: the blocklist at the end of its first sector (diskboot.img)
// pointed at the LBA of its second sector. Throws on images of the wrong size
// or layout.
void patch_boot_img(std::string& boot_img, uint64_t core_lba);
void patch_core_img(std::string& core_img, uint64_t core_lba);

// Writes the BIOS boot code into `target` (a disk image or block device):
// the first 440 bytes of the patched boot.img into the MBR (its partition
// table and disk signature untouched), the patched core.img at
// `part_start` bytes (the BIOS boot partition, `part_size` bytes long).
// boot.img comes from the image's i386-pc directory.
void write_bios_boot(const std::string& target, const ImageGrub& g, std::string core_img, uint64_t part_start,
                     uint64_t part_size);

}  // namespace hull::boot
