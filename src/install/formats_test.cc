#include "install/formats.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace hull::install {
namespace {

struct TypeCase {
  const char* name;
  DiskType type;
  const char* path;
};

class Types : public testing::TestWithParam<TypeCase> {};

TEST_P(Types, NamesAndPathsAsBib) {
  EXPECT_EQ(parse_disk_type(GetParam().name), GetParam().type);
  EXPECT_EQ(output_path(GetParam().type), GetParam().path);
}

INSTANTIATE_TEST_SUITE_P(Table, Types,
                         testing::Values(TypeCase{"raw", DiskType::kRaw, "image/disk.raw"},
                                         TypeCase{"qcow2", DiskType::kQcow2, "qcow2/disk.qcow2"},
                                         TypeCase{"vmdk", DiskType::kVmdk, "vmdk/disk.vmdk"},
                                         TypeCase{"vhd", DiskType::kVhd, "vpc/disk.vhd"},
                                         TypeCase{"vpc", DiskType::kVhd, "vpc/disk.vhd"},
                                         TypeCase{"gce", DiskType::kGce, "gce/image.tar.gz"},
                                         TypeCase{"iso", DiskType::kIso, "bootiso/install.iso"},
                                         TypeCase{"anaconda-iso", DiskType::kIso, "bootiso/install.iso"}));

TEST(Types, Refused) {
  try {
    parse_disk_type("ami");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("--type raw"), std::string::npos) << e.message();
  }
  try {
    parse_disk_type("qcow");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("valid types are"), std::string::npos) << e.message();
  }
}

TEST(Convert, ToolsAndOptions) {
  using V = std::vector<std::string>;
  EXPECT_EQ(convert_command(DiskType::kQcow2, "/o/disk.raw", "/o/q").argv,
            (V{"qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "compat=1.1", "/o/disk.raw", "/o/q"}));
  EXPECT_EQ(convert_command(DiskType::kVmdk, "/o/disk.raw", "/o/v").argv[7], "subformat=streamOptimized");
  EXPECT_EQ(convert_command(DiskType::kVhd, "/o/disk.raw", "/o/h").argv[5], "vpc");
  EXPECT_EQ(convert_command(DiskType::kVhd, "/o/disk.raw", "/o/h").argv[7], "subformat=fixed,force_size");
  EXPECT_EQ(convert_command(DiskType::kGce, "/o/disk.raw", "/x/image.tar.gz").argv,
            (V{"tar", "--format=oldgnu", "-Sczf", "/x/image.tar.gz", "-C", "/o", "disk.raw"}));
  EXPECT_THROW(convert_command(DiskType::kGce, "/o/other.raw", "/x/i.tar.gz"), Error);
  EXPECT_THROW(convert_command(DiskType::kRaw, "/o/disk.raw", "/x"), Error);
}

}  // namespace
}  // namespace hull::install
