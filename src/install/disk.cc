#include "install/disk.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

#include "install/gpt.h"
#include "util/error.h"
#include "util/fd.h"

namespace hull::install {
namespace {

uint64_t align_down(uint64_t v, uint64_t a) { return v / a * a; }

std::string offset_arg(const std::string& target, uint64_t offset) {
  return fmt::format("{}@@{}", target, offset);  // mtools: IMAGE@@BYTE-OFFSET
}

// The GPT backup header and entries at the end of the disk: 33 sectors;
// plan_layout keeps the last MiB free.
constexpr uint64_t kTail = kMiB;
constexpr uint64_t kFirst = kMiB;  // p1 starts at 1 MiB, as every modern tool aligns
constexpr uint64_t kBiosSize = kMiB;

}  // namespace

std::string random_uuid() {
  unsigned char b[16];
  if (getrandom(b, sizeof b, 0) != sizeof b) fail_errno("getrandom");
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                     b[15]);
}

std::string random_vfat_id() {
  unsigned char b[4];
  if (getrandom(b, sizeof b, 0) != sizeof b) fail_errno("getrandom");
  return fmt::format("{:02X}{:02X}-{:02X}{:02X}", b[0], b[1], b[2], b[3]);
}

std::vector<const Partition*> Layout::var_mounts() const {
  std::vector<const Partition*> out;
  for (const auto& p : parts)
    if (p.mountpoint.starts_with("/var/")) out.push_back(&p);
  return out;
}

uint64_t disk_size_for_root(uint64_t root_size, const LayoutOptions& o) {
  uint64_t mounts = 0;
  for (const auto& m : o.var_mounts) mounts += m.size;
  return kFirst + kBiosSize + o.esp_size + o.boot_size + mounts + root_size + kTail;
}

Layout plan_layout(const LayoutOptions& o) {
  if (o.esp_size % kMiB || o.boot_size % kMiB) fail("partition sizes must be whole MiB");
  if (o.root_fs != "ext4" && o.root_fs != "btrfs") fail("root filesystem {} is not supported here", o.root_fs);
  std::vector<VarMount> mounts = o.var_mounts;
  std::sort(mounts.begin(), mounts.end(), [](const auto& a, const auto& b) { return a.mountpoint < b.mountpoint; });
  for (size_t i = 0; i < mounts.size(); i++) {
    const VarMount& m = mounts[i];
    if (!m.mountpoint.starts_with("/var/") || m.mountpoint.find("/..") != std::string::npos || m.mountpoint.ends_with("/"))
      fail("{} cannot have a partition of its own: only directories below /var can", m.mountpoint);
    if (m.size % kMiB || m.size == 0) fail("partition for {}: size must be whole MiB", m.mountpoint);
    if (i && mounts[i - 1].mountpoint == m.mountpoint) fail("{} is asked for twice", m.mountpoint);
  }
  Layout l;
  l.disk_size = o.disk_size;
  l.disk_guid = random_uuid();
  uint64_t at = kFirst;
  auto add = [&](std::string name, std::string_view type, uint64_t size, std::string fs, std::string label,
                 std::string mountpoint) -> Partition& {
    Partition p;
    p.name = std::move(name);
    p.type_guid = std::string(type);
    p.part_guid = random_uuid();
    p.start = at;
    p.size = size;
    p.fs = std::move(fs);
    p.label = std::move(label);
    p.mountpoint = std::move(mountpoint);
    if (p.fs == "vfat")
      p.fs_uuid = random_vfat_id();
    else if (!p.fs.empty())
      p.fs_uuid = random_uuid();
    at += size;
    l.parts.push_back(std::move(p));
    return l.parts.back();
  };
  add("BIOS-BOOT", kTypeBiosBoot, kBiosSize, "", "", "");
  add("EFI-SYSTEM", kTypeEsp, o.esp_size, "vfat", "EFI-SYSTEM", "");
  add("boot", kTypeLinuxData, o.boot_size, "ext4", "boot", "/boot");
  for (const auto& m : mounts) {
    // "/var/lib/containers" -> GPT name "var-lib-containers", label "containers"
    // (ext4 labels hold 16 bytes).
    std::string name = m.mountpoint.substr(1);
    std::replace(name.begin(), name.end(), '/', '-');
    std::string label = m.mountpoint.substr(m.mountpoint.rfind('/') + 1).substr(0, 16);
    add(name.substr(0, 36), kTypeLinuxData, m.size, o.root_fs, label, m.mountpoint);
  }
  uint64_t room = o.disk_size > at + kTail ? align_down(o.disk_size - kTail, kMiB) - at : 0;
  uint64_t root = o.root_size ? *o.root_size : room;
  if (o.root_size && root % kMiB) root = align_down(root, kMiB);
  if (o.root_size && root < kMinRootSize)
    fail("--root-size {} MiB is below the minimum of {} MiB", root / kMiB, kMinRootSize / kMiB);
  if (o.root_size && root > room)
    fail("--root-size {} MiB does not fit: the disk ({} MiB) has room for a root partition of {} MiB", root / kMiB,
         o.disk_size / kMiB, room / kMiB);
  if (root < kMinRootSize)
    fail("the disk ({} MiB) is too small: it has room for a root partition of {} MiB, at least {} MiB are needed",
         o.disk_size / kMiB, room / kMiB, kMinRootSize / kMiB);
  Partition& rp = add("root", kTypeRootX86_64, root, o.root_fs, "root", "/");
  if (!o.root_uuid.empty()) rp.fs_uuid = o.root_uuid;
  return l;
}

uint64_t parse_size(std::string_view s) {
  std::string_view in = s;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || v < 0 || p == s.data()) fail("bad size \"{}\": want e.g. 10G, 512M", in);
  s.remove_prefix(size_t(p - s.data()));
  std::string unit(s);
  std::transform(unit.begin(), unit.end(), unit.begin(), ::toupper);
  if (unit.ends_with("IB")) unit.resize(unit.size() - 2);
  else if (unit.size() == 2 && unit.back() == 'B') unit.resize(1);
  uint64_t mul;
  if (unit.empty()) mul = 1;
  else if (unit == "K") mul = 1ull << 10;
  else if (unit == "M") mul = 1ull << 20;
  else if (unit == "G") mul = 1ull << 30;
  else if (unit == "T") mul = 1ull << 40;
  else fail("bad size \"{}\": unknown unit \"{}\" (K, M, G, T)", in, std::string(s));
  double bytes = v * double(mul);
  if (bytes > 9.0e18) fail("bad size \"{}\": too large", in);
  return uint64_t(std::llround(bytes));
}

bool has_partition_table(std::string_view b) {
  bool mbr = b.size() >= 512 && uint8_t(b[510]) == 0x55 && uint8_t(b[511]) == 0xaa;
  bool gpt = b.size() >= 520 && b.substr(512, 8) == "EFI PART";
  return mbr || gpt;
}

TargetInfo inspect_target(const std::string& path) {
  TargetInfo t;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return t;
    fail_errno(path);
  }
  t.exists = true;
  if (S_ISBLK(st.st_mode)) {
    t.block_device = true;
  } else if (!S_ISREG(st.st_mode)) {
    fail("{} is neither a block device nor a regular file", path);
  }
  UniqueFd fd = open_file(path, O_RDONLY | O_CLOEXEC);
  if (t.block_device) {
    uint64_t size = 0;
    if (ioctl(fd.get(), BLKGETSIZE64, &size) != 0) fail_errno("BLKGETSIZE64 " + path);
    int ssz = 0;
    if (ioctl(fd.get(), BLKSSZGET, &ssz) != 0) fail_errno("BLKSSZGET " + path);
    if (ssz != 512) fail("{} has {}-byte logical sectors; only 512 is supported", path, ssz);
    t.size = size;
  } else {
    t.size = uint64_t(st.st_size);
  }
  std::string head(1024, '\0');
  ssize_t n = pread(fd.get(), head.data(), head.size(), 0);
  if (n < 0) fail_errno("reading " + path);
  head.resize(size_t(n));
  t.has_partition_table = has_partition_table(head);
  return t;
}

void check_not_mounted(const std::string& device) {
  struct stat st;
  if (stat(device.c_str(), &st) != 0) fail_errno(device);
  if (!S_ISBLK(st.st_mode)) return;
  // The whole disk and its partitions: /sys/dev/block/MAJ:MIN/*/partition.
  std::vector<std::string> devs = {fmt::format("{}:{}", major(st.st_rdev), minor(st.st_rdev))};
  std::string sys = fmt::format("/sys/dev/block/{}", devs[0]);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(sys, ec)) {
    std::ifstream dev(e.path() / "dev");
    std::string mm;
    if (std::filesystem::exists(e.path() / "partition") && dev >> mm) devs.push_back(mm);
  }
  std::ifstream mi("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mi, line)) {
    std::istringstream f(line);
    std::string id, parent, mm, root, mnt;
    f >> id >> parent >> mm >> root >> mnt;
    if (std::find(devs.begin(), devs.end(), mm) != devs.end())
      fail("{} is in use: device {} is mounted on {}", device, mm, mnt);
  }
}

namespace {

bool punch_hole_fd(int fd, const std::string& target, uint64_t offset, uint64_t size) {
  struct stat st;
  if (fstat(fd, &st) != 0) fail_errno(target);
  if (!S_ISREG(st.st_mode)) return false;
  return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(offset), off_t(size)) == 0;
}

}  // namespace

bool punch_hole(const std::string& target, uint64_t offset, uint64_t size) {
  UniqueFd fd = open_file(target, O_WRONLY | O_CLOEXEC);
  return punch_hole_fd(fd.get(), target, offset, size);
}

void write_gpt(const std::string& target, const Layout& l) {
  with_context("writing the partition table", [&] {
    GptImage g = gpt_image(l);
    UniqueFd fd = open_file(target, O_WRONLY | O_CLOEXEC);
    // What was before the first partition goes: old tables, boot code, and
    // signatures such as a hybrid ISO's at 32 KiB that blkid would still see.
    if (!punch_hole_fd(fd.get(), target, 0, kFirst)) pwrite_all(fd.get(), std::string(kFirst, '\0'), 0, target);
    pwrite_all(fd.get(), g.head, 0, target);
    pwrite_all(fd.get(), g.tail, l.disk_size - g.tail.size(), target);
    fsync_fd(fd.get(), target);
    fd.close(target);
  });
}

void copy_into(const std::string& from, const std::string& target, uint64_t offset) {
  UniqueFd in = open_file(from, O_RDONLY | O_CLOEXEC);
  UniqueFd out = open_file(target, O_WRONLY | O_CLOEXEC);
  struct stat st;
  if (fstat(in.get(), &st) != 0) fail_errno(from);
  off_t end = st.st_size, pos = 0;
  std::vector<char> buf(1 << 20);
  while (pos < end) {
    off_t data = lseek(in.get(), pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole is left
      fail_errno("seeking in " + from);
    }
    off_t hole = lseek(in.get(), data, SEEK_HOLE);
    if (hole < 0) fail_errno("seeking in " + from);
    for (off_t at = data; at < hole;) {
      ssize_t n = pread(in.get(), buf.data(), size_t(std::min<off_t>(hole - at, off_t(buf.size()))), at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail_errno("reading " + from);
      pwrite_all(out.get(), std::string_view(buf.data(), size_t(n)), offset + uint64_t(at), target);
      at += n;
    }
    pos = hole;
  }
  fsync_fd(out.get(), target);
  out.close(target);
}

void make_filesystem(Runner& r, const std::string& target, const Partition& p, const std::string& from,
                     const std::string& workdir) {
  with_context(fmt::format("making the {} filesystem of partition {}", p.fs, p.name), [&] {
    if (p.fs == "ext4") {
      // -E offset= writes at the partition's offset in the file or device;
      // the size argument (KiB) bounds it to the partition. -d copies the
      // tree: owners, modes, xattrs and hard links (ostree's repository
      // objects and the deployment's files share inodes) survive. In an
      // image file the partition is first made a hole, which reads as
      // zeros, so mke2fs need not write zeroed inode tables and journal
      // (assume_storage_prezeroed: 2.1 s instead of 3.9 s for the base
      // image's root, and 64 MiB less allocated).
      std::string ext = fmt::format("offset={}", p.start);
      if (punch_hole(target, p.start, p.size)) ext += ",assume_storage_prezeroed=1";
      r.run({{"mkfs.ext4", "-q", "-F", "-L", p.label, "-U", p.fs_uuid, "-E", ext, "-d", from, target,
              fmt::format("{}k", p.size / 1024)},
             {}});
    } else if (p.fs == "btrfs") {
      // mkfs.btrfs has no offset option: make the filesystem in a sparse
      // file of the partition's size, then copy its data extents in.
      std::string img = workdir + "/" + p.name + ".btrfs";
      {
        UniqueFd f = open_file(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (ftruncate(f.get(), off_t(p.size)) != 0) fail_errno("sizing " + img);
        f.close(img);
      }
      r.run({{"mkfs.btrfs", "-q", "-f", "-L", p.label, "-U", p.fs_uuid, "--rootdir", from, img}, {}});
      copy_into(img, target, p.start);
      if (unlink(img.c_str()) != 0) fail_errno("removing " + img);
    } else {
      fail("cannot make a {} filesystem", p.fs);
    }
  });
}

void make_esp(Runner& r, const std::string& target, const Partition& p,
              const std::vector<std::pair<std::string, std::string>>& files) {
  with_context("making the EFI system partition", [&] {
    std::string img = offset_arg(target, p.start);
    std::string serial = p.fs_uuid;
    serial.erase(std::remove(serial.begin(), serial.end(), '-'), serial.end());
    r.run({{"mformat", "-i", img, "-F", "-T", std::to_string(p.size / kSector), "-h", "64", "-s", "32", "-N", serial,
            "-v", p.label, "::"},
           {}});
    std::vector<std::string> dirs;
    for (const auto& [src, dst] : files) {
      for (size_t slash = dst.find('/'); slash != std::string::npos; slash = dst.find('/', slash + 1)) {
        std::string d = dst.substr(0, slash);
        if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
      }
    }
    if (!dirs.empty()) {
      std::vector<std::string> a = {"mmd", "-i", img};
      for (const auto& d : dirs) a.push_back("::/" + d);
      r.run({a, {}});
    }
    for (const auto& [src, dst] : files) r.run({{"mcopy", "-i", img, src, "::/" + dst}, {}});
  });
}

std::string root_fs_from_install_configs(std::vector<std::pair<std::string, std::string>> files) {
  std::sort(files.begin(), files.end());
  std::string type;
  for (const auto& [name, text] : files) {
    toml::table t;
    try {
      t = toml::parse(text, name);
    } catch (const toml::parse_error& e) {
      fail("{}: line {}: {}", name, e.source().begin.line, e.description());
    }
    if (auto v = t["install"]["filesystem"]["root"]["type"].value<std::string>()) type = *v;
  }
  return type;
}

}  // namespace hull::install
