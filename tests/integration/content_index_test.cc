// The content index (store/content_index.h) on a real bare repository:
// filled by imports, kept across opens, rebuilt when damaged, kept true by
// prune, and cheap to search at 200k files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "store/content_index.h"
#include "store/ostree.h"
#include "store/store.h"
#include "support/images.h"
#include "integration/store_tree.h"
#include "util/file.h"
#include "util/hash.h"

namespace hull::test {
namespace {

struct Env {
  TempDir tmp{"hull-cindex-test"};
  std::string repo_path = tmp.path() + "/repo";
  std::string pull_tmp = tmp.path() + "/pull-tmp";
  store::Repo repo;
  Env() {
    make_dirs(pull_tmp);
    repo = store::create_repo(repo_path, OSTREE_REPO_MODE_BARE);
  }
  std::string index_file() const { return repo_path + "/" + store::ContentIndex::kPath; }
};

std::string image_with(Env& env, const std::string& tag, const std::string& content) {
  std::vector<TarEntry> files = fake_kernel_entries();
  files.push_back({.path = "usr/", .kind = TarEntry::kDir, .mode = 0755});
  files.push_back({.path = "usr/share/", .kind = TarEntry::kDir, .mode = 0755});
  files.push_back({.path = "usr/share/hull-data", .content = content});
  files.push_back({.path = "usr/share/hull-data-owned", .content = content, .mode = 0600, .uid = 7, .gid = 7});
  HandImage img;
  img.layers = {make_tar(files)};
  std::string layout = env.tmp.path() + "/layout";
  write_oci_layout(layout, tag, img);
  return "oci:" + layout + ":" + tag;
}

TEST(ContentIndex, ImportsFillItAndItSurvivesReopening) {
  Env env;
  pull(env.repo.get(), image_with(env, "1", "hello index\n"), env.pull_tmp);
  ASSERT_TRUE(path_exists(env.index_file()));
  store::ContentIndex index(env.repo.get());
  EXPECT_FALSE(index.rebuilt());
  auto obj = index.find(sha256_hex("hello index\n"));
  ASSERT_TRUE(obj.has_value());
  gboolean have = FALSE;
  ASSERT_TRUE(ostree_repo_has_object(env.repo.get(), OSTREE_OBJECT_TYPE_FILE, obj->c_str(), &have, nullptr, nullptr));
  EXPECT_TRUE(have);
  EXPECT_FALSE(index.find(sha256_hex("not in the repository\n")).has_value());
}

TEST(ContentIndex, DamagedOrOtherVersionFilesAreRebuiltFromTheObjects) {
  Env env;
  pull(env.repo.get(), image_with(env, "1", "rebuild me\n"), env.pull_tmp);
  size_t n = store::ContentIndex(env.repo.get()).size();
  ASSERT_GT(n, 0u);
  for (int damage = 0; damage < 3; damage++) {
    std::string bytes;
    {
      std::ifstream in(env.index_file(), std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    if (damage == 0) bytes[bytes.size() / 2] ^= 1;  // a flipped bit: the trailer no longer matches
    if (damage == 1) bytes[8] = 9;                  // another version
    if (damage == 2) bytes.resize(bytes.size() - 5);  // truncated
    write_file_atomic(env.index_file(), bytes);
    store::ContentIndex index(env.repo.get());
    EXPECT_TRUE(index.rebuilt()) << damage;
    EXPECT_GE(index.size(), n) << damage;  // every file object, whiteout marker included
    EXPECT_TRUE(index.find(sha256_hex("rebuild me\n")).has_value()) << damage;
  }
  ::unlink(env.index_file().c_str());
  store::ContentIndex index(env.repo.get());
  EXPECT_TRUE(index.rebuilt());
  EXPECT_TRUE(index.find(sha256_hex("rebuild me\n")).has_value());
}

TEST(ContentIndex, PruneDropsWhatItRemoved) {
  Env env;
  auto r1 = pull(env.repo.get(), image_with(env, "1", "version one\n"), env.pull_tmp);
  auto r2 = pull(env.repo.get(), image_with(env, "2", "version two\n"), env.pull_tmp);
  EXPECT_TRUE(store::ContentIndex(env.repo.get()).find(sha256_hex("version one\n")).has_value());
  store::prune(env.repo.get(), {r2.image.commit});
  store::ContentIndex index(env.repo.get());
  EXPECT_FALSE(index.rebuilt());
  EXPECT_FALSE(index.find(sha256_hex("version one\n")).has_value());
  EXPECT_TRUE(index.find(sha256_hex("version two\n")).has_value());
  // The file holds no record of a removed object.
  size_t before = index.size();
  index.drop_missing();
  EXPECT_EQ(index.size(), before);
}

// Not a threshold: prints what 200k records cost to write, open and search.
TEST(ContentIndex, TwoHundredThousandRecords) {
  Env env;
  // Real objects are needed for find() to answer; write 100 and point the
  // other records at them.
  std::vector<std::string> objects;
  {
    store::Transaction txn(env.repo.get());
    for (int i = 0; i < 100; i++) {
      std::string c = "object " + std::to_string(i);
      GStr csum(ostree_repo_write_regfile_inline(env.repo.get(), nullptr, 0, 0, S_IFREG | 0644, nullptr,
                                                 reinterpret_cast<const guint8*>(c.data()), c.size(), nullptr, nullptr));
      objects.push_back(csum.str());
    }
    txn.commit();
  }
  auto t0 = std::chrono::steady_clock::now();
  {
    store::ContentIndex index(env.repo.get());
    for (int i = 0; i < 200000; i++) index.add(sha256_hex("content " + std::to_string(i)), objects[i % 100]);
    index.save();
  }
  auto t1 = std::chrono::steady_clock::now();
  store::ContentIndex index(env.repo.get());
  auto t2 = std::chrono::steady_clock::now();
  int found = 0;
  for (int i = 0; i < 200000; i += 10) found += index.find(sha256_hex("content " + std::to_string(i))).has_value();
  auto t3 = std::chrono::steady_clock::now();
  EXPECT_EQ(found, 20000);
  EXPECT_FALSE(index.rebuilt());
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("200k records: add+save %.0f ms, open %.1f ms, 20k lookups %.0f ms (%.1f us each, incl. object check)\n",
              ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t2, t3) * 1000 / 20000);
}

}  // namespace
}  // namespace hull::test
