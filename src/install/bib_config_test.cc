#include "install/bib_config.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace hull::install {
namespace {

TEST(BibConfig, FullToml) {
  BibConfig c = parse_bib_config(R"(
[[customizations.user]]
name = "alice"
password = "secret"
key = "ssh-ed25519 AAAA alice@host"
groups = ["sudo", "hullers"]

[[customizations.user]]
name = "bob"

[[customizations.group]]
name = "hullers"
gid = 2000

[customizations.kernel]
append = "quiet hull.test=1"

[[customizations.filesystem]]
mountpoint = "/"
minsize = "12 GiB"

[[customizations.filesystem]]
mountpoint = "/boot"
minsize = 2147483648
)",
                                 "config.toml");
  ASSERT_EQ(c.users.size(), 2u);
  EXPECT_EQ(c.users[0].name, "alice");
  EXPECT_EQ(*c.users[0].password, "secret");
  EXPECT_EQ(*c.users[0].key, "ssh-ed25519 AAAA alice@host");
  EXPECT_EQ(c.users[0].groups, (std::vector<std::string>{"sudo", "hullers"}));
  EXPECT_FALSE(c.users[1].password);
  ASSERT_EQ(c.groups.size(), 1u);
  EXPECT_EQ(*c.groups[0].gid, 2000);
  EXPECT_EQ(c.kernel_append, "quiet hull.test=1");
  EXPECT_EQ(c.minsize_of("/"), 12ull << 30);
  EXPECT_EQ(c.minsize_of("/boot"), 2ull << 30);
  EXPECT_EQ(c.minsize_of("/var/x"), 0u);
  EXPECT_NO_THROW(check_mountpoints(c, "ext4"));
}

TEST(BibConfig, JsonAndLegacyJson) {
  const char* doc = R"({"customizations": {"user": [{"name": "u", "groups": ["a"]}], "disk": {"minsize": "20 GB"}}})";
  BibConfig c = parse_bib_config(doc, "config.json");
  ASSERT_EQ(c.users.size(), 1u);
  EXPECT_EQ(*c.disk_minsize, 20'000'000'000ull);
  BibConfig legacy = parse_bib_config(std::string(R"({"blueprint": )") + doc + "}", "config.json");
  EXPECT_EQ(legacy.users[0].name, "u");
  EXPECT_TRUE(parse_bib_config("", "config.toml").empty());
}

struct BadCase {
  const char* file;
  const char* text;
  const char* want;  // substring of the message
};

class BibConfigBad : public testing::TestWithParam<BadCase> {};

TEST_P(BibConfigBad, RefusedNamingFileAndKey) {
  const BadCase& c = GetParam();
  try {
    parse_bib_config(c.text, c.file);
    FAIL() << "accepted: " << c.text;
  } catch (const Error& e) {
    EXPECT_NE(e.message().find(c.file), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(c.want), std::string::npos) << e.message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, BibConfigBad,
    testing::Values(
        BadCase{"config.toml", "[[customizations.user]]\nname = \"a\"\npasword = \"x\"\n",
                "unknown key \"customizations.user[0].pasword\""},
        BadCase{"config.toml", "[customizations]\nhostname = \"h\"\n", "unknown key \"customizations.hostname\""},
        BadCase{"config.toml", "foo = 1\n", "unknown key \"foo\""},
        BadCase{"config.toml", "[customizations.kernel]\nname = \"kernel-debug\"\n",
                "unknown key \"customizations.kernel.name\""},
        BadCase{"config.toml", "[[customizations.user]]\nname = \n", "malformed TOML at line 2"},
        BadCase{"config.json", "{\"customizations\": ", "malformed JSON"},
        BadCase{"config.json", "{\"customizations\": {\"user\": [{\"name\": 3}]}}",
                "customizations.user[0].name: expected a string"},
        BadCase{"config.toml", "[[customizations.user]]\npassword = \"x\"\n", "\"name\" is required"},
        BadCase{"config.toml", "[[customizations.filesystem]]\nmountpoint = \"/\"\nminsize = \"20G\"\n",
                "customizations.filesystem[0].minsize: \"20G\": unknown unit \"G\""},
        BadCase{"config.toml", "[[customizations.filesystem]]\nmountpoint = \"/\"\nminsize = \"lots\"\n",
                "customizations.filesystem[0].minsize"},
        BadCase{"config.toml", "[customizations.disk]\nminsize = -1\n", "customizations.disk.minsize"},
        BadCase{"config.toml",
                "[customizations.disk]\nminsize = \"1 GiB\"\n[[customizations.filesystem]]\nmountpoint = \"/\"\n",
                "cannot be used with"},
        BadCase{"config.yaml", "", "unsupported file extension"},
        // An [output] table stays refused, with the flags it meant.
        BadCase{"config.toml", "[output]\ntype = \"iso\"\nrootfs = \"ext4\"\n",
                "unknown key \"output\" (the output is chosen on the command line, as with bootc-image-builder: "
                "use --type iso --rootfs ext4 instead)"},
        BadCase{"config.toml", "[customizations]\n[output]\ntype = [\"qcow2\", \"raw\"]\n",
                "use --type qcow2 --type raw instead"},
        BadCase{"config.json", "{\"output\": {\"rootfs\": \"xfs\"}}", "use --rootfs xfs instead"},
        // Values that are not plain words are not echoed.
        BadCase{"config.toml", "[output]\ntype = \"iso; rm -rf /\"\nrootfs = 4\n", "use --type TYPE --rootfs FS instead"},
        BadCase{"config.toml", "output = \"iso\"\n", "use --type TYPE --rootfs FS instead"}));

struct MountCase {
  const char* mountpoint;
  const char* rootfs;
  bool ok;
};

class Mountpoints : public testing::TestWithParam<MountCase> {};

TEST_P(Mountpoints, BibPolicy) {
  BibConfig c;
  c.file = "config.toml";
  c.filesystems.push_back({GetParam().mountpoint, 0});
  if (GetParam().ok) {
    EXPECT_NO_THROW(check_mountpoints(c, GetParam().rootfs));
  } else {
    try {
      check_mountpoints(c, GetParam().rootfs);
      FAIL() << GetParam().mountpoint << " allowed";
    } catch (const Error& e) {
      EXPECT_NE(e.message().find("config.toml: customizations.filesystem[0].mountpoint"), std::string::npos)
          << e.message();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, Mountpoints,
                         testing::Values(MountCase{"/", "ext4", true}, MountCase{"/boot", "ext4", true},
                                         MountCase{"/var/data", "ext4", true}, MountCase{"/var/log", "xfs", true},
                                         MountCase{"/var", "ext4", false}, MountCase{"/var/home", "ext4", false},
                                         MountCase{"/var/run/x", "ext4", false}, MountCase{"/boot/efi", "ext4", false},
                                         MountCase{"/usr", "ext4", false}, MountCase{"/etc", "ext4", false},
                                         MountCase{"/opt", "ext4", false}, MountCase{"var/data", "ext4", false},
                                         MountCase{"/var/data/", "ext4", false},
                                         MountCase{"/var//data", "ext4", false},
                                         MountCase{"/var/data", "btrfs", false}, MountCase{"/boot", "btrfs", true}));

struct SizeCase {
  const char* text;
  uint64_t bytes;  // 0: refused
};

class Sizes : public testing::TestWithParam<SizeCase> {};

TEST_P(Sizes, AsBibParses) {
  if (GetParam().bytes) {
    EXPECT_EQ(parse_bib_size(GetParam().text), GetParam().bytes);
  } else {
    EXPECT_THROW(parse_bib_size(GetParam().text), Error) << GetParam().text;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, Sizes,
                         testing::Values(SizeCase{"4096", 4096}, SizeCase{"10 GiB", 10ull << 30},
                                         SizeCase{"10GiB", 10ull << 30}, SizeCase{" 1.5 GiB ", 3ull << 29},
                                         SizeCase{"20 GB", 20'000'000'000ull}, SizeCase{"512 MiB", 512ull << 20},
                                         SizeCase{"1 kB", 1000}, SizeCase{"1 KiB", 1024},
                                         SizeCase{"2 TiB", 2ull << 40}, SizeCase{"1 TB", 1'000'000'000'000ull},
                                         SizeCase{"20G", 0}, SizeCase{"1.5", 0}, SizeCase{"GiB", 0},
                                         SizeCase{"-1 GiB", 0}, SizeCase{"10 gib", 0}, SizeCase{"", 0}));

TEST(Kargs, SplitOutsideQuotes) {
  EXPECT_EQ(split_kargs("  quiet  foo=\"a b\" nosmt=force\t"),
            (std::vector<std::string>{"quiet", "foo=\"a b\"", "nosmt=force"}));
  EXPECT_TRUE(split_kargs("").empty());
  EXPECT_THROW(split_kargs("foo=\"a"), Error);
}

TEST(Password, HashedWithSha512Crypt) {
  std::string h = hash_password("secret");
  EXPECT_TRUE(h.starts_with("$6$")) << h;
  EXPECT_TRUE(is_crypted(h));
  EXPECT_NE(hash_password("secret"), h);  // random salt
  EXPECT_EQ(hash_password(h), h);         // a hash is kept
  EXPECT_FALSE(is_crypted("secret"));
  EXPECT_FALSE(is_crypted("$notahash"));
  EXPECT_TRUE(is_crypted("$y$j9T$abc$def"));
}

}  // namespace
}  // namespace hull::install

namespace hull::install {
namespace {

TEST(BibConfig, JsonRoundTripHashesPasswords) {
  BibConfig c = parse_bib_config(R"(
[[customizations.user]]
name = "alice"
password = "secret"
key = "ssh-ed25519 AAAA"
groups = ["sudo"]
uid = 1500
[[customizations.group]]
name = "g"
gid = 7
[customizations.kernel]
append = "a=1"
[[customizations.filesystem]]
mountpoint = "/"
minsize = "3 GiB"
)",
                                 "config.toml");
  BibConfig back = parse_bib_config(to_bib_json(c), "config.json");
  ASSERT_EQ(back.users.size(), 1u);
  EXPECT_TRUE(back.users[0].password->starts_with("$6$"));
  EXPECT_EQ(*back.users[0].key, "ssh-ed25519 AAAA");
  EXPECT_EQ(*back.users[0].uid, 1500);
  EXPECT_EQ(back.users[0].groups, c.users[0].groups);
  EXPECT_EQ(*back.groups[0].gid, 7);
  EXPECT_EQ(back.kernel_append, "a=1");
  EXPECT_EQ(back.minsize_of("/"), 3ull << 30);
}

}  // namespace
}  // namespace hull::install
