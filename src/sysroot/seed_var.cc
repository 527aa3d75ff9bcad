#include "sysroot/seed_var.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fd.h"
#include "util/glib.h"

namespace hull::sysroot {
namespace {

// Copies the tree `src` (a directory of a commit) into `dst`, keeping
// owners and modes, never overwriting what is there, never following links.
void copy_new_entries(GFile* src, const std::string& dst) {
  GErr err;
  GRef<GFileEnumerator> en(g_file_enumerate_children(src, "standard::*,unix::*", G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                                     nullptr, err.out()));
  if (!en) err.raise(fmt::format("reading {}", dst));
  for (;;) {
    GFileInfo* raw = g_file_enumerator_next_file(en.get(), nullptr, err.out());
    if (!raw) {
      if (err.get()) err.raise(fmt::format("reading {}", dst));
      break;
    }
    GRef<GFileInfo> info(raw);
    std::string name = g_file_info_get_name(raw);
    std::string out = dst + "/" + name;
    GRef<GFile> child(g_file_get_child(src, name.c_str()));
    uid_t uid = g_file_info_get_attribute_uint32(raw, "unix::uid");
    gid_t gid = g_file_info_get_attribute_uint32(raw, "unix::gid");
    mode_t mode = g_file_info_get_attribute_uint32(raw, "unix::mode") & 07777;
    struct stat st;
    bool exists = ::lstat(out.c_str(), &st) == 0;
    switch (g_file_info_get_file_type(raw)) {
      case G_FILE_TYPE_DIRECTORY:
        if (!exists) {
          if (::mkdir(out.c_str(), mode) != 0) fail_errno(fmt::format("creating {}", out));
          if (::lchown(out.c_str(), uid, gid) != 0 || ::chmod(out.c_str(), mode) != 0)
            fail_errno(fmt::format("setting the owner of {}", out));
        } else if (!S_ISDIR(st.st_mode)) {
          break;  // the machine has something else there: it wins
        }
        copy_new_entries(child.get(), out);
        break;
      case G_FILE_TYPE_SYMBOLIC_LINK:
        if (exists) break;
        if (::symlink(g_file_info_get_symlink_target(raw), out.c_str()) != 0 || ::lchown(out.c_str(), uid, gid) != 0)
          fail_errno(fmt::format("creating {}", out));
        break;
      case G_FILE_TYPE_REGULAR: {
        if (exists) break;
        GRef<GFileInputStream> in(g_file_read(child.get(), nullptr, err.out()));
        if (!in) err.raise(fmt::format("reading {} from the image", out));
        UniqueFd fd = open_file(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
        char buf[65536];
        for (;;) {
          gssize n = g_input_stream_read(G_INPUT_STREAM(in.get()), buf, sizeof buf, nullptr, err.out());
          if (n < 0) err.raise(fmt::format("reading {} from the image", out));
          if (n == 0) break;
          write_all(fd.get(), std::string_view(buf, static_cast<size_t>(n)), out);
        }
        if (::fchown(fd.get(), uid, gid) != 0 || ::fchmod(fd.get(), mode) != 0)
          fail_errno(fmt::format("setting the owner of {}", out));
        fd.close(out);
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace

void seed_var(OstreeRepo* repo, const std::string& commit, const std::string& root, const std::string& stateroot) {
  GRef<GFile> croot;
  GErr err;
  if (!ostree_repo_read_commit(repo, commit.c_str(), croot.out(), nullptr, nullptr, err.out()))
    err.raise("reading the image commit");
  GRef<GFile> cvar(g_file_resolve_relative_path(croot.get(), "var"));
  if (!g_file_query_exists(cvar.get(), nullptr)) return;
  with_context("copying the image's /var into the stateroot",
               [&] { copy_new_entries(cvar.get(), root + "/ostree/deploy/" + stateroot + "/var"); });
}

}  // namespace hull::sysroot
