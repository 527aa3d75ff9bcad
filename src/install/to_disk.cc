#include "install/to_disk.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "boot/grub.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/phases.h"

namespace hull::install {
namespace {

namespace fs = std::filesystem;

// Removes an image file this run created, unless disarmed.
class CreatedFile {
 public:
  void set(std::string p) { path_ = std::move(p); }
  void keep() { path_.clear(); }
  ~CreatedFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }

 private:
  std::string path_;
};

void check_root_fs(const std::string& fs) {
  if (fs == "ext4" || fs == "btrfs") return;
  if (fs == "xfs")
    fail(
        "xfs root filesystems are not supported yet: mkfs.xfs of Debian 12 (xfsprogs 6.1) can populate a "
        "filesystem only from a protofile, which cannot express hard links (libostree's deployments share "
        "inodes with the repository), so it would need a mount; use --filesystem ext4 or btrfs");
  fail("unknown root filesystem type {} (ext4, xfs or btrfs)", fs);
}

}  // namespace

class StagingDir {
 public:
  explicit StagingDir(const std::string& parent) : dir_("hull-to-disk", parent) {}
  ~StagingDir() { sysroot::unfreeze_deployments(sysroot()); }
  std::string sysroot() const { return dir_.path() + "/sysroot"; }
  std::string work() const { return dir_.path() + "/work"; }
  std::string boot_moved() const { return dir_.path() + "/boot"; }

 private:
  TempDir dir_;
};

ToDiskResult::ToDiskResult() = default;
ToDiskResult::ToDiskResult(ToDiskResult&&) noexcept = default;
ToDiskResult& ToDiskResult::operator=(ToDiskResult&&) noexcept = default;
ToDiskResult::~ToDiskResult() = default;

void remove_staging(ToDiskResult& r) { r.staging.reset(); }

std::vector<std::pair<std::string, std::string>> install_configs(const std::string& deploy) {
  std::vector<std::pair<std::string, std::string>> files;
  std::string dir = resolve_in_root(deploy, "usr/lib/bootc/install");
  if (dir.empty()) return files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".toml") continue;
    std::string rel = "usr/lib/bootc/install/" + e.path().filename().string();
    if (auto text = read_file_in_root(deploy, rel)) files.emplace_back("/" + rel, std::move(*text));
  }
  return files;
}

void check_can_stage() {
  constexpr uint64_t kIds = 65536;
  if (geteuid() != 0)
    fail(
        "staging the image needs root: its files are written with their owners; as an ordinary user run it in a "
        "user namespace, `buildah unshare hull ...` (with a range in /etc/subuid and /etc/subgid)");
  // uid_map lines: "INSIDE OUTSIDE COUNT"; the initial namespace maps all ids.
  std::istringstream map(read_file("/proc/self/uid_map"));
  uint64_t inside, outside, count, total = 0;
  while (map >> inside >> outside >> count) total += count;
  if (total < kIds)
    fail(
        "this user namespace maps {} user ids; staging the image needs {} (the image's files have owners up to "
        "65534): use `buildah unshare hull ...` with a range of at least {} ids in /etc/subuid and /etc/subgid",
        total, kIds, kIds);
}

std::vector<std::string> disk_kargs(const std::string& root_uuid) {
  return {"root=UUID=" + root_uuid, "rw", "console=tty0", "console=ttyS0,115200"};
}

std::string fstab(const Layout& l) {
  std::string out =
      "# Written by hull install to-disk. / is mounted by the initramfs (root=UUID= and\n"
      "# ostree= on the kernel command line).\n";
  for (const auto& p : l.parts)
    if (!p.mountpoint.empty() && p.mountpoint != "/")
      out += fmt::format("UUID={} {} {} defaults 0 2\n", p.fs_uuid, p.mountpoint, p.fs);
  return out;
}

ToDiskResult install_to_disk(sysroot::Context& ctx, const ToDiskOptions& o, Runner& r) {
  return with_context(fmt::format("installing to {}", o.device), [&] {
    ToDiskResult res;
    Phases ph(ctx.progress, ctx.quiet, res.phases);
    TargetInfo target;
    CreatedFile created;

    ph.run("checking the target", [&] {
      check_can_stage();
      if (!o.filesystem.empty()) check_root_fs(o.filesystem);
      target = inspect_target(o.device);
      if (o.via_loopback) {
        if (target.block_device) fail("{} is a block device; --via-loopback wants an image file", o.device);
      } else {
        if (!target.exists) fail("no such device (for an image file, pass --via-loopback)");
        if (!target.block_device) fail("not a block device (for an image file, pass --via-loopback)");
        check_not_mounted(o.device);
      }
      if (target.has_partition_table && !o.wipe)
        fail("the disk has a partition table; pass --wipe to overwrite it and everything on it");
      // The layout as far as it is known before the image: a --root-size or
      // a disk that cannot fit fails before anything is pulled.
      LayoutOptions known;
      known.root_size = o.root_size;
      known.disk_size = target.exists ? target.size : o.root_size ? disk_size_for_root(*o.root_size) : kDefaultDiskSize;
      plan_layout(known);
    });

    // The root filesystem's UUID goes on the kernel command line when the
    // sysroot is staged; the layout is planned after that.
    LayoutOptions lo;
    lo.root_uuid = random_uuid();
    lo.root_size = o.root_size;
    auto staging = std::make_unique<StagingDir>(o.workdir);
    const StagingDir& stage = *staging;
    make_dirs(stage.work());
    std::string deploy;
    ph.run("staging the sysroot", [&] {
      make_dirs(stage.sysroot() + "/boot");
      boot::prepare_syslinux_layout(stage.sysroot() + "/boot");
      sysroot::InstallOptions io = o.install;
      io.root = stage.sysroot();
      io.bootloader = "syslinux";
      io.sync = false;  // the staged tree is copied by mkfs, which syncs the target
      std::vector<std::string> kargs = disk_kargs(lo.root_uuid);
      kargs.insert(kargs.end(), o.install.kargs.begin(), o.install.kargs.end());
      io.kargs = std::move(kargs);
      sysroot::Installed done = sysroot::install_to_filesystem(ctx, io);
      res.commit = done.commit;
      deploy = done.deployment_dir;
    });
    std::string var = stage.sysroot() + "/ostree/deploy/" + o.install.stateroot + "/var";

    ph.run("choosing the root filesystem", [&] {
      std::string type = o.filesystem;
      if (type.empty()) type = root_fs_from_install_configs(install_configs(deploy));
      if (type.empty())
        fail(
            "no root filesystem type: pass --filesystem, or set [install.filesystem.root] type in the image's "
            "/usr/lib/bootc/install/*.toml");
      check_root_fs(type);
      lo.root_fs = type;
    });

    DiskRequest req;
    if (o.customize) ph.run("customizing the deployment", [&] { req = o.customize({deploy, var, lo.root_fs}); });

    ph.run("planning the partitions", [&] {
      if (req.boot_size) lo.boot_size = *req.boot_size;
      lo.var_mounts = req.var_mounts;
      if (target.exists)
        lo.disk_size = target.size;
      else if (req.disk_size)
        lo.disk_size = *req.disk_size;
      else
        lo.disk_size = o.root_size ? disk_size_for_root(*o.root_size, lo) : kDefaultDiskSize;
      res.layout = plan_layout(lo);
      if (res.layout.root().size < req.min_root_size)
        fail("the disk ({} MiB) has room for a root partition of {} MiB; at least {} MiB are asked for",
             res.layout.disk_size / kMiB, res.layout.root().size / kMiB, (req.min_root_size + kMiB - 1) / kMiB);
      // fstab is host configuration: a local /etc file, kept by /etc merges.
      write_file_atomic(deploy + "/etc/fstab", fstab(res.layout));
    });
    const Layout& l = res.layout;

    boot::ImageGrub grub;
    std::string core_img = stage.work() + "/core.img", efi_img = stage.work() + "/BOOTX64.EFI";
    ph.run("making the GRUB images", [&] {
      grub = boot::find_image_grub(deploy);
      boot::write_boot_files(stage.sysroot() + "/boot", grub);
      std::string early = stage.work() + "/early.cfg";
      write_file_atomic(early, boot::early_cfg(l.boot().fs_uuid));
      r.run({boot::mkimage_argv(grub, boot::Platform::kBiosPc, early, core_img), "grub-mkimage (i386-pc)"});
      r.run({boot::mkimage_argv(grub, boot::Platform::kEfiX64, early, efi_img), "grub-mkimage (x86_64-efi)"});
    });

    ph.run("partitioning", [&] {
      if (o.via_loopback && !target.exists) {
        UniqueFd f = open_file(o.device, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        created.set(o.device);
        if (ftruncate(f.get(), off_t(l.disk_size)) != 0) fail_errno("sizing " + o.device);
        f.close(o.device);
      }
      write_gpt(o.device, l);
    });

    ph.run("making /boot", [&] { make_filesystem(r, o.device, l.boot(), stage.sysroot() + "/boot", stage.work()); });

    // Each /var mount's content goes to its partition, deepest first, and
    // leaves an empty directory (same owner and mode) as the mountpoint.
    auto mounts = l.var_mounts();
    std::sort(mounts.begin(), mounts.end(), [](auto* a, auto* b) { return a->mountpoint > b->mountpoint; });
    for (const Partition* p : mounts)
      ph.run(fmt::format("making {}", p->mountpoint), [&] {
        std::string dir = var + p->mountpoint.substr(4), aside = stage.work() + "/" + p->name;
        make_dirs(dir);
        struct stat st;
        if (lstat(dir.c_str(), &st) != 0) fail_errno(dir);
        if (!S_ISDIR(st.st_mode)) fail("{} in the image is not a directory", p->mountpoint);
        if (rename(dir.c_str(), aside.c_str()) != 0) fail_errno("moving " + dir + " aside");
        if (mkdir(dir.c_str(), st.st_mode & 07777) != 0 || lchown(dir.c_str(), st.st_uid, st.st_gid) != 0 ||
            chmod(dir.c_str(), st.st_mode & 07777) != 0)
          fail_errno("making the mountpoint " + dir);
        make_filesystem(r, o.device, *p, aside, stage.work());
      });

    ph.run("making the root filesystem", [&] {
      // /boot is the mount point of the boot partition: empty on root.
      if (rename((stage.sysroot() + "/boot").c_str(), stage.boot_moved().c_str()) != 0)
        fail_errno("moving the staged /boot aside");
      make_dirs(stage.sysroot() + "/boot");
      make_filesystem(r, o.device, l.root(), stage.sysroot(), stage.work());
    });

    ph.run("making the EFI system partition", [&] { make_esp(r, o.device, l.esp(), {{efi_img, "EFI/BOOT/BOOTX64.EFI"}}); });

    ph.run("writing the BIOS boot code", [&] {
      boot::write_bios_boot(o.device, grub, read_file(core_img, 2u << 20), l.bios().start, l.bios().size);
    });

    if (target.block_device) {
      // Let the kernel see the new partitions (best effort: udev may hold them).
      UniqueFd fd = open_file(o.device, O_RDONLY | O_CLOEXEC);
      ioctl(fd.get(), BLKRRPART);
    }
    created.keep();
    if (o.keep_staging) res.staging = std::move(staging);
    return res;
  });
}

}  // namespace hull::install
