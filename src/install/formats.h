// The output types of build-disk, named and laid out as bootc-image-builder
// writes them, and the commands of the formats' own tools that turn the raw
// disk into each (qemu-img, tar). Pure: argv only; the caller runs them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "install/runner.h"

namespace hull::install {

enum class DiskType { kRaw, kQcow2, kVmdk, kVhd, kGce, kIso };

// The type for a --type name, bib's spellings included: raw, qcow2, vmdk,
// vhd (and vpc), gce, iso (and anaconda-iso, bootc-installer). "ami" is
// refused with a hint (it is a raw disk for AWS's upload, which hull does
// not do); anything else names the valid types.
DiskType parse_disk_type(std::string_view name);

// The canonical name ("raw", "qcow2", ..., "iso").
std::string_view type_name(DiskType t);

// The path of the output below --output, as bib writes it:
// image/disk.raw, qcow2/disk.qcow2, vmdk/disk.vmdk, vpc/disk.vhd,
// gce/image.tar.gz, bootiso/install.iso.
std::string output_path(DiskType t);

// True for the types made from the raw disk (all but iso).
bool needs_raw(DiskType t);

// The command that makes `out` from the raw disk `raw` (not for kRaw, kIso):
//   qcow2: qemu-img convert -O qcow2 -o compat=1.1 (as bib/osbuild);
//   vmdk:  qemu-img convert -O vmdk -o subformat=streamOptimized;
//   vhd:   qemu-img convert -O vpc -o subformat=fixed,force_size (as
//          osbuild: a fixed VHD whose size is exactly the disk's, what
//          Azure needs);
//   gce:   tar --format=oldgnu -Sczf out -C dir(raw) disk.raw (GCE wants a
//          sparse, gzip'd GNU tar holding one file named disk.raw).
// `raw` must be named disk.raw for gce.
Command convert_command(DiskType t, const std::string& raw, const std::string& out);

}  // namespace hull::install
