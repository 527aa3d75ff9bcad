#include "boot/grub.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "sysroot/trial.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::boot {
namespace {

namespace fs = std::filesystem;

std::string need(const std::string& root, const std::string& rel, std::string_view package) {
  std::string p = resolve_in_root(root, rel);
  if (p.empty()) fail("the image has no /{} (Debian package {}); it cannot be made bootable", rel, package);
  return p;
}

// Modules embedded in both images. syslinuxcfg reads libostree's
// syslinux.cfg; serial/terminal give the serial console; search_fs_uuid
// finds /boot; linux is kept for interactive use (see grub_cfg()).
constexpr const char* kCommonModules[] = {
    "part_gpt", "part_msdos", "ext2",    "fat",    "search", "search_fs_uuid", "search_label", "normal",
    "configfile", "echo",     "test",    "true",   "sleep",  "syslinuxcfg",    "serial",       "terminal",
    "ls",       "cat",        "reboot",  "halt",   "minicmd", "linux",          "loadenv"};
constexpr const char* kPcModules[] = {"biosdisk", "linux16"};
constexpr const char* kEfiModules[] = {"efi_gop", "efi_uga", "all_video", "linuxefi"};

// Offsets of grub-core/boot/i386/pc/boot.S and diskboot.S (GRUB 2.06).
constexpr size_t kBootKernelSector = 0x5c;  // GRUB_BOOT_MACHINE_KERNEL_SECTOR (8 bytes LE)
constexpr size_t kBootDriveCheck = 0x66;    // GRUB_BOOT_MACHINE_DRIVE_CHECK (2 bytes)
constexpr size_t kMbrCodeSize = 440;        // then the disk signature and the partition table
constexpr size_t kCoreBlocklist = 0x1f4;    // diskboot.img: start (8), len (2), segment (2)

void copy_tree(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  if (ec) fail("copying {} to {}: {}", from, to, ec.message());
}

}  // namespace

ImageGrub find_image_grub(const std::string& root) {
  return with_context("finding GRUB in the image", [&] {
    ImageGrub g;
    g.root = root;
    for (const char* ld : {"usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2",
                           "usr/lib64/ld-linux-x86-64.so.2"}) {
      g.loader = resolve_in_root(root, ld);
      if (!g.loader.empty()) break;
    }
    if (g.loader.empty()) fail("the image has no x86_64 dynamic loader (ld-linux-x86-64.so.2)");
    for (const char* dir : {"usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu"}) {
      std::string p = resolve_in_root(root, dir);
      if (!p.empty() && g.libpath.find(p) == std::string::npos) g.libpath += (g.libpath.empty() ? "" : ":") + p;
    }
    g.mkimage = need(root, "usr/bin/grub-mkimage", "grub-common");
    g.pc_dir = need(root, "usr/lib/grub/i386-pc", "grub-pc-bin");
    g.efi_dir = need(root, "usr/lib/grub/x86_64-efi", "grub-efi-amd64-bin");
    need(root, "usr/lib/grub/i386-pc/boot.img", "grub-pc-bin");
    return g;
  });
}

std::vector<std::string> mkimage_argv(const ImageGrub& g, Platform p, const std::string& early_cfg,
                                      const std::string& output) {
  // --inhibit-cache: never fall back on the host's /etc/ld.so.cache; every
  // library comes from the image (--library-path).
  std::vector<std::string> argv = {g.loader, "--inhibit-cache", "--library-path", g.libpath, g.mkimage};
  bool pc = p == Platform::kBiosPc;
  argv.insert(argv.end(), {"--directory", pc ? g.pc_dir : g.efi_dir, "--format", pc ? "i386-pc" : "x86_64-efi",
                           "--output", output, "--config", early_cfg, "--prefix", "/grub"});
  for (const char* m : kCommonModules) argv.push_back(m);
  if (pc)
    for (const char* m : kPcModules) argv.push_back(m);
  else
    for (const char* m : kEfiModules) argv.push_back(m);
  return argv;
}

std::string early_cfg(const std::string& boot_fs_uuid) {
  return fmt::format(
      "search --no-floppy --fs-uuid --set=root {}\n"
      "set prefix=($root)/grub\n"
      "configfile ($root)/grub/grub.cfg\n",
      boot_fs_uuid);
}

// Why the EFI branch (pitfall 1 of boot-chain.md), as far as it is known:
//  - GRUB's syslinuxcfg turns each syslinux LABEL into
//      if test x$grub_platform = xpc; then linux_suffix=16; else linux_suffix= ; fi
//      linux$linux_suffix KERNEL ARGS
//      initrd$linux_suffix INITRD
//    (grub-core/lib/syslinux_parse.c, write_entry): `linux16`/`initrd16` on
//    BIOS, the generic `linux`/`initrd` elsewhere.
//  - In the spike, the generic `linux` command of Debian's 2.06 started the
//    kernel without its command line when reached through
//    syslinux_configfile, on i386-pc and on x86_64-efi alike (no ostree=
//    karg, so the initramfs could not find the deployment). `linux16` (BIOS,
//    16-bit boot protocol) and Debian's `linuxefi` (EFI handover) pass it.
//    The root cause inside GRUB was not found; what is relied on is only
//    what booted.
//  - BIOS therefore works as is. On EFI, `linux16` does not exist (it is an
//    i386-pc module), so GRUB script falls through to functions of that
//    name: efi-compat.cfg defines linux16/initrd16 as wrappers of
//    linuxefi/initrdefi, and grub.cfg sets grub_platform=pc so that the
//    generated entries call them. grub_platform is only read by scripts; the
//    firmware interface GRUB uses does not depend on it.
// The menu: syslinux_configfile would run only syslinux.cfg's DEFAULT entry
// (GRUB's reader skips the menu when the file has no TIMEOUT), and that
// entry then needed an explicit `boot` (pitfall 2). Boot counting needs to
// pick the second entry, so grub.cfg instead loads every entry into its own
// menu (extract_syslinux_entries_source; syslinux.cfg carries a TIMEOUT for
// that, see prepare_syslinux_layout) and chooses `default` itself; a menu
// entry boots when its commands finish.
std::string grub_cfg() {
  std::string countdown;
  for (int n = sysroot::kMaxTries; n >= 1; n--)
    countdown += fmt::format("  {}if [ \"$hull_left\" = {} ]; then set hull_left={}\n", n == sysroot::kMaxTries ? "" : "el", n, n - 1);
  return R"(# Written once by hull at install; never rewritten. The boot menu is
# libostree's /loader/syslinux.cfg, which libostree switches atomically with
# each deployment change (sysroot.bootloader=syslinux); /loader/hullenv
# beside it holds the trial of a new default deployment (hull boot counting,
# see src/boot/trial.h).
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
if [ "$grub_platform" = efi ]; then
  # syslinuxcfg emits linux16/initrd16 only when grub_platform=pc; on EFI
  # they are functions around linuxefi/initrdefi (efi-compat.cfg).
  source /grub/efi-compat.cfg
  set grub_platform=pc
fi
# Entry 0 is the default deployment, entry 1 the previous one. A default on
# trial gets hull_left more boots; when none are left, or the counter cannot
# be saved, GRUB boots the previous deployment.
set default=0
if [ -f /loader/hullenv ]; then
  load_env -f /loader/hullenv hull_trial hull_left
fi
if [ "$hull_trial" = 1 ]; then
)" + countdown + R"(  else set hull_left=0; set default=1
  fi
  if [ "$default" = 0 ]; then
    if save_env -f /loader/hullenv hull_left; then true; else set default=1; fi
  fi
fi
extract_syslinux_entries_source /loader/syslinux.cfg
)";
}

std::string efi_compat_cfg() {
  return R"(# Sourced by grub.cfg on EFI only: the generic "linux" loader lost the
# kernel command line under syslinux_configfile; linuxefi passes it.
function linux16 {
  linuxefi "$@"
}
function initrd16 {
  initrdefi "$@"
}
)";
}

void prepare_syslinux_layout(const std::string& boot_dir) {
  with_context("preparing /boot for libostree's syslinux backend", [&] {
    make_dirs(boot_dir + "/loader.0");
    make_dirs(boot_dir + "/syslinux");
    // A TIMEOUT makes GRUB's syslinux reader emit a menu entry per
    // deployment (without one it runs only the DEFAULT entry), which
    // grub.cfg's extract_syslinux_entries_source loads; libostree keeps the
    // line in every syslinux.cfg it writes. Its value is not used.
    write_file_atomic(boot_dir + "/loader.0/syslinux.cfg", "TIMEOUT 10\n");
    if (symlink("loader.0", (boot_dir + "/loader").c_str()) != 0) fail_errno(boot_dir + "/loader");
    if (symlink("../loader/syslinux.cfg", (boot_dir + "/syslinux/syslinux.cfg").c_str()) != 0)
      fail_errno(boot_dir + "/syslinux/syslinux.cfg");
  });
}

void write_boot_files(const std::string& boot_dir, const ImageGrub& g) {
  with_context("writing /boot/grub", [&] {
    make_dirs(boot_dir + "/grub");
    write_file_atomic(boot_dir + "/grub/grub.cfg", grub_cfg());
    write_file_atomic(boot_dir + "/grub/efi-compat.cfg", efi_compat_cfg());
    copy_tree(g.pc_dir, boot_dir + "/grub/i386-pc");
    copy_tree(g.efi_dir, boot_dir + "/grub/x86_64-efi");
  });
}

void patch_boot_img(std::string& boot_img, uint64_t core_lba) {
  if (boot_img.size() != 512) fail("boot.img is {} bytes, not 512", boot_img.size());
  for (int i = 0; i < 8; i++) boot_img[kBootKernelSector + i] = char((core_lba >> (8 * i)) & 0xff);
  boot_img[kBootDriveCheck] = char(0x90);
  boot_img[kBootDriveCheck + 1] = char(0x90);
}

void patch_core_img(std::string& core_img, uint64_t core_lba) {
  if (core_img.size() < 1024) fail("core.img is {} bytes: too small", core_img.size());
  // grub-mkimage leaves the blocklist at "the rest starts at LBA 2, length =
  // sectors - 1"; anything else is not the image this code knows.
  uint64_t start = 0;
  for (int i = 0; i < 8; i++) start |= uint64_t(uint8_t(core_img[kCoreBlocklist + i])) << (8 * i);
  uint16_t len = uint16_t(uint8_t(core_img[kCoreBlocklist + 8]) | uint8_t(core_img[kCoreBlocklist + 9]) << 8);
  uint64_t sectors = (core_img.size() + 511) / 512;
  if (start != 2 || len != sectors - 1)
    fail("core.img has an unexpected blocklist (start {}, length {}, {} sectors)", start, len, sectors);
  uint64_t rest = core_lba + 1;
  for (int i = 0; i < 8; i++) core_img[kCoreBlocklist + i] = char((rest >> (8 * i)) & 0xff);
}

// Not grub-bios-setup: GRUB 2.06's grub-bios-setup works on an image file
// through a device map, but it insists on guessing the "root device" from
// the host mount that holds its --directory, has no option to name it
// (--root-device is gone), and fails ("guessing the root device failed")
// unless that directory lives on the target disk, i.e. unless the target is
// mounted. The two pointers above are all it would write for this layout
// (besides optional Reed-Solomon codes for a damaged core.img).
void write_bios_boot(const std::string& target, const ImageGrub& g, std::string core_img, uint64_t part_start,
                     uint64_t part_size) {
  with_context("writing the BIOS boot code", [&] {
    if (part_start % 512 != 0) fail("BIOS boot partition at {} is not sector-aligned", part_start);
    if (core_img.size() > part_size)
      fail("core.img ({} bytes) does not fit the BIOS boot partition ({} bytes)", core_img.size(), part_size);
    std::string boot_img = read_file(g.pc_dir + "/boot.img", 4096);
    uint64_t lba = part_start / 512;
    patch_boot_img(boot_img, lba);
    patch_core_img(core_img, lba);
    UniqueFd fd = open_file(target, O_WRONLY | O_CLOEXEC);
    pwrite_all(fd.get(), std::string_view(boot_img).substr(0, kMbrCodeSize), 0, "boot.img to " + target);
    pwrite_all(fd.get(), core_img, part_start, "core.img to " + target);
    fsync_fd(fd.get(), target);
    fd.close(target);
  });
}

}  // namespace hull::boot
