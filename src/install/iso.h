// build-disk --type iso: an installer ISO that boots on BIOS and UEFI,
// carries the image as an OCI layout and, without asking, installs it to
// the machine's first disk with the config's customizations, then reboots.
//
// Made without mounts or root-only tools (see iso.cc for the layout):
//   - the installer's root filesystem is the image itself: its deployment
//     tree, staged with libostree in a directory, written as the ISO 9660
//     (Rock Ridge) tree, which the image's own kernel and dracut initramfs
//     mount read-only as root (root=live:LABEL is not needed, so no
//     dmsquash-live);
//   - GRUB from the image: i386-pc El Torito image and an EFI El Torito
//     image (FAT, made with mtools) holding BOOTX64.EFI;
//   - xorriso writes the ISO (hybrid: also boots from a USB stick).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "image/transport.h"
#include "install/bib_config.h"
#include "install/runner.h"
#include "sysroot/sysroot.h"

namespace hull::install {

struct IsoOptions {
  image::ImageName source;                 // the image (read now, and copied into the ISO)
  std::optional<image::ImageName> target;  // what the installed system follows
  BibConfig config;                        // applied by the installer
  std::string rootfs;                      // root filesystem the installer makes
  std::string output;                      // the .iso file
  std::string workdir;                     // temporaries
  std::string hull_binary;                 // the installer's hull; empty: this program
};

// The ISO 9660 volume id, also the installer's root=LABEL=.
inline constexpr const char* kIsoLabel = "HULL-INSTALL";

// Builds the ISO at o.output (see iso.cc for its layout).
void build_iso(sysroot::Context& ctx, const IsoOptions& o, Runner& r);

// Pieces of the ISO, for tests: the GRUB menu (kernel version `kver` of the
// image), the installer's script and its systemd unit.
std::string iso_grub_cfg(const std::string& kver, const std::string& title);
std::string installer_script(const std::string& rootfs, const std::string& target);
std::string installer_unit();

// The libraries of `ldd_output` (host paths) that the image at
// `image_root` does not have, by file name.
std::vector<std::string> missing_libraries(const std::string& ldd_output, const std::string& image_root);

}  // namespace hull::install
