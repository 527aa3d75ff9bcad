// The installer ISO, as built here:
//
//   /                       the image's deployment tree (staged with
//                           libostree in a directory), Rock Ridge
//   /var                    the stateroot's /var, seeded from the image
//   /boot/grub/grub.cfg     one menu entry: the image's kernel and dracut
//                           initramfs with root=LABEL=HULL-INSTALL
//                           rootfstype=iso9660 rootovl hull.installer
//   /boot/grub/eltorito.img GRUB i386-pc-eltorito (BIOS El Torito entry)
//   /boot/efiboot.img       FAT image with EFI/BOOT/BOOTX64.EFI (the EFI
//                           El Torito entry; also an appended GPT partition,
//                           so the ISO boots from a USB stick on UEFI)
//   /usr/lib/hull-installer hull (this binary), the config as JSON, the
//                           image as an OCI layout, install.sh, and the
//                           systemd unit that runs it
//
// Why this root: the image's dracut initramfs (Debian's dracut, built with
// --no-hostonly) has isofs, sr_mod and the ATA/AHCI/virtio drivers, and
// dracut's `rootovl` pre-pivot hook, which puts a tmpfs overlay over a
// read-only root. So the kernel mounts the ISO itself as root and the
// installer runs in a writable copy-on-write view of the image, without
// dmsquash-live (not in Debian's dracut-core) and without a second
// initramfs. ostree-prepare-root skips itself (no ostree= argument).
// The cost: the ISO holds the tree uncompressed (~the image's size) next to
// the compressed OCI layout, and the installer stages the sysroot in RAM
// (the overlay's tmpfs): give the machine 3 GiB or more.
#include "install/iso.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <nlohmann/json.hpp>

#include "boot/grub.h"
#include "image/copy.h"
#include "image/dest.h"
#include "image/source.h"
#include "util/error.h"
#include "util/file.h"


namespace hull::install {
namespace {

namespace fs = std::filesystem;

// What install to-disk runs besides the image's GRUB (install/disk.cc).
constexpr const char* kInstallerTools[] = {"mformat", "mmd", "mcopy", "mkfs.ext4", "mkfs.btrfs"};

// Modules embedded in both GRUB images: read the ISO, show a menu on the
// serial line and the screen, boot Linux.
constexpr const char* kIsoModules[] = {"iso9660", "part_gpt", "part_msdos", "search", "search_label", "search_fs_file",
                                       "normal",  "configfile", "echo",     "test",   "true",         "sleep",
                                       "serial",  "terminal",  "ls",        "cat",    "reboot",       "halt",
                                       "minicmd", "linux",     "gzio",      "all_video"};

// Unfreezes the staged sysroot's deployments when it goes out of scope, so
// that the temporary directory holding it can be removed.
struct UnfreezeOnExit {
  std::string sysroot;
  ~UnfreezeOnExit() { sysroot::unfreeze_deployments(sysroot); }
};

std::string kernel_version(const std::string& deploy) {
  std::string found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(deploy + "/usr/lib/modules", ec))
    if (path_exists(e.path().string() + "/vmlinuz") && path_exists(e.path().string() + "/initramfs.img")) {
      if (!found.empty()) fail("the image has more than one kernel in /usr/lib/modules");
      found = e.path().filename().string();
    }
  if (found.empty()) fail("the image has no /usr/lib/modules/VERSION/vmlinuz with initramfs.img");
  return found;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n < 0) fail_errno("finding this program (/proc/self/exe)");
  return std::string(buf, size_t(n));
}

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::vector<std::string> missing_libraries(const std::string& ldd_output, const std::string& image_root) {
  std::vector<std::string> out;
  std::istringstream in(ldd_output);
  std::string line;
  while (std::getline(in, line)) {
    // "\tlibfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)"
    auto arrow = line.find(" => ");
    if (arrow == std::string::npos) continue;
    std::string name = line.substr(0, arrow);
    name.erase(0, name.find_first_not_of(" \t"));
    std::string path = line.substr(arrow + 4);
    path = path.substr(0, path.find(" ("));
    if (path.empty() || path[0] != '/') fail("ldd: {} not found", name);
    bool present = false;
    for (const char* dir : {"/usr/lib/x86_64-linux-gnu/", "/lib/x86_64-linux-gnu/", "/usr/lib64/", "/usr/lib/"})
      present = present || path_exists(image_root + dir + name);
    if (!present) out.push_back(path);
  }
  return out;
}

std::string iso_grub_cfg(const std::string& kver, const std::string& title) {
  return fmt::format(
      "serial --unit=0 --speed=115200\n"
      "terminal_input serial console\n"
      "terminal_output serial console\n"
      "set timeout=5\n"
      "set default=0\n"
      "menuentry \"{}\" {{\n"
      "  linux /usr/lib/modules/{}/vmlinuz root=LABEL={} rootfstype=iso9660 ro rootovl hull.installer "
      "console=tty0 console=ttyS0,115200\n"
      "  initrd /usr/lib/modules/{}/initramfs.img\n"
      "}}\n",
      title, kver, kIsoLabel, kver);
}

std::string installer_script(const std::string& rootfs, const std::string& target) {
  std::string args = "--rootfs " + sh_quote(rootfs.empty() ? "ext4" : rootfs);
  if (!target.empty()) args += " --target-imgref " + sh_quote(target);
  return fmt::format(
      "#!/bin/sh\n"
      "# hull's installer: installs the image of this ISO to the first disk, then reboots.\n"
      "D=/usr/lib/hull-installer\n"
      "export LD_LIBRARY_PATH=$D/lib PATH=$D/bin:$PATH\n"
      "echo 'HULL-INSTALLER: installing to the first disk' > /dev/console\n"
      "if $D/hull build-disk --install-to-device auto --config $D/config.json {} oci:$D/image:image "
      "> /dev/console 2>&1; then\n"
      "  sync\n"
      "  echo 'HULL-INSTALLER: done, rebooting' > /dev/console\n"
      "  eject /dev/sr0 2>/dev/null || true\n"
      "  systemctl reboot\n"
      "else\n"
      "  echo 'HULL-INSTALLER: FAILED (log in on the console to look)' > /dev/console\n"
      "  exit 1\n"
      "fi\n",
      args);
}

std::string installer_unit() {
  return "[Unit]\n"
         "Description=hull installer: install the image to the first disk\n"
         "ConditionKernelCommandLine=hull.installer\n"
         "After=local-fs.target systemd-udev-trigger.service\n"
         "\n"
         "[Service]\n"
         "Type=oneshot\n"
         "ExecStart=/usr/lib/hull-installer/install.sh\n"
         "StandardOutput=journal+console\n"
         "\n"
         "[Install]\n"
         "WantedBy=multi-user.target\n";
}

void build_iso(sysroot::Context& ctx, const IsoOptions& o, Runner& r) {
  std::string w = o.workdir + "/iso";
  std::string sysroot = w + "/sysroot", files = w + "/files", inst = files + "/hull-installer";
  make_dirs(sysroot);
  make_dirs(inst);
  UnfreezeOnExit unfreeze{sysroot};

  // 1. The installer's root: the image, deployed into a directory.
  std::string deploy = with_context("staging the installer's root", [&] {
    sysroot::InstallOptions io;
    io.root = sysroot;
    io.source = o.source;
    io.target = o.target;
    io.bootloader = "none";
    return sysroot::install_to_filesystem(ctx, io).deployment_dir;
  });
  std::string var = sysroot + "/ostree/deploy/default/var";
  std::string kver = kernel_version(deploy);

  // 2. What the installer carries: the image (OCI layout), hull, the config.
  with_context("copying the image into the installer", [&] {
    auto src = image::open_source(o.source, ctx.registry);
    auto dst = image::open_dest(image::ImageName::parse("oci:" + inst + "/image:image"), ctx.registry);
    image::CopyOptions co;
    co.platform = ctx.platform;
    image::copy_image(*src, *dst, co, *ctx.progress);
  });
  std::string hull = o.hull_binary.empty() ? self_exe() : o.hull_binary;
  fs::copy_file(hull, inst + "/hull", fs::copy_options::overwrite_existing);
  chmod((inst + "/hull").c_str(), 0755);
  // This hull may need libraries the image lacks (an image built with an
  // older hull), and install to-disk needs tools the image may lack
  // (mtools): those come along from this machine, in hull-installer/bin and
  // lib (found with ldd), which the installer puts first in its paths.
  with_context("carrying hull's tools and libraries", [&] {
    auto carry_libs = [&](const std::string& exe) {
      for (const auto& lib : missing_libraries(r.run({{"ldd", exe}, ""}), deploy)) {
        make_dirs(inst + "/lib");
        fs::copy_file(lib, inst + "/lib/" + fs::path(lib).filename().string(), fs::copy_options::overwrite_existing);
      }
    };
    carry_libs(hull);
    for (const char* tool : kInstallerTools) {
      bool in_image = false;
      for (const char* dir : {"/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"}) in_image |= path_exists(deploy + dir + tool);
      if (in_image) continue;
      std::string host;
      for (const char* dir : {"/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"})
        if (host.empty() && access((std::string(dir) + tool).c_str(), X_OK) == 0) host = fs::canonical(std::string(dir) + tool);
      if (host.empty() && std::string_view(tool) == "mkfs.btrfs" && o.rootfs != "btrfs") continue;
      if (host.empty()) fail("{} is neither in the image nor on this machine", tool);
      make_dirs(inst + "/bin");
      // Copied under its own name: mtools picks the command from argv[0].
      fs::copy_file(host, inst + "/bin/" + tool, fs::copy_options::overwrite_existing);
      carry_libs(host);
    }
  });
  write_file_atomic(inst + "/config.json", to_bib_json(o.config), 0600);
  write_file_atomic(inst + "/install.sh",
                    installer_script(o.rootfs, o.target ? o.target->str() : o.source.str()), 0755);
  write_file_atomic(files + "/hull-installer.service", installer_unit());

  // 3. GRUB, from the image: BIOS El Torito image, EFI image in a FAT file.
  boot::ImageGrub g = boot::find_image_grub(deploy);
  std::string early = w + "/early.cfg";
  write_file_atomic(early, fmt::format("search --no-floppy --label --set=root {}\n"
                                       "set prefix=($root)/boot/grub\n"
                                       "configfile ($root)/boot/grub/grub.cfg\n",
                                       kIsoLabel));
  auto mkimage = [&](const std::string& format, const std::string& dir, const std::string& out,
                     std::vector<std::string> extra) {
    std::vector<std::string> argv = {g.loader, "--inhibit-cache", "--library-path", g.libpath, g.mkimage,
                                     "--directory", dir, "--format", format, "--output", out,
                                     "--config", early, "--prefix", "/boot/grub"};
    for (const char* m : kIsoModules) argv.push_back(m);
    argv.insert(argv.end(), extra.begin(), extra.end());
    r.run({argv, "grub-mkimage (" + format + ")"});
  };
  std::string eltorito = w + "/eltorito.img", efi = w + "/BOOTX64.EFI", efiboot = w + "/efiboot.img";
  mkimage("i386-pc-eltorito", g.pc_dir, eltorito, {"biosdisk"});
  mkimage("x86_64-efi", g.efi_dir, efi, {"efi_gop", "efi_uga"});
  uint64_t efi_kib = (fs::file_size(efi) / 1024) + 1024;  // plus room for FAT itself
  r.run({{"mkfs.vfat", "-C", "-n", "HULL-EFI", efiboot, std::to_string(efi_kib)}, ""});
  r.run({{"mmd", "-i", efiboot, "::/EFI", "::/EFI/BOOT"}, ""});
  r.run({{"mcopy", "-i", efiboot, efi, "::/EFI/BOOT/BOOTX64.EFI"}, ""});
  std::string title = fmt::format("Install {} (erases the first disk)", o.target ? o.target->str() : o.source.str());
  write_file_atomic(files + "/grub.cfg", iso_grub_cfg(kver, title));

  // 4. The ISO: the tree, then what the installer adds over it.
  std::vector<std::string> argv = {
      "xorriso", "-as", "mkisofs", "-o", o.output, "-V", kIsoLabel, "-R", "-iso-level", "3",
      // BIOS: GRUB's El Torito image, and its hybrid MBR for USB sticks.
      "-b", "boot/grub/eltorito.img", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
      "--grub2-boot-info", "--grub2-mbr", g.pc_dir + "/boot_hybrid.img",
      // UEFI: the FAT image, as El Torito entry and as a GPT partition.
      "-eltorito-alt-boot", "-e", "--interval:appended_partition_2:all::", "-no-emul-boot",
      "-append_partition", "2", "0xef", efiboot, "-appended_part_as_gpt",
      "-graft-points",
      "/=" + deploy,
      "/var=" + var,
      "/boot/grub/eltorito.img=" + eltorito,
      "/boot/grub/grub.cfg=" + files + "/grub.cfg",
      "/usr/lib/hull-installer=" + inst,
      "/etc/systemd/system/hull-installer.service=" + files + "/hull-installer.service",
  };
  // Enabled for multi-user.target: the link, made as a file here.
  std::string wants = files + "/wants";
  make_dirs(wants);
  fs::create_symlink("../hull-installer.service", wants + "/hull-installer.service");
  argv.push_back("/etc/systemd/system/multi-user.target.wants/hull-installer.service=" + wants +
                 "/hull-installer.service");
  with_context("writing the iso (xorriso)", [&] { r.run({argv, "xorriso"}); });
}

}  // namespace hull::install
