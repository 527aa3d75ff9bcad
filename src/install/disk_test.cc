// The disk layout and its assembly with the real tools (sgdisk, mkfs.ext4,
// mkfs.btrfs, mtools, and GRUB when the host has it), checked with their own
// readers: sgdisk -p, dumpe2fs/debugfs and btrfs dump-super on partitions
// cut out with dd, mdir/minfo on the ESP, and the MBR bytes.
#include "install/disk.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "boot/grub.h"
#include "install/to_disk.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/progress.h"

namespace hull::install {
namespace {

std::string run(std::vector<std::string> argv) { return system_runner().run({std::move(argv), {}}); }

// The first `n` bytes of a (large, sparse) file.
std::string head(const std::string& path, size_t n) {
  UniqueFd fd = open_file(path, O_RDONLY);
  std::string b(n, '\0');
  EXPECT_EQ(pread(fd.get(), b.data(), n, 0), ssize_t(n));
  return b;
}

TEST(ParseSize, Table) {
  struct {
    const char* in;
    uint64_t want;
  } ok[] = {{"4096", 4096},       {"10G", 10 * kGiB}, {"512M", 512 * kMiB}, {"1.5G", 3 * kGiB / 2},
            {"20GiB", 20 * kGiB}, {"2g", 2 * kGiB},   {"1T", 1024 * kGiB},  {"64KB", 64 << 10}};
  for (auto& c : ok) EXPECT_EQ(parse_size(c.in), c.want) << c.in;
  for (const char* bad : {"", "G", "10X", "-1G", "1.2.3G", "10 G"}) EXPECT_THROW(parse_size(bad), Error) << bad;
}

TEST(PlanLayout, BibDefaultOnTenGiB) {
  LayoutOptions o;
  o.disk_size = 10 * kGiB;
  Layout l = plan_layout(o);
  ASSERT_EQ(l.parts.size(), 4u);
  struct {
    const char* name;
    std::string_view type;
    uint64_t start, size;
    const char* fs;
  } want[] = {{"BIOS-BOOT", kTypeBiosBoot, 1 * kMiB, 1 * kMiB, ""},
              {"EFI-SYSTEM", kTypeEsp, 2 * kMiB, 501 * kMiB, "vfat"},
              {"boot", kTypeLinuxData, 503 * kMiB, 1 * kGiB, "ext4"},
              {"root", kTypeRootX86_64, 1527 * kMiB, 10 * kGiB - 1 * kMiB - 1527 * kMiB, "ext4"}};
  for (size_t i = 0; i < 4; i++) {
    EXPECT_EQ(l.parts[i].name, want[i].name);
    EXPECT_EQ(l.parts[i].type_guid, want[i].type);
    EXPECT_EQ(l.parts[i].start, want[i].start) << i;
    EXPECT_EQ(l.parts[i].size, want[i].size) << i;
    EXPECT_EQ(l.parts[i].fs, want[i].fs);
  }
  EXPECT_EQ(l.bios().end_sector(), 4095u);
  EXPECT_TRUE(std::regex_match(l.boot().fs_uuid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  EXPECT_TRUE(std::regex_match(l.esp().fs_uuid, std::regex("[0-9A-F]{4}-[0-9A-F]{4}")));
  EXPECT_NE(l.boot().fs_uuid, l.root().fs_uuid);
  EXPECT_NE(plan_layout(o).root().fs_uuid, l.root().fs_uuid);  // fresh per install
}

TEST(PlanLayout, VarMountsBetweenBootAndRootParentsFirst) {
  LayoutOptions o;
  o.disk_size = 12 * kGiB;
  o.root_uuid = "11111111-2222-4333-8444-555555555555";
  o.var_mounts = {{"/var/lib/containers", 2 * kGiB}, {"/var/lib", 1 * kGiB}, {"/var/log", 512 * kMiB}};
  Layout l = plan_layout(o);
  ASSERT_EQ(l.parts.size(), 7u);
  EXPECT_EQ(l.parts[3].mountpoint, "/var/lib");
  EXPECT_EQ(l.parts[4].mountpoint, "/var/lib/containers");
  EXPECT_EQ(l.parts[5].mountpoint, "/var/log");
  EXPECT_EQ(l.parts[4].name, "var-lib-containers");
  EXPECT_EQ(l.parts[4].label, "containers");
  EXPECT_EQ(l.parts[4].type_guid, kTypeLinuxData);
  EXPECT_EQ(l.parts[4].fs, "ext4");
  EXPECT_EQ(l.parts[4].size, 2 * kGiB);
  EXPECT_EQ(l.parts[4].start, l.parts[3].start + 1 * kGiB);
  EXPECT_EQ(l.root().name, "root");
  EXPECT_EQ(l.root().mountpoint, "/");
  EXPECT_EQ(l.root().fs_uuid, o.root_uuid);
  EXPECT_EQ(l.root().start, l.parts[5].start + 512 * kMiB);
  EXPECT_EQ(l.root().start + l.root().size, 12 * kGiB - kMiB);
  ASSERT_EQ(l.var_mounts().size(), 3u);
  EXPECT_EQ(disk_size_for_root(l.root().size, o), 12 * kGiB);
  // fstab: /boot and each mount by UUID, parents before children.
  std::string f = fstab(l);
  auto lib = f.find("UUID=" + l.parts[3].fs_uuid + " /var/lib ext4 defaults 0 2\n");
  auto containers = f.find("UUID=" + l.parts[4].fs_uuid + " /var/lib/containers ext4 defaults 0 2\n");
  EXPECT_NE(lib, std::string::npos) << f;
  EXPECT_NE(containers, std::string::npos) << f;
  EXPECT_LT(lib, containers);
  EXPECT_EQ(f.find(" / ext4"), std::string::npos) << f;  // the initramfs mounts root

  for (std::vector<VarMount> bad : std::vector<std::vector<VarMount>>{{{"/var", kGiB}},
                                                                      {{"/opt/x", kGiB}},
                                                                      {{"/var/x", kGiB + 1}},
                                                                      {{"/var/x", kGiB}, {"/var/x", kGiB}}}) {
    o.var_mounts = bad;
    EXPECT_THROW(plan_layout(o), Error) << bad[0].mountpoint;
  }
  o.var_mounts = {{"/var/big", 11 * kGiB}};
  EXPECT_THROW(plan_layout(o), Error);  // no room left for root
}

TEST(PlanLayout, RootSizeAndLimits) {
  LayoutOptions o;
  o.disk_size = disk_size_for_root(3 * kGiB);
  o.root_size = 3 * kGiB;
  EXPECT_EQ(plan_layout(o).root().size, 3 * kGiB);
  o.root_size = 3 * kGiB + kMiB;
  EXPECT_THROW(plan_layout(o), Error);  // does not fit
  o.root_size = 100 * kMiB;
  EXPECT_THROW(plan_layout(o), Error);  // below the minimum
  o.root_size.reset();
  o.disk_size = 2 * kGiB;
  EXPECT_THROW(plan_layout(o), Error);  // disk too small
  o.disk_size = 10 * kGiB;
  o.root_fs = "xfs";
  EXPECT_THROW(plan_layout(o), Error);
}

TEST(PartitionTable, Detection) {
  std::string blank(1024, '\0');
  EXPECT_FALSE(has_partition_table(blank));
  std::string mbr = blank;
  mbr[510] = '\x55';
  mbr[511] = '\xaa';
  EXPECT_TRUE(has_partition_table(mbr));
  std::string gpt = blank;
  gpt.replace(512, 8, "EFI PART");
  EXPECT_TRUE(has_partition_table(gpt));
}

TEST(InstallConfigs, RootFilesystemType) {
  EXPECT_EQ(root_fs_from_install_configs({}), "");
  EXPECT_EQ(root_fs_from_install_configs({{"00-base.toml", "[install.filesystem.root]\ntype = \"ext4\"\n"}}), "ext4");
  // Later names win, whatever the order given.
  EXPECT_EQ(root_fs_from_install_configs({{"50-x.toml", "[install.filesystem.root]\ntype = \"btrfs\"\n"},
                                          {"00-base.toml", "[install.filesystem.root]\ntype = \"ext4\"\n"},
                                          {"10-other.toml", "[install]\nkargs = [\"quiet\"]\n"}}),
            "btrfs");
  try {
    root_fs_from_install_configs({{"/usr/lib/bootc/install/00-bad.toml", "[install\n"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/usr/lib/bootc/install/00-bad.toml: line 1"), std::string::npos) << e.what();
  }
}

TEST(Kargs, RootConsoleAndFstab) {
  EXPECT_EQ(disk_kargs("u-1"),
            (std::vector<std::string>{"root=UUID=u-1", "rw", "console=tty0", "console=ttyS0,115200"}));
  LayoutOptions o;
  o.disk_size = 10 * kGiB;
  Layout l = plan_layout(o);
  EXPECT_NE(fstab(l).find("UUID=" + l.boot().fs_uuid + " /boot ext4 defaults 0 2\n"), std::string::npos);
}

// --- assembling a real disk image ---------------------------------------

class DiskImage : public ::testing::Test {
 protected:
  void SetUp() override {
    img = dir.path() + "/disk.img";
    LayoutOptions o;
    o.root_size = 1 * kGiB;
    o.disk_size = disk_size_for_root(*o.root_size);
    o.root_fs = root_fs();
    l = plan_layout(o);
    UniqueFd f = open_file(img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_EQ(ftruncate(f.get(), off_t(l.disk_size)), 0);
    f.close(img);
    make_dirs(dir.path() + "/work");
  }
  virtual std::string root_fs() { return "ext4"; }
  // A partition cut out of the image into its own file (debugfs and btrfs
  // have no offset option).
  std::string cut(const Partition& p) {
    std::string out = dir.path() + "/" + p.name + ".part";
    run({"dd", "if=" + img, "of=" + out, "bs=1M", fmt::format("skip={}", p.start / kMiB),
         fmt::format("count={}", p.size / kMiB), "conv=sparse", "status=none"});
    return out;
  }
  std::string tree(const std::string& name) {
    std::string t = dir.path() + "/" + name;
    make_dirs(t + "/grub");
    make_dirs(t + "/ostree/repo/objects/ab");
    write_file_atomic(t + "/grub/grub.cfg", "boot\n");
    write_file_atomic(t + "/ostree/repo/objects/ab/cdef.file", "shared\n");
    EXPECT_EQ(link((t + "/ostree/repo/objects/ab/cdef.file").c_str(), (t + "/bash").c_str()), 0);
    make_dirs(t + "/boot");
    return t;
  }

  TempDir dir{"disk-test"};
  std::string img;
  Layout l;
};

TEST_F(DiskImage, GptAsPlanned) {
  write_gpt(img, l);
  std::string p = run({"sgdisk", "-p", img});
  EXPECT_NE(p.find("Disk identifier (GUID): " + run({"sh", "-c", "echo " + l.disk_guid + " | tr a-f A-F"}).substr(0, 36)),
            std::string::npos) << p;
  EXPECT_TRUE(std::regex_search(p, std::regex(R"(\n\s+1\s+2048\s+4095\s+1024\.0 KiB\s+EF02\s+BIOS-BOOT)"))) << p;
  EXPECT_TRUE(std::regex_search(p, std::regex(R"(\n\s+2\s+4096\s+1030143\s+501\.0 MiB\s+EF00\s+EFI-SYSTEM)"))) << p;
  EXPECT_TRUE(std::regex_search(p, std::regex(R"(\n\s+3\s+1030144\s+3127295\s+1024\.0 MiB\s+8300\s+boot)"))) << p;
  EXPECT_TRUE(std::regex_search(p, std::regex(R"(\n\s+4\s+3127296\s+5224447\s+1024\.0 MiB\s+8304\s+root)"))) << p;
  std::string i3 = run({"sgdisk", "-i", "3", img});
  std::string guid = l.boot().part_guid;
  std::transform(guid.begin(), guid.end(), guid.begin(), ::toupper);
  EXPECT_NE(i3.find("Partition unique GUID: " + guid), std::string::npos) << i3;
  // A table is now detected, so a second install needs --wipe.
  EXPECT_TRUE(inspect_target(img).has_partition_table);
  EXPECT_EQ(inspect_target(img).size, l.disk_size);
  EXPECT_FALSE(inspect_target(img).block_device);
}

TEST_F(DiskImage, Ext4AtItsOffsetWithHardLinks) {
  write_gpt(img, l);
  std::string boot = tree("bootsrc");
  make_filesystem(system_runner(), img, l.boot(), boot, dir.path() + "/work");
  std::string part = cut(l.boot());
  std::string h = run({"dumpe2fs", "-h", part});
  EXPECT_NE(h.find("Filesystem UUID:          " + l.boot().fs_uuid), std::string::npos) << h;
  EXPECT_NE(h.find("Filesystem volume name:   boot"), std::string::npos);
  EXPECT_NE(h.find("Block count:              262144"), std::string::npos);  // 1 GiB of 4 KiB
  std::string ls = run({"debugfs", "-R", "ls -p /grub", part});
  EXPECT_NE(ls.find("/grub.cfg/"), std::string::npos) << ls;
  EXPECT_EQ(run({"debugfs", "-R", "cat /grub/grub.cfg", part}), "boot\n");
  std::string st = run({"debugfs", "-R", "stat /bash", part});
  EXPECT_NE(st.find("Links: 2"), std::string::npos) << st;
  // The GPT survived the mkfs at an offset.
  EXPECT_NE(run({"sgdisk", "-v", img}).find("No problems found"), std::string::npos);
}

class BtrfsDiskImage : public DiskImage {
  std::string root_fs() override { return "btrfs"; }
};

TEST_F(BtrfsDiskImage, BtrfsCopiedInAtItsOffset) {
  write_gpt(img, l);
  make_filesystem(system_runner(), img, l.root(), tree("rootsrc"), dir.path() + "/work");
  std::string part = cut(l.root());
  std::string s = run({"btrfs", "inspect-internal", "dump-super", part});
  EXPECT_NE(s.find("fsid\t\t\t" + l.root().fs_uuid), std::string::npos) << s;
  EXPECT_NE(s.find("label\t\t\troot"), std::string::npos) << s;
  EXPECT_NE(s.find(fmt::format("total_bytes\t\t{}", l.root().size)), std::string::npos) << s;
  // Sparse: the image does not hold a full copy of the 1 GiB partition.
  struct stat st;
  ASSERT_EQ(stat(img.c_str(), &st), 0);
  EXPECT_LT(uint64_t(st.st_blocks) * 512, 300 * kMiB);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/work/root.btrfs"));
  EXPECT_NE(run({"sgdisk", "-v", img}).find("No problems found"), std::string::npos);
}

TEST_F(DiskImage, EspWithMtools) {
  write_gpt(img, l);
  std::string efi = dir.path() + "/BOOTX64.EFI";
  write_file_atomic(efi, "MZ fake");
  make_esp(system_runner(), img, l.esp(), {{efi, "EFI/BOOT/BOOTX64.EFI"}});
  std::string at = fmt::format("{}@@{}", img, l.esp().start);
  std::string files = run({"mdir", "-i", at, "-/", "-b", "::"});
  EXPECT_NE(files.find("::/EFI/BOOT/BOOTX64.EFI"), std::string::npos) << files;
  EXPECT_EQ(run({"mtype", "-i", at, "::/EFI/BOOT/BOOTX64.EFI"}), "MZ fake");
  std::string info = run({"minfo", "-i", at, "::"});
  std::string serial = l.esp().fs_uuid;
  serial.erase(serial.find('-'), 1);
  EXPECT_NE(info.find("serial number: " + serial), std::string::npos) << info;
  EXPECT_NE(info.find("disk type=\"FAT32   \""), std::string::npos) << info;
  EXPECT_NE(run({"sgdisk", "-v", img}).find("No problems found"), std::string::npos);
}

std::string to_disk_error(ToDiskOptions o) {
  Progress progress(true);
  sysroot::Context ctx;
  ctx.progress = &progress;
  ctx.quiet = true;
  o.install.source = image::ImageName::parse("oci:/nonexistent:1");  // never reached
  try {
    install_to_disk(ctx, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// The target checks run before anything is pulled or written.
TEST_F(DiskImage, ToDiskChecksTheTargetFirst) {
  write_gpt(img, l);
  ToDiskOptions o;
  o.device = img;
  o.via_loopback = true;
  EXPECT_NE(to_disk_error(o).find("has a partition table; pass --wipe"), std::string::npos) << to_disk_error(o);
  o.via_loopback = false;
  EXPECT_NE(to_disk_error(o).find("not a block device (for an image file, pass --via-loopback)"), std::string::npos);
  o.via_loopback = true;
  o.wipe = true;
  o.filesystem = "xfs";
  EXPECT_NE(to_disk_error(o).find("xfs root filesystems are not supported yet"), std::string::npos);
  o.filesystem = "";
  o.root_size = 100 * kMiB;
  EXPECT_NE(to_disk_error(o).find("--root-size 100 MiB is below the minimum"), std::string::npos) << to_disk_error(o);
  o.device = dir.path() + "/new.img";
  o.root_size.reset();
  // A new file is only created once the sysroot is staged: here the pull fails first.
  EXPECT_NE(to_disk_error(o).find("staging the sysroot"), std::string::npos) << to_disk_error(o);
  EXPECT_FALSE(std::filesystem::exists(o.device));
}

// GRUB from the host's grub-pc-bin/grub-efi-amd64-bin stands in for the
// image's (the same Debian packages); skipped without them.
TEST_F(DiskImage, GrubBootCode) {
  if (!std::filesystem::exists("/usr/lib/grub/i386-pc/boot.img") || !std::filesystem::exists("/usr/lib/grub/x86_64-efi"))
    GTEST_SKIP() << "grub-pc-bin and grub-efi-amd64-bin are not installed";
  write_gpt(img, l);
  std::string before = head(img, 1024);
  boot::ImageGrub g = boot::find_image_grub("/");
  std::string early = dir.path() + "/early.cfg", core = dir.path() + "/core.img", efi = dir.path() + "/x.efi";
  write_file_atomic(early, boot::early_cfg(l.boot().fs_uuid));
  system_runner().run({boot::mkimage_argv(g, boot::Platform::kBiosPc, early, core), "grub-mkimage"});
  system_runner().run({boot::mkimage_argv(g, boot::Platform::kEfiX64, early, efi), "grub-mkimage"});
  EXPECT_EQ(read_file(efi).substr(0, 2), "MZ");  // a PE/COFF application
  std::string core_img = read_file(core, 2 << 20);
  boot::write_bios_boot(img, g, core_img, l.bios().start, l.bios().size);

  std::string disk = head(img, 4 << 20);
  std::string boot_img = read_file("/usr/lib/grub/i386-pc/boot.img");
  uint64_t lba = l.bios().start / 512;
  boot::patch_boot_img(boot_img, lba);
  EXPECT_EQ(disk.substr(0, 440), boot_img.substr(0, 440));
  EXPECT_EQ(disk.substr(440, 72), before.substr(440, 72));  // disk signature + protective MBR kept
  EXPECT_EQ(uint8_t(disk[0x1c2]), 0xee);
  EXPECT_EQ(disk.substr(512, 512), before.substr(512, 512));  // GPT header untouched
  boot::patch_core_img(core_img, lba);
  EXPECT_EQ(disk.substr(l.bios().start, core_img.size()), core_img);
  uint64_t start = 0;
  for (int i = 0; i < 8; i++) start |= uint64_t(uint8_t(disk[l.bios().start + 0x1f4 + i])) << (8 * i);
  EXPECT_EQ(start, lba + 1);
  // The early config is embedded (core.img is compressed; the EFI image is not).
  EXPECT_NE(read_file(efi, 4 << 20).find(l.boot().fs_uuid), std::string::npos);
  EXPECT_NE(run({"sgdisk", "-v", img}).find("No problems found"), std::string::npos);

  // core.img must fit the BIOS boot partition.
  EXPECT_THROW(boot::write_bios_boot(img, g, core_img, l.bios().start, 4096), Error);
}

}  // namespace
}  // namespace hull::install
