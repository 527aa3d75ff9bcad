#include "install/iso.h"

#include <gtest/gtest.h>

#include "util/error.h"
#include "util/file.h"

namespace hull::install {
namespace {

TEST(Iso, GrubMenuBootsTheImageKernelFromTheIso) {
  std::string cfg = iso_grub_cfg("6.1.0-56-amd64", "Install x");
  EXPECT_NE(cfg.find("linux /usr/lib/modules/6.1.0-56-amd64/vmlinuz root=LABEL=HULL-INSTALL rootfstype=iso9660 ro "
                     "rootovl hull.installer"),
            std::string::npos)
      << cfg;
  EXPECT_NE(cfg.find("initrd /usr/lib/modules/6.1.0-56-amd64/initramfs.img"), std::string::npos);
  EXPECT_NE(cfg.find("console=ttyS0,115200"), std::string::npos);
  EXPECT_NE(cfg.find("menuentry \"Install x\""), std::string::npos);
}

TEST(Iso, InstallerScriptAndUnit) {
  std::string sh = installer_script("btrfs", "docker://q.io/x:1");
  EXPECT_NE(sh.find("build-disk --install-to-device auto --config $D/config.json --rootfs 'btrfs' --target-imgref "
                    "'docker://q.io/x:1' oci:$D/image:image"),
            std::string::npos)
      << sh;
  EXPECT_NE(sh.find("systemctl reboot"), std::string::npos);
  EXPECT_NE(installer_script("", "it's").find("--rootfs 'ext4' --target-imgref 'it'\\''s'"), std::string::npos);
  EXPECT_NE(installer_unit().find("ConditionKernelCommandLine=hull.installer"), std::string::npos);
  EXPECT_NE(installer_unit().find("WantedBy=multi-user.target"), std::string::npos);
}

TEST(Iso, MissingLibrariesByName) {
  TempDir root("hull-iso-test");
  make_dirs(root.path() + "/usr/lib/x86_64-linux-gnu");
  write_file_atomic(root.path() + "/usr/lib/x86_64-linux-gnu/libc.so.6", "");
  std::string ldd =
      "\tlinux-vdso.so.1 (0x00007ffd)\n"
      "\tlibtomlplusplus.so.3 => /lib/x86_64-linux-gnu/libtomlplusplus.so.3 (0x00007f)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
  EXPECT_EQ(missing_libraries(ldd, root.path()), (std::vector<std::string>{"/lib/x86_64-linux-gnu/libtomlplusplus.so.3"}));
  EXPECT_THROW(missing_libraries("\tlibgone.so.1 => not found\n", root.path()), Error);
}

}  // namespace
}  // namespace hull::install
