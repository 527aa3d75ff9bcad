#include "sysroot/kargs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "util/error.h"

namespace hull::sysroot {
namespace {

using testing::HasSubstr;
using V = std::vector<std::string>;

TEST(Kargs, SplitsOutsideQuotes) {
  const std::pair<const char*, V> cases[] = {
      {"", {}},
      {"   \t\n", {}},
      {"quiet", {"quiet"}},
      {"  root=UUID=ab  ro\tquiet\n", {"root=UUID=ab", "ro", "quiet"}},
      {"a=\"x y\" b", {"a=\"x y\"", "b"}},
      {"\"a=x y\" b", {"\"a=x y\"", "b"}},
      {"a=\"unclosed quote b c", {"a=\"unclosed quote b c"}},
      {"a=in\"ter\"nal b", {"a=in\"ter\"nal", "b"}},
      {"console=ttyS0,115200n8 console=tty0", {"console=ttyS0,115200n8", "console=tty0"}},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    EXPECT_EQ(split_kargs(in), want);
  }
}

TEST(Kargs, JoinsWithSpaces) {
  EXPECT_EQ(join_kargs({}), "");
  EXPECT_EQ(join_kargs({"a", "b=\"x y\""}), "a b=\"x y\"");
  EXPECT_EQ(split_kargs(join_kargs({"a", "b=\"x y\"", "c"})), (V{"a", "b=\"x y\"", "c"}));
}

TEST(Kargs, SameArgument) {
  const std::tuple<const char*, const char*, bool> cases[] = {
      {"quiet", "quiet", true},
      {"quiet", "quiet=", false},
      {"foo-bar=1", "foo_bar=1", true},
      {"foo-bar=1", "foo_bar=2", false},
      {"a=\"x y\"", "\"a=x y\"", true},
      {"a=\"x\"", "a=x", true},
      {"Quiet", "quiet", false},
      {"console=tty0", "console=ttyS0", false},
      {"root=UUID=ab", "root=UUID=ab", true},
  };
  for (const auto& [a, b, same] : cases) {
    SCOPED_TRACE(std::string(a) + " vs " + b);
    EXPECT_EQ(same_karg(a, b), same);
    EXPECT_EQ(same_karg(b, a), same);
  }
}

TEST(Kargs, ParsesAFile) {
  KargsFile f = parse_kargs_file("10-a.toml", R"(kargs = ["console=tty0", "nosmt mitigations=auto"])");
  EXPECT_EQ(f.kargs, (V{"console=tty0", "nosmt", "mitigations=auto"}));
  EXPECT_FALSE(f.match_architectures);

  f = parse_kargs_file("20-b.toml", "# a comment\nkargs = []\nmatch-architectures = [\"x86_64\", \"aarch64\"]\n");
  EXPECT_TRUE(f.kargs.empty());
  EXPECT_EQ(f.match_architectures, (V{"x86_64", "aarch64"}));
}

TEST(Kargs, FileErrorsNameTheFileAndKey) {
  const std::tuple<const char*, const char*> cases[] = {
      {"kargs = [\"a\"]\nfoo = \"bar\"", "10-x.toml: unknown key \"foo\" (expected kargs, match-architectures)"},
      {"match-architectures = [\"x86_64\"]", "10-x.toml: missing key \"kargs\""},
      {"", "10-x.toml: missing key \"kargs\""},
      {"kargs = \"quiet\"", "10-x.toml: \"kargs\" must be an array of strings, not a string"},
      {"kargs = [\"a\", 1]", "10-x.toml: \"kargs\"[1] must be a string, not an integer"},
      {"kargs = [\"a\"]\nmatch-architectures = \"x86_64\"",
       "10-x.toml: \"match-architectures\" must be an array of strings"},
      {"kargs = [\"a\"\n", "10-x.toml: line "},
      {"[kargs]\nx = 1", "10-x.toml: \"kargs\" must be an array of strings, not a table"},
  };
  for (const auto& [text, why] : cases) {
    SCOPED_TRACE(text);
    try {
      parse_kargs_file("10-x.toml", text);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(why));
    }
  }
}

TEST(Kargs, ArchitectureMatching) {
  KargsFile any{{"a"}, std::nullopt};
  KargsFile x86{{"a"}, V{"x86_64"}};
  KargsFile both{{"a"}, V{"x86_64", "aarch64"}};
  KargsFile none{{"a"}, V{}};
  EXPECT_TRUE(kargs_file_applies(any, "aarch64"));
  EXPECT_TRUE(kargs_file_applies(x86, "x86_64"));
  EXPECT_FALSE(kargs_file_applies(x86, "aarch64"));
  EXPECT_TRUE(kargs_file_applies(both, "aarch64"));
  EXPECT_FALSE(kargs_file_applies(none, "x86_64"));
}

TEST(Kargs, ArchNamesFromUname) {
  const std::pair<const char*, const char*> cases[] = {
      {"x86_64", "x86_64"}, {"aarch64", "aarch64"}, {"ppc64le", "powerpc64"}, {"s390x", "s390x"},
      {"riscv64", "riscv64"}, {"i686", "x86"},       {"armv7l", "arm"},
  };
  for (const auto& [machine, arch] : cases) EXPECT_EQ(kargs_arch(machine), arch) << machine;
}

TEST(Kargs, FromFilesInLexicalOrder) {
  std::vector<std::pair<std::string, std::string>> files = {
      {"usr/lib/bootc/kargs.d/20-serial.toml", R"(kargs = ["console=ttyS0,115200", "console=tty0"])"},
      {"usr/lib/bootc/kargs.d/10-console.toml", R"(kargs = ["console=tty0", "quiet"])"},
      {"usr/lib/bootc/kargs.d/README", "not toml at all ["},
      {"usr/lib/bootc/kargs.d/30-arm.toml", "kargs = [\"earlycon\"]\nmatch-architectures = [\"aarch64\"]"},
      {"usr/lib/bootc/kargs.d/05-x86.toml", "kargs = [\"nosmt\"]\nmatch-architectures = [\"x86_64\"]"},
  };
  EXPECT_EQ(kargs_from_files(files, "x86_64"), (V{"nosmt", "console=tty0", "quiet", "console=ttyS0,115200"}));
  EXPECT_EQ(kargs_from_files(files, "aarch64"), (V{"console=tty0", "quiet", "console=ttyS0,115200", "earlycon"}));
  EXPECT_TRUE(kargs_from_files({}, "x86_64").empty());
}

TEST(Kargs, FromFilesNamesTheBadFile) {
  std::vector<std::pair<std::string, std::string>> files = {
      {"kargs.d/10-ok.toml", R"(kargs = ["quiet"])"},
      {"kargs.d/20-bad.toml", R"(karg = ["quiet"])"},
  };
  try {
    kargs_from_files(files, "x86_64");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("kargs.d/20-bad.toml: unknown key \"karg\""));
  }
}

// The upgrade rule: local arguments survive, the images' difference applies.
TEST(Kargs, ApplyDiff) {
  struct Case {
    const char* what;
    V current, old_image, new_image, want;
  };
  const Case cases[] = {
      {"nothing changes", {"root=UUID=1", "quiet"}, {"quiet"}, {"quiet"}, {"root=UUID=1", "quiet"}},
      {"new image adds", {"root=UUID=1", "quiet"}, {"quiet"}, {"quiet", "nosmt"}, {"root=UUID=1", "quiet", "nosmt"}},
      {"new image drops", {"root=UUID=1", "quiet", "nosmt"}, {"quiet", "nosmt"}, {"quiet"}, {"root=UUID=1", "quiet"}},
      {"value changes", {"root=UUID=1", "console=tty0"}, {"console=tty0"}, {"console=ttyS0"},
       {"root=UUID=1", "console=ttyS0"}},
      {"local args kept even if the image drops them elsewhere", {"debug", "quiet"}, {"quiet"}, {}, {"debug"}},
      {"a local edit of an image argument is kept", {"root=UUID=1", "mitigations=off"}, {"mitigations=auto"},
       {}, {"root=UUID=1", "mitigations=off"}},
      {"added but already present locally", {"nosmt", "quiet"}, {}, {"nosmt"}, {"nosmt", "quiet"}},
      {"every copy of a dropped argument goes", {"quiet", "a", "quiet"}, {"quiet"}, {}, {"a"}},
      {"dash and underscore are the same key", {"foo-bar=1"}, {"foo_bar=1"}, {"foo_bar=2"}, {"foo_bar=2"}},
      {"quoting does not matter", {"a=\"x y\""}, {"\"a=x y\""}, {"a=\"x y\"", "b"}, {"a=\"x y\"", "b"}},
      {"first install: no old image", {"root=UUID=1"}, {}, {"quiet"}, {"root=UUID=1", "quiet"}},
      {"new image without kargs.d (bootc's special case, as the caller does it)", {"root=UUID=1"}, {}, {"quiet"},
       {"root=UUID=1", "quiet"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(apply_kargs_diff(c.current, c.old_image, c.new_image), c.want);
  }
}

}  // namespace
}  // namespace hull::sysroot
