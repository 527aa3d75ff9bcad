#include "rechunk/group.h"

#include <gtest/gtest.h>

#include <set>

#include "util/error.h"

namespace hull::rechunk {
namespace {

constexpr uint64_t kMiB = 1u << 20;

// A synthetic tree: packages with files of given sizes, unowned files, a
// dpkg database in usr/lib/sysimage/dpkg.
struct Tree {
  PlanInput in;
  void pkg(const std::string& name, const std::string& source, std::vector<std::pair<std::string, uint64_t>> files) {
    Package p{name, source, "optional", 0, {}};
    for (auto& [path, size] : files) {
      p.paths.push_back(path);
      in.items.push_back({path, size});
    }
    in.items.push_back({"usr/lib/sysimage/dpkg/info/" + name + ".list", 100});
    in.items.push_back({"usr/lib/sysimage/dpkg/info/" + name + ".md5sums", 100});
    in.packages.push_back(std::move(p));
  }
  void file(const std::string& path, uint64_t size) { in.items.push_back({path, size}); }
  Tree() {
    in.dpkg_dir = "usr/lib/sysimage/dpkg";
    file("usr/lib/sysimage/dpkg/status", 5000);
    file("usr/lib/sysimage/dpkg/info/format", 2);
  }
};

// The group holding `path`, by label.
std::string group_of(const std::vector<Group>& gs, const PlanInput& in, const std::string& path) {
  for (auto& g : gs)
    for (size_t i : g.items)
      if (in.items[i].path == path) return g.label;
  return "";
}

Tree base_tree() {
  Tree t;
  t.pkg("libc6", "glibc", {{"usr/lib/x86_64-linux-gnu/libc.so.6", 2 * kMiB}, {"usr/lib/x86_64-linux-gnu/libm.so.6", kMiB}});
  t.pkg("libc-bin", "glibc", {{"usr/bin/ldd", 5000}, {"usr/sbin/ldconfig", 900000}});
  t.pkg("bash", "bash", {{"usr/bin/bash", 1300000}});
  t.pkg("linux-image-6.1.0-13-amd64", "linux-signed-amd64", {{"usr/lib/modules/6.1/kernel/a.ko", 50 * kMiB}});
  for (int i = 0; i < 40; i++)
    t.pkg("small" + std::to_string(i), "small-src" + std::to_string(i % 30),
          {{"usr/share/small" + std::to_string(i) + "/f", 1000u + static_cast<uint64_t>(i)}});
  t.file("usr/lib/modules/6.1/vmlinuz", 8 * kMiB);
  t.file("usr/lib/modules/6.1/initramfs.img", 39 * kMiB);
  t.file("usr/bin/hull", 3 * kMiB);
  t.file("etc/alternatives/editor", 0);
  t.file("etc/ld.so.cache", 20000);
  t.file("etc/machine-id", 0);
  t.file("var/cache/ldconfig/aux-cache", 7000);
  t.file("var/log/dpkg.log", 100000);
  t.file("usr/lib/os-release", 300);
  return t;
}

TEST(PlanGroups, EveryItemInExactlyOneGroupWithinTheLayerLimit) {
  for (int max : {2, 3, 4, 8, 64, 200}) {
    Tree t = base_tree();
    t.in.max_layers = max;
    auto gs = plan_groups(t.in);
    EXPECT_LE(gs.size(), static_cast<size_t>(std::max(2, max))) << max;
    std::vector<int> seen(t.in.items.size(), 0);
    for (auto& g : gs) {
      EXPECT_FALSE(g.items.empty());
      for (size_t i : g.items) seen[i]++;
      for (size_t k = 1; k < g.items.size(); k++) EXPECT_LT(t.in.items[g.items[k - 1]].path, t.in.items[g.items[k]].path);
    }
    for (size_t i = 0; i < seen.size(); i++) EXPECT_EQ(seen[i], 1) << t.in.items[i].path << " max " << max;
    EXPECT_EQ(gs.back().kind, Group::kMetadata) << max;
  }
}

TEST(PlanGroups, BigSourcesGetTheirOwnLayerWithTheirSmallSiblings) {
  Tree t = base_tree();
  auto gs = plan_groups(t.in);
  EXPECT_EQ(group_of(gs, t.in, "usr/lib/x86_64-linux-gnu/libc.so.6"), "packages libc-bin libc6");
  EXPECT_EQ(group_of(gs, t.in, "usr/sbin/ldconfig"), "packages libc-bin libc6");
  // The package's own info files travel with it.
  EXPECT_EQ(group_of(gs, t.in, "usr/lib/sysimage/dpkg/info/libc6.md5sums"), "packages libc-bin libc6");
  EXPECT_EQ(group_of(gs, t.in, "usr/bin/bash"), "packages bash");
  EXPECT_EQ(group_of(gs, t.in, "usr/lib/modules/6.1/kernel/a.ko"), "packages linux-image-6.1.0-13-amd64");
  // Small ones are in buckets.
  std::string s0 = group_of(gs, t.in, "usr/share/small0/f");
  EXPECT_TRUE(s0.starts_with("small packages")) << s0;
}

TEST(PlanGroups, UnownedByDirectoryAndVolatileInTheMetadataLayer) {
  Tree t = base_tree();
  auto gs = plan_groups(t.in);
  const std::string meta = "dpkg database and files that change with every build";
  for (const char* p : {"usr/lib/sysimage/dpkg/status", "usr/lib/sysimage/dpkg/info/format", "etc/ld.so.cache",
                        "etc/machine-id", "var/cache/ldconfig/aux-cache", "var/log/dpkg.log", "usr/lib/os-release"})
    EXPECT_EQ(group_of(gs, t.in, p), meta) << p;
  EXPECT_EQ(group_of(gs, t.in, "usr/lib/modules/6.1/initramfs.img"), "files in /usr/lib/modules");
  EXPECT_EQ(group_of(gs, t.in, "usr/lib/modules/6.1/vmlinuz"), "files in /usr/lib/modules");
  EXPECT_EQ(group_of(gs, t.in, "usr/bin/hull"), "files in /usr/bin");
  EXPECT_EQ(group_of(gs, t.in, "etc/alternatives/editor"), "files in /etc");
}

// The property rechunking is for: a change to one package moves only its
// own group (and the metadata); adding one moves only the bucket it lands in.
TEST(PlanGroups, OnePackageChangedMovesOnlyItsGroup) {
  auto labels_and_items = [](const Tree& t) {
    std::map<std::string, std::set<std::string>> m;
    for (auto& g : plan_groups(t.in))
      for (size_t i : g.items) m[g.label].insert(t.in.items[i].path + "#" + std::to_string(t.in.items[i].size));
    return m;
  };
  Tree a = base_tree();
  auto ga = labels_and_items(a);

  Tree b = base_tree();  // bash upgraded: a bigger binary
  for (auto& it : b.in.items)
    if (it.path == "usr/bin/bash") it.size += 4096;
  auto gb = labels_and_items(b);
  ASSERT_EQ(ga.size(), gb.size());
  int changed = 0;
  for (auto& [label, items] : ga) {
    ASSERT_TRUE(gb.count(label)) << label;
    if (gb[label] != items) {
      changed++;
      EXPECT_EQ(label, "packages bash");
    }
  }
  EXPECT_EQ(changed, 1);

  Tree c = base_tree();  // one small package more
  c.pkg("newpkg", "newpkg-src", {{"usr/share/newpkg/f", 500}});
  auto gc = labels_and_items(c);
  int moved = 0;
  for (auto& [label, items] : ga)
    if (!gc.count(label) || gc[label] != items) moved++;
  EXPECT_EQ(moved, 1);  // the bucket newpkg joined (its label names it now)
}

TEST(PlanGroups, PathListedTwiceGoesToTheFirstPackageByName) {
  Tree t;
  t.pkg("zeta", "zeta", {{"usr/bin/tool", 10}});
  t.pkg("alpha", "alpha", {});
  t.in.packages.back().paths.push_back("usr/bin/tool");  // a diversion: both list it
  auto gs = plan_groups(t.in);
  std::string g = group_of(gs, t.in, "usr/bin/tool");
  EXPECT_NE(g.find("alpha"), std::string::npos) << g;
  EXPECT_EQ(g.find("zeta"), std::string::npos) << g;
}

TEST(PlanGroups, BigUnownedDirectoriesKeepASlotWhenTheOthersAreHashed) {
  Tree t = base_tree();
  for (int i = 0; i < 30; i++) t.file("d" + std::to_string(i) + "/f", 10);  // 30 more directories
  t.in.max_layers = 64;  // 7 unowned slots: 3 hashed, 4 for the biggest
  auto gs = plan_groups(t.in);
  EXPECT_EQ(group_of(gs, t.in, "usr/lib/modules/6.1/initramfs.img"), "files in /usr/lib/modules");
  EXPECT_EQ(group_of(gs, t.in, "usr/bin/hull"), "files in /usr/bin");
  int unowned = 0;
  for (auto& g : gs) unowned += g.kind == Group::kUnowned;
  EXPECT_LE(unowned, 7);
}

TEST(PlanGroups, WithoutPackagesUnownedDirectoriesUseTheBudget) {
  PlanInput in;
  for (const char* p : {"usr/bin/a", "usr/lib/b", "etc/c", "opt/d", "srv/e"}) in.items.push_back({p, 10});
  auto gs = plan_groups(in);
  EXPECT_EQ(gs.size(), 5u);
  in.max_layers = 3;  // two slots for five directories: hashed
  gs = plan_groups(in);
  EXPECT_LE(gs.size(), 2u);
  EXPECT_EQ(plan_groups(in).size(), gs.size());
}

TEST(CanonicalPath, ResolvesSymlinkedDirectoriesOnly) {
  std::map<std::string, std::string> links = {
      {"bin", "usr/bin"}, {"lib", "usr/lib"}, {"lib64", "/usr/lib64"}, {"var/lib/dpkg", "../../usr/lib/sysimage/dpkg"},
      {"usr/bin/vi", "/etc/alternatives/vi"}, {"loop", "loop"}};
  EXPECT_EQ(canonical_path("/bin/bash", links), "usr/bin/bash");
  EXPECT_EQ(canonical_path("lib64/ld-linux-x86-64.so.2", links), "usr/lib64/ld-linux-x86-64.so.2");
  EXPECT_EQ(canonical_path("var/lib/dpkg/status", links), "usr/lib/sysimage/dpkg/status");
  EXPECT_EQ(canonical_path("/usr/bin/vi", links), "usr/bin/vi");  // the last component stays
  EXPECT_EQ(canonical_path("/../../etc/x", links), "etc/x");
  EXPECT_EQ(canonical_path("loop/x", links), "loop/x");  // stops
  EXPECT_EQ(canonical_path("/bin", links), "bin");
}

TEST(ParseStatus, FieldsAndContinuations) {
  auto e = parse_status(
      "Package: libc6\nStatus: install ok installed\nPriority: optional\nInstalled-Size: 12980\n"
      "Architecture: amd64\nSource: glibc (2.36-9+deb12u4)\nDescription: GNU C Library\n multi-line\n .\n\n"
      "Package: bash\nPriority: required\nInstalled-Size: 7000\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].package, "libc6");
  EXPECT_EQ(e[0].source, "glibc");
  EXPECT_EQ(e[0].installed_size_kib, 12980u);
  EXPECT_EQ(e[0].architecture, "amd64");
  EXPECT_EQ(e[1].source, "bash");
  EXPECT_EQ(e[1].priority, "required");
  EXPECT_THROW(parse_status("Status: install ok installed\n\n"), Error);
}

TEST(StableHash, KnownValues) {
  EXPECT_EQ(stable_hash(""), 14695981039346656037ull);
  EXPECT_EQ(stable_hash("a"), 0xaf63dc4c8601ec8cull);
}

}  // namespace
}  // namespace hull::rechunk
