#include "layer/reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>

#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/hash.h"

namespace hull::layer {
namespace {

using oci::Compression;

// ---- building layers ---------------------------------------------------------

// Metadata of an entry written by TarBuilder.
struct Meta {
  uint32_t mode = 0644;
  int64_t uid = 0;
  int64_t gid = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

// A tar stream written by libarchive's pax writer, optionally compressed.
class TarBuilder {
 public:
  explicit TarBuilder(Compression c = Compression::kNone) {
    a_ = archive_write_new();
    archive_write_set_format_pax(a_);
    if (c == Compression::kGzip) archive_write_add_filter_gzip(a_);
    if (c == Compression::kZstd) archive_write_add_filter_zstd(a_);
    archive_write_set_bytes_in_last_block(a_, 1);
    archive_write_open(a_, &out_, nullptr, &TarBuilder::write_cb, nullptr);
  }
  ~TarBuilder() {
    if (a_ != nullptr) archive_write_free(a_);
  }

  TarBuilder& file(const std::string& path, std::string_view data, Meta m = {}) {
    return add(path, AE_IFREG, m, data, nullptr, nullptr);
  }
  TarBuilder& dir(const std::string& path, uint32_t mode = 0755) {
    return add(path, AE_IFDIR, {.mode = mode}, {}, nullptr, nullptr);
  }
  TarBuilder& symlink(const std::string& path, const std::string& target) {
    return add(path, AE_IFLNK, {.mode = 0777}, {}, target.c_str(), nullptr);
  }
  TarBuilder& hardlink(const std::string& path, const std::string& target) {
    return add(path, AE_IFREG, {}, {}, nullptr, target.c_str());
  }
  TarBuilder& special(const std::string& path, unsigned type) { return add(path, type, {}, {}, nullptr, nullptr); }
  // A sparse file of `size` bytes whose only data is `data` at `offset`.
  TarBuilder& sparse(const std::string& path, uint64_t size, uint64_t offset, std::string_view data) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(size));
    archive_entry_sparse_add_entry(e, static_cast<la_int64_t>(offset), static_cast<la_int64_t>(data.size()));
    EXPECT_EQ(archive_write_header(a_, e), ARCHIVE_OK) << archive_error_string(a_);
    std::string full(size, '\0');
    std::memcpy(full.data() + offset, data.data(), data.size());
    archive_write_data(a_, full.data(), full.size());
    archive_entry_free(e);
    return *this;
  }

  std::string finish() {
    EXPECT_EQ(archive_write_close(a_), ARCHIVE_OK) << archive_error_string(a_);
    archive_write_free(a_);
    a_ = nullptr;
    return std::move(out_);
  }

 private:
  static la_ssize_t write_cb(archive*, void* out, const void* buf, size_t n) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }

  TarBuilder& add(const std::string& path, unsigned type, const Meta& m, std::string_view data, const char* symlink,
                  const char* hardlink) {
    // The writer converts names from the locale's charset to UTF-8.
    static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
    locale_t prev = uselocale(utf8);
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, m.mode);
    archive_entry_set_uid(e, m.uid);
    archive_entry_set_gid(e, m.gid);
    archive_entry_set_mtime(e, 1700000000, 5);
    if (symlink != nullptr) archive_entry_set_symlink(e, symlink);
    if (hardlink != nullptr) archive_entry_set_hardlink(e, hardlink);
    for (const auto& [k, v] : m.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    EXPECT_EQ(archive_write_header(a_, e), ARCHIVE_OK) << path << ": " << archive_error_string(a_);
    if (!data.empty()) archive_write_data(a_, data.data(), data.size());
    archive_entry_free(e);
    uselocale(prev);
    return *this;
  }

  archive* a_ = nullptr;
  std::string out_;
};

// Recomputes the checksum of the ustar header at the start of `h`.
void fix_checksum(std::string& h) {
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(h[i]);
  std::snprintf(&h[148], 8, "%06o", sum);
  h[155] = ' ';
}

// Hand-made ustar records, for names and types libarchive's writer refuses.
std::string ustar(std::string_view name, char type, std::string_view data = {}, std::string_view link = {}) {
  std::string h(512, '\0');
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 100));
  std::snprintf(&h[100], 8, "%07o", 0644);
  std::snprintf(&h[108], 8, "%07o", 0);
  std::snprintf(&h[116], 8, "%07o", 0);
  std::snprintf(&h[124], 12, "%011zo", data.size());
  std::snprintf(&h[136], 12, "%011o", 1700000000);
  h[156] = type;
  std::memcpy(&h[157], link.data(), std::min<size_t>(link.size(), 100));
  std::memcpy(&h[257], "ustar", 6);
  std::memcpy(&h[263], "00", 2);
  fix_checksum(h);
  std::string padded(data);
  padded.resize((data.size() + 511) / 512 * 512, '\0');
  return h + padded;
}

std::string ustar_end() { return std::string(1024, '\0'); }

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// ---- reading them ------------------------------------------------------------

struct Seen {
  Entry entry;
  std::string content;
};

struct Result {
  std::vector<Seen> entries;
  Summary summary;
  const Seen* find(std::string_view path, EntryType type) const {
    for (const auto& s : entries)
      if (s.entry.path == path && s.entry.type == type) return &s;
    return nullptr;
  }
};

Result read_bytes(const std::string& bytes, const Options& opts = {}) {
  TempDir dir("layer-test");
  std::string path = dir.path() + "/layer";
  write_file_atomic(path, bytes);
  Result r;
  r.summary = read_layer_file(path, opts, [&](const Entry& e, Content& c) {
    Seen s{e, {}};
    for (auto piece = c.next(); !piece.empty(); piece = c.next())
      s.content.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    EXPECT_EQ(c.remaining(), 0u);
    r.entries.push_back(std::move(s));
  });
  return r;
}

// The message of the Error reading `bytes` throws; fails the test if none.
std::string read_error(const std::string& bytes, const Options& opts = {}) {
  try {
    read_bytes(bytes, opts);
  } catch (const Error& e) {
    return e.message();
  }
  ADD_FAILURE() << "no error";
  return {};
}

#define EXPECT_CONTAINS(hay, needle) EXPECT_NE((hay).find(needle), std::string::npos) << (hay)

// ---- a well-formed layer, in every compression -------------------------------

std::string build_rootfs(Compression c) {
  std::string big = random_bytes(3u << 20, 1);  // spans many blocks
  std::string cap("\x01\x00\x00\x02\x00\x20\x00\x00", 8);
  std::string long_name = "usr/share/" + std::string(200, 'l') + "/" + std::string(250, 'm');
  return TarBuilder(c)
      .dir("./")
      .dir("./usr/")
      .dir("./usr/bin/")
      .file("./usr/bin/su", "su-binary", {.mode = 04755})
      .file("./usr/bin/wall", "wall", {.mode = 02755, .uid = 0, .gid = 5})
      .dir("./tmp/", 01777)
      .file("./home/user/f", "owned", {.mode = 0600, .uid = 1000, .gid = 1001})
      .file("./usr/bin/ping", "ping",
            {.mode = 0755, .xattrs = {{"security.capability", cap}, {"user.note", "hi"}}})
      .file("./big", big)
      .file("./empty", "")
      .symlink("./usr/bin/sh", "dash")
      .symlink("./bin", "usr/bin")
      .symlink("./etc/alternatives/x", "/usr/bin/x")
      .symlink("./usr/lib/libz.so", "../../lib/libz.so.1")
      .hardlink("./usr/bin/su2", "./usr/bin/su")
      .hardlink("./usr/bin/su3", "/usr/bin/su2")
      .file("./etc/.wh.removed", "")
      .file("./etc/.wh..wh..opq", "")
      .file("./.wh.gone", "")
      .file("./.wh..wh.aufs", "")
      .dir("./.wh..wh.plnk/")
      .file("./.wh..wh.plnk/123.456", "x")
      .file(long_name, "long")
      .file("./dir/na\xc3\xafve-\xc3\xbc.txt", "utf8")
      .finish();
}

class RoundTrip : public testing::TestWithParam<Compression> {};

TEST_P(RoundTrip, EverythingSurvives) {
  Result r = read_bytes(build_rootfs(GetParam()), {.compression = GetParam()});
  EXPECT_EQ(r.summary.compression, GetParam());

  const Seen* root = r.find("", EntryType::kDirectory);
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(r.entries.front().entry.path, "");

  const Seen* su = r.find("usr/bin/su", EntryType::kRegular);
  ASSERT_NE(su, nullptr);
  EXPECT_EQ(su->entry.mode, 04755u);
  EXPECT_EQ(su->content, "su-binary");
  EXPECT_EQ(su->entry.size, 9u);
  EXPECT_EQ(su->entry.mtime, 1700000000);
  EXPECT_EQ(su->entry.mtime_nsec, 5u);

  EXPECT_EQ(r.find("usr/bin/wall", EntryType::kRegular)->entry.mode, 02755u);
  EXPECT_EQ(r.find("usr/bin/wall", EntryType::kRegular)->entry.gid, 5u);
  EXPECT_EQ(r.find("tmp", EntryType::kDirectory)->entry.mode, 01777u);
  const Seen* owned = r.find("home/user/f", EntryType::kRegular);
  EXPECT_EQ(owned->entry.uid, 1000u);
  EXPECT_EQ(owned->entry.gid, 1001u);
  EXPECT_EQ(owned->entry.mode, 0600u);

  const Seen* ping = r.find("usr/bin/ping", EntryType::kRegular);
  ASSERT_EQ(ping->entry.xattrs.size(), 2u);  // SCHILY and LIBARCHIVE copies merged
  EXPECT_EQ(ping->entry.xattrs[0].first, "security.capability");
  EXPECT_EQ(ping->entry.xattrs[0].second, std::string("\x01\x00\x00\x02\x00\x20\x00\x00", 8));
  EXPECT_EQ(ping->entry.xattrs[1], (std::pair<std::string, std::string>{"user.note", "hi"}));

  const Seen* big = r.find("big", EntryType::kRegular);
  EXPECT_EQ(big->entry.size, 3u << 20);
  EXPECT_EQ(sha256_hex(big->content), sha256_hex(random_bytes(3u << 20, 1)));
  EXPECT_EQ(r.find("empty", EntryType::kRegular)->content, "");

  EXPECT_EQ(r.find("usr/bin/sh", EntryType::kSymlink)->entry.link_target, "dash");
  EXPECT_EQ(r.find("bin", EntryType::kSymlink)->entry.link_target, "usr/bin");
  EXPECT_EQ(r.find("etc/alternatives/x", EntryType::kSymlink)->entry.link_target, "/usr/bin/x");
  EXPECT_EQ(r.find("usr/lib/libz.so", EntryType::kSymlink)->entry.link_target, "../../lib/libz.so.1");

  const Seen* su2 = r.find("usr/bin/su2", EntryType::kHardlink);
  ASSERT_NE(su2, nullptr);
  EXPECT_EQ(su2->entry.link_target, "usr/bin/su");
  EXPECT_EQ(su2->content, "");
  EXPECT_EQ(r.find("usr/bin/su3", EntryType::kHardlink)->entry.link_target, "usr/bin/su2");

  EXPECT_NE(r.find("etc/removed", EntryType::kWhiteout), nullptr);
  EXPECT_NE(r.find("etc", EntryType::kOpaque), nullptr);
  EXPECT_NE(r.find("gone", EntryType::kWhiteout), nullptr);
  for (const auto& s : r.entries) EXPECT_EQ(s.entry.path.find(".wh."), std::string::npos) << s.entry.path;
  EXPECT_EQ(r.summary.dropped, 3u);  // the AUFS bookkeeping

  std::string long_name = "usr/share/" + std::string(200, 'l') + "/" + std::string(250, 'm');
  EXPECT_EQ(r.find(long_name, EntryType::kRegular)->content, "long");
  EXPECT_EQ(r.find("dir/na\xc3\xafve-\xc3\xbc.txt", EntryType::kRegular)->content, "utf8");

  EXPECT_EQ(r.summary.entries, r.entries.size());
  EXPECT_EQ(r.summary.content_bytes, (3u << 20) + 9 + 4 + 5 + 4 + 4 + 4);
}

TEST_P(RoundTrip, DiffIdIsTheUncompressedDigest) {
  std::string plain = build_rootfs(Compression::kNone);
  Result r = read_bytes(build_rootfs(GetParam()));
  EXPECT_EQ(r.summary.compression, GetParam());  // detected
  EXPECT_EQ(r.summary.diff_id, "sha256:" + sha256_hex(plain));
  EXPECT_EQ(r.summary.tar_bytes, plain.size());
}

INSTANTIATE_TEST_SUITE_P(Compressions, RoundTrip,
                         testing::Values(Compression::kNone, Compression::kGzip, Compression::kZstd),
                         [](const auto& info) {
                           switch (info.param) {
                             case Compression::kNone: return std::string("plain");
                             case Compression::kGzip: return std::string("gzip");
                             case Compression::kZstd: return std::string("zstd");
                           }
                           return std::string("x");
                         });

// ---- behaviour --------------------------------------------------------------

TEST(Reader, PartialReadsAndSmallCopies) {
  std::string a = random_bytes(200000, 2), b = random_bytes(70000, 3);
  std::string layer = TarBuilder(Compression::kGzip).file("a", a).file("b", b).file("c", "cc").finish();
  std::vector<std::string> got;
  read_layer_file(
      [&] {
        static TempDir dir("layer-test");
        write_file_atomic(dir.path() + "/l", layer);
        return dir.path() + "/l";
      }(),
      {}, [&](const Entry& e, Content& c) {
        std::string s;
        char buf[1000];
        if (e.path == "a") {  // read only a little; the reader skips the rest
          s.resize(c.read(buf, 10));
          std::memcpy(s.data(), buf, s.size());
          EXPECT_EQ(c.remaining(), 200000u - 10);
        } else {
          for (size_t n; (n = c.read(buf, sizeof buf)) > 0;) s.append(buf, n);
        }
        got.push_back(s);
      });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], a.substr(0, 10));
  EXPECT_EQ(got[1], b);
  EXPECT_EQ(got[2], "cc");
}

TEST(Reader, SparseHolesReadAsZeros) {
  std::string layer = TarBuilder().sparse("s", 3u << 20, 1u << 20, "data").file("after", "x").finish();
  Result r = read_bytes(layer);
  const Seen* s = r.find("s", EntryType::kRegular);
  ASSERT_NE(s, nullptr);
  std::string want(3u << 20, '\0');
  std::memcpy(want.data() + (1u << 20), "data", 4);
  EXPECT_EQ(s->content.size(), want.size());
  EXPECT_TRUE(s->content == want);
  EXPECT_EQ(r.find("after", EntryType::kRegular)->content, "x");
}

TEST(Reader, DuplicatesArePassedInOrder) {
  Result r = read_bytes(TarBuilder().file("x", "1").file("x", "2").finish());
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].content, "1");
  EXPECT_EQ(r.entries[1].content, "2");
}

TEST(Reader, AbsoluteNamesAreMadeRelative) {
  Result r = read_bytes(TarBuilder().file("/etc/hostname", "h").hardlink("/etc/h2", "/etc/hostname").finish());
  EXPECT_EQ(r.find("etc/hostname", EntryType::kRegular)->content, "h");
  EXPECT_EQ(r.find("etc/h2", EntryType::kHardlink)->entry.link_target, "etc/hostname");
}

TEST(Reader, RootWhiteoutsAndOpaqueRoot) {
  Result r = read_bytes(TarBuilder().file(".wh..wh..opq", "").file("a/b/.wh.c", "").finish());
  EXPECT_NE(r.find("", EntryType::kOpaque), nullptr);
  EXPECT_NE(r.find("a/b/c", EntryType::kWhiteout), nullptr);
}

TEST(Reader, DropTopLevel) {
  std::string layer = TarBuilder()
                          .dir("dev")
                          .special("dev/null", AE_IFCHR)
                          .special("./dev/sda", AE_IFBLK)
                          .file("proc/x", "")
                          .file(".wh.run", "")
                          .file("devices/x", "kept")
                          .finish();
  Result r = read_bytes(layer, {.drop_top_level = {"dev", "proc", "run"}});
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].entry.path, "devices/x");
  EXPECT_EQ(r.summary.dropped, 5u);
}

TEST(Reader, EscapingSymlinkAllowedOnRequest) {
  std::string layer = TarBuilder().symlink("a/b", "../../../etc/shadow").finish();
  Result r = read_bytes(layer, {.allow_escaping_symlinks = true});
  EXPECT_EQ(r.find("a/b", EntryType::kSymlink)->entry.link_target, "../../../etc/shadow");
}

TEST(Reader, EmptyLayer) {
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    Result r = read_bytes(TarBuilder(c).finish());
    EXPECT_TRUE(r.entries.empty());
    EXPECT_EQ(r.summary.compression, c);
  }
}

TEST(Reader, VisitorErrorsPropagateUnchanged) {
  try {
    read_layer_file(
        [] {
          static TempDir dir("layer-test");
          write_file_atomic(dir.path() + "/l", TarBuilder().file("a", "1").finish());
          return dir.path() + "/l";
        }(),
        {}, [](const Entry&, Content&) { fail("disk full"); });
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "disk full");
  }
}

// ---- hostile layers -----------------------------------------------------------

struct Hostile {
  const char* name;
  std::string layer;
  std::vector<std::string> want;  // substrings of the message
  Options opts = {};
};

std::vector<Hostile> hostile_cases() {
  std::string long_comp(300, 'c');
  std::string long_path;
  while (long_path.size() <= 4100) long_path += std::string(100, 'p') + "/";
  long_path += "f";
  return {
      {"dotdot", TarBuilder().file("../etc/passwd", "root::0:0").finish(), {"\"../etc/passwd\"", "\"..\""}},
      {"dotdot_inner", TarBuilder().file("a/../../b", "").finish(), {"\"a/../../b\"", "\"..\""}},
      {"dotdot_inside", TarBuilder().file("a/../b", "").finish(), {"\"a/../b\""}},
      {"dotdot_dir", TarBuilder().dir("./..").finish(), {"\"./..", "\"..\" component"}},
      {"hardlink_escape",
       TarBuilder().file("x", "").hardlink("a/h", "../../x").finish(),
       {"\"a/h\"", "hardlink target", "\"../../x\""}},
      {"hardlink_unseen",
       TarBuilder().hardlink("h", "later").file("later", "").finish(),
       {"\"h\"", "\"later\"", "not an earlier file"}},
      {"hardlink_to_dir", TarBuilder().dir("d").hardlink("h", "d").finish(), {"\"h\"", "\"d\""}},
      {"hardlink_to_self", TarBuilder().file("x", "").hardlink("x", "x").finish(), {"\"x\"", "itself"}},
      {"hardlink_to_whiteout",
       TarBuilder().file("x", "").file(".wh.x", "").hardlink("h", "x").finish(),
       {"\"h\"", "\"x\""}},
      {"hardlink_to_root", TarBuilder().hardlink("h", "./").finish(), {"\"h\"", "root"}},
      {"char_device", TarBuilder().special("evil/console", AE_IFCHR).finish(), {"\"evil/console\"", "character device"}},
      {"block_device", TarBuilder().special("evil/sda", AE_IFBLK).finish(), {"\"evil/sda\"", "block device"}},
      {"fifo", TarBuilder().special("evil/fifo", AE_IFIFO).finish(), {"\"evil/fifo\"", "FIFO"}},
      {"symlink_escape",
       TarBuilder().symlink("a/b", "../../../etc/shadow").finish(),
       {"\"a/b\"", "\"../../../etc/shadow\"", "escapes"}},
      {"symlink_escape_absolute", TarBuilder().symlink("x", "/../../etc").finish(), {"\"x\"", "escapes"}},
      {"long_component",
       TarBuilder().file("a/" + long_comp, "").finish(),
       {"\"a/" + long_comp.substr(0, 46) + "\u2026", "(302 bytes): a component is 300 bytes (limit 255)"}},
      {"long_path", TarBuilder().file(long_path, "").finish(),
       {"\"" + long_path.substr(0, 48) + "\u2026", "(4142 bytes): path longer than 4095"}},
      {"uid_range", TarBuilder().file("u", "", {.uid = 1ll << 33}).finish(), {"\"u\"", "uid 8589934592"}},
      {"gid_negative",
       [] {
         std::string h = ustar("g", '0');
         std::memcpy(&h[116], "\xff\xff\xff\xff\xff\xff\xff\xfb", 8);  // base-256 -5
         fix_checksum(h);
         return h + ustar_end();
       }(),
       {"\"g\"", "gid -5"}},
      {"whiteout_dotdot", TarBuilder().file("a/.wh...", "").finish(), {"\"a/.wh...\"", "whiteout"}},
      {"whiteout_empty", TarBuilder().file("a/.wh.", "").finish(), {"\"a/.wh.\"", "whiteout"}},
      {"whiteout_dir_component", TarBuilder().file(".wh.a/b", "").finish(), {"\".wh.a/b\"", "last component"}},
      {"too_many", TarBuilder().file("1", "").file("2", "").file("3", "").finish(), {"more than 2 entries"},
       {.max_entries = 2}},
      {"empty_name", ustar("", '0') + ustar_end(), {"\"\"", "empty name"}},
      {"nul_name", ustar(std::string_view("\0etc/passwd", 11), '0') + ustar_end(), {"\"\"", "empty name"}},
      {"root_is_file", ustar(".", '0', "x") + ustar_end(), {"\".\"", "root must be a directory"}},
      {"symlink_empty_target", ustar("s", '2') + ustar_end(), {"\"s\"", "empty target"}},
      {"fifo_ustar", ustar("p", '6') + ustar_end(), {"\"p\"", "FIFO"}},
      {"declared_gzip_is_plain",
       TarBuilder().file("a", "").finish(),
       {"declared gzip", "uncompressed"},
       {.compression = Compression::kGzip}},
      {"declared_plain_is_zstd",
       TarBuilder(Compression::kZstd).file("a", "").finish(),
       {"declared uncompressed", "zstd"},
       {.compression = Compression::kNone}},
      {"garbage", random_bytes(10000, 4), {"not a tar stream"}},
      {"zero_bytes", "", {"reading the layer"}},
      {"gzip_of_gzip",
       [] {
         std::string inner = TarBuilder(Compression::kGzip).file("a", "").finish();
         std::string out;
         archive* w = archive_write_new();
         archive_write_set_format_raw(w);
         archive_write_add_filter_gzip(w);
         archive_write_open(
             w, &out, nullptr,
             [](archive*, void* o, const void* b, size_t n) -> la_ssize_t {
               static_cast<std::string*>(o)->append(static_cast<const char*>(b), n);
               return static_cast<la_ssize_t>(n);
             },
             nullptr);
         archive_entry* e = archive_entry_new();
         archive_entry_set_filetype(e, AE_IFREG);
         archive_entry_set_pathname(e, "x");
         archive_write_header(w, e);
         archive_write_data(w, inner.data(), inner.size());
         archive_entry_free(e);
         archive_write_close(w);
         archive_write_free(w);
         return out;
       }(),
       {"nested compression"}},
  };
}

class HostileLayer : public testing::TestWithParam<Hostile> {};

TEST_P(HostileLayer, IsRefusedNamingWhy) {
  const Hostile& h = GetParam();
  std::string msg = read_error(h.layer, h.opts);
  for (const auto& w : h.want) EXPECT_CONTAINS(msg, w);
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 300u) << msg;  // long names are shortened
}

INSTANTIATE_TEST_SUITE_P(Cases, HostileLayer, testing::ValuesIn(hostile_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// A stream cut short is an error wherever the cut is: inside a file's data,
// between entries, in the tar's zero padding, or in the compressor's trailer.
class Truncated : public testing::TestWithParam<Compression> {};

TEST_P(Truncated, AnywhereIsAnError) {
  std::string big = random_bytes(1u << 20, 5);
  std::string layer = TarBuilder(GetParam()).file("first", "1").file("big/file", big).finish();
  for (size_t cut : {layer.size() / 2, layer.size() - 4, layer.size() - 1}) {
    std::string msg = read_error(layer.substr(0, cut));
    if (cut == layer.size() / 2) {
      EXPECT_CONTAINS(msg, "\"big/file\"");
    }
    EXPECT_FALSE(msg.empty()) << cut;
  }
}

// A small layer is decompressed in one go and the tar reader stops at its
// end marker: only reading on to the end of the stream finds the cut.
TEST_P(Truncated, InTheTrailer) {
  std::string layer = TarBuilder(GetParam()).file("a", "1").finish();
  for (size_t cut : {layer.size() - 1, layer.size() - 4, layer.size() - 8}) {
    EXPECT_FALSE(read_error(layer.substr(0, cut)).empty()) << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(Compressed, Truncated, testing::Values(Compression::kGzip, Compression::kZstd));

TEST(Truncated, PlainInsideAFile) {
  std::string layer = TarBuilder().file("first", "1").file("big/file", random_bytes(100000, 6)).finish();
  EXPECT_CONTAINS(read_error(layer.substr(0, 40000)), "\"big/file\"");
}

TEST(Corrupt, DamagedHeaderNamesThePreviousEntry) {
  std::string layer = ustar("first", '0', "abc") + ustar("second", '0', "def") + ustar_end();
  layer[512 * 2 + 10] ^= 0x55;  // second header, checksum now wrong
  EXPECT_CONTAINS(read_error(layer), "after \"first\"");
}

// libarchive 3.6 does not check the gzip CRC-32, and a zstd frame has a
// checksum only if its writer asked for one: flipped bytes inside a stored
// (incompressible) block decompress "fine". The diff_id is what catches
// it, which is why the store must compare it with the config's.
TEST(Corrupt, FlippedCompressedBytesChangeTheDiffId) {
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    std::string layer = TarBuilder(c).file("a", random_bytes(100000, 7)).finish();
    std::string want = read_bytes(layer).summary.diff_id;
    for (size_t i = layer.size() / 2; i < layer.size() / 2 + 64; ++i) layer[i] = static_cast<char>(~layer[i]);
    try {
      EXPECT_NE(read_bytes(layer).summary.diff_id, want);
    } catch (const Error& e) {
      SUCCEED() << e.message();
    }
  }
}

}  // namespace
}  // namespace hull::layer
