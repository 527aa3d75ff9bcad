// The boot counter's block and its place in /boot. Unit tests of the format
// and of the state kept beside libostree's syslinux.cfg; boot_grub_tools_test
// reads the same bytes with GRUB's own tools.
#include "sysroot/trial.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "util/error.h"
#include "util/file.h"

namespace hull::sysroot {
namespace {

TEST(EnvBlock, IsExactly1024BytesWithGrubsHeaderAndPadding) {
  std::string b = render_env_block({{"hull_trial", "1"}, {"hull_left", "3"}});
  ASSERT_EQ(b.size(), 1024u);
  EXPECT_TRUE(b.starts_with("# GRUB Environment Block\nhull_left=3\nhull_trial=1\n#"));
  EXPECT_EQ(b.find_first_not_of('#', b.find("hull_trial=1\n") + 13), std::string::npos);
  EXPECT_EQ(parse_env_block(b), (std::map<std::string, std::string>{{"hull_left", "3"}, {"hull_trial", "1"}}));
}

TEST(EnvBlock, RefusesWhatGrubCouldNotReadBack) {
  EXPECT_THROW(render_env_block({{"a", "x\ny"}}), Error);
  EXPECT_THROW(render_env_block({{"a=b", "x"}}), Error);
  EXPECT_THROW(render_env_block({{"big", std::string(1100, 'v')}}), Error);
  EXPECT_THROW(parse_env_block("# GRUB Environment Block\n"), Error);      // short
  EXPECT_THROW(parse_env_block(std::string(1024, '#')), Error);           // no header
  // GRUB's escapes are undone.
  std::string b = std::string("# GRUB Environment Block\nk=a\\\\b\n");
  b.resize(1024, '#');
  EXPECT_EQ(parse_env_block(b).at("k"), "a\\b");
}

TEST(TrialState, RoundTripsThroughTheBlock) {
  Trial t = arm("0123456789abcdef", 3, "10.0.2.100:5000/os:latest (2)");
  EXPECT_TRUE(t.armed);
  EXPECT_EQ(t.left, 3);
  EXPECT_EQ(trial_from_vars(parse_env_block(render_env_block(trial_vars(t)))), t);
  EXPECT_EQ(trial_from_vars(parse_env_block(render_env_block(trial_vars(Trial{})))), Trial{});
  EXPECT_THROW(arm("x", 0, ""), Error);
  EXPECT_THROW(arm("x", kMaxTries + 1, ""), Error);
  // A long name is cut, never a block that does not fit.
  EXPECT_NO_THROW(render_env_block(trial_vars(arm("x", 2, std::string(5000, 'n')))));
}

struct Boot {
  TempDir t{"trial-test"};
  std::string dir = t.path() + "/boot";
  Boot() {
    make_dirs(dir + "/loader.0");
    EXPECT_EQ(::symlink("loader.0", (dir + "/loader").c_str()), 0);
  }
  // What libostree does on a deployment change: fill the other loader.N,
  // rename `loader` over to it, delete the old one.
  void libostree_switch() {
    int next = 1 - current_bootversion(dir);
    std::string n = fmt::format("{}/loader.{}", dir, next);
    std::filesystem::remove_all(n + "/entries");
    make_dirs(n + "/entries");
    write_file_atomic(n + "/syslinux.cfg", "TIMEOUT 10\n");
    std::filesystem::create_symlink(fmt::format("loader.{}", next), dir + "/loader.tmp");
    std::filesystem::rename(dir + "/loader.tmp", dir + "/loader");
    std::filesystem::remove_all(fmt::format("{}/loader.{}", dir, 1 - next));
  }
};

TEST(TrialState, PreparedStateGoesLiveOnlyWithTheSwitch) {
  Boot b;
  EXPECT_FALSE(read_current(b.dir).armed);  // no block: not armed
  Trial t = arm("aaaa", 2, "v2");
  prepare_next(b.dir, t);
  EXPECT_FALSE(read_current(b.dir).armed) << "armed before the menu switched";
  EXPECT_TRUE(path_exists(b.dir + "/loader.1/hullenv"));
  b.libostree_switch();
  EXPECT_TRUE(switched(b.dir, 0));
  EXPECT_EQ(read_current(b.dir), t);
  // Blessing rewrites the live block in place (by rename).
  write_current(b.dir, Trial{});
  EXPECT_FALSE(read_current(b.dir).armed);
  EXPECT_EQ(current_bootversion(b.dir), 1);
  EXPECT_FALSE(switched(b.dir, 1));
}

TEST(TrialState, AnUnreadableBlockIsNotATrial) {
  Boot b;
  write_file_atomic(b.dir + "/loader/hullenv", "garbage");
  EXPECT_FALSE(read_current(b.dir).armed);
}

TEST(EntryKarg, IsUniqueAndFoundInAKargsLine) {
  std::string a = new_entry_karg(), b = new_entry_karg();
  EXPECT_NE(a, b);
  ASSERT_TRUE(a.starts_with("hull.entry="));
  EXPECT_EQ(a.size(), std::string("hull.entry=").size() + 16);
  EXPECT_EQ(entry_of("root=UUID=1 rw " + a + " panic=10"), a.substr(11));
  EXPECT_EQ(entry_of("root=UUID=1 rw"), "");
}

TEST(Counting, OnlyAGrubCfgThatCountsArms) {
  TempDir t("trial-test");
  EXPECT_FALSE(counting_supported(t.path()));
  make_dirs(t.path() + "/grub");
  write_file_atomic(t.path() + "/grub/grub.cfg", "syslinux_configfile /loader/syslinux.cfg\nboot\n");
  EXPECT_FALSE(counting_supported(t.path()));
}

}  // namespace
}  // namespace hull::sysroot
