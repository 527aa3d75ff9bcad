#include "install/formats.h"

#include <filesystem>

#include "util/error.h"

namespace hull::install {
namespace {

struct TypeInfo {
  DiskType type;
  std::string_view name;
  std::string_view path;
};

constexpr TypeInfo kTypes[] = {
    {DiskType::kRaw, "raw", "image/disk.raw"},        {DiskType::kQcow2, "qcow2", "qcow2/disk.qcow2"},
    {DiskType::kVmdk, "vmdk", "vmdk/disk.vmdk"},      {DiskType::kVhd, "vhd", "vpc/disk.vhd"},
    {DiskType::kGce, "gce", "gce/image.tar.gz"},      {DiskType::kIso, "iso", "bootiso/install.iso"},
};

const TypeInfo& info(DiskType t) {
  for (const auto& i : kTypes)
    if (i.type == t) return i;
  fail("unknown disk type {}", int(t));
}

}  // namespace

DiskType parse_disk_type(std::string_view name) {
  if (name == "vpc") return DiskType::kVhd;
  if (name == "anaconda-iso" || name == "bootc-installer") return DiskType::kIso;
  if (name == "ami")
    fail(
        "--type ami is not supported: it is a raw disk uploaded to AWS, and hull does not upload; build --type raw "
        "and import it with your AWS tools");
  for (const auto& i : kTypes)
    if (i.name == name) return i.type;
  fail("unsupported image type \"{}\", valid types are raw, qcow2, vmdk, vhd (vpc), gce, iso (anaconda-iso)", name);
}

std::string_view type_name(DiskType t) { return info(t).name; }
std::string output_path(DiskType t) { return std::string(info(t).path); }
bool needs_raw(DiskType t) { return t != DiskType::kIso; }

Command convert_command(DiskType t, const std::string& raw, const std::string& out) {
  switch (t) {
    case DiskType::kQcow2:
      return {{"qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "compat=1.1", raw, out}, ""};
    case DiskType::kVmdk:
      return {{"qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, out}, ""};
    case DiskType::kVhd:
      return {{"qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=fixed,force_size", raw, out}, ""};
    case DiskType::kGce: {
      std::filesystem::path p(raw);
      if (p.filename() != "disk.raw") fail("gce: the raw disk must be named disk.raw, not {}", p.filename().string());
      return {{"tar", "--format=oldgnu", "-Sczf", out, "-C", p.parent_path().string(), "disk.raw"}, ""};
    }
    default:
      fail("no conversion for type {}", type_name(t));
  }
}

}  // namespace hull::install
