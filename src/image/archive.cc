#include "image/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>

#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::image {
namespace {

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// A safe relative name: no absolute path, no "..", nothing empty.
std::string checked_name(const char* raw) {
  std::string name = raw ? raw : "";
  while (name.starts_with("./")) name.erase(0, 2);
  if (name.empty() || name == ".") return {};
  if (name.front() == '/') fail("entry \"{}\": absolute path", name);
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    if (name.compare(start, end - start, "..") == 0) fail("entry \"{}\": \"..\" component", name);
    start = end + 1;
  }
  return name;
}

}  // namespace

void extract_layout_archive(const std::string& archive_path, const std::string& dir) {
  with_context(fmt::format("reading oci-archive {}", archive_path), [&] {
    std::unique_ptr<archive, ReadFree> a(archive_read_new());
    archive_read_support_format_tar(a.get());
    archive_read_support_filter_none(a.get());
    if (archive_read_open_filename(a.get(), archive_path.c_str(), 1 << 20) != ARCHIVE_OK)
      fail("{}", archive_error_string(a.get()));
    archive_entry* e;
    std::vector<char> buf(1 << 20);
    for (;;) {
      int r = archive_read_next_header(a.get(), &e);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK) fail("{}", archive_error_string(a.get()));
      std::string name = checked_name(archive_entry_pathname(e));
      if (name.empty()) continue;
      std::string out = dir + "/" + name;
      auto type = archive_entry_filetype(e);
      if (type == AE_IFDIR) {
        make_dirs(out);
        continue;
      }
      if (type != AE_IFREG) fail("entry \"{}\": only files and directories belong in an OCI layout", name);
      make_dirs(std::filesystem::path(out).parent_path().string());
      UniqueFd fd = open_file(out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
      for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
        if (n < 0) fail("entry \"{}\": {}", name, archive_error_string(a.get()));
        if (n == 0) break;
        write_all(fd.get(), std::as_bytes(std::span(buf.data(), static_cast<size_t>(n))), out);
      }
      fd.close(out);
    }
  });
}

void write_layout_archive(const std::string& dir, const std::string& archive_path) {
  with_context(fmt::format("writing oci-archive {}", archive_path), [&] {
    AtomicFile file(archive_path);
    std::unique_ptr<archive, WriteFree> a(archive_write_new());
    archive_write_set_format_pax_restricted(a.get());
    archive_write_set_bytes_in_last_block(a.get(), 1);
    if (archive_write_open_fd(a.get(), file.fd()) != ARCHIVE_OK) fail("{}", archive_error_string(a.get()));

    // Sorted for a reproducible archive.
    std::vector<std::filesystem::path> paths;
    for (auto& ent : std::filesystem::recursive_directory_iterator(dir)) paths.push_back(ent.path());
    std::sort(paths.begin(), paths.end());
    std::vector<char> buf(1 << 20);
    for (auto& p : paths) {
      std::string rel = std::filesystem::relative(p, dir).string();
      std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
      archive_entry_set_pathname(e.get(), rel.c_str());
      bool is_dir = std::filesystem::is_directory(p);
      archive_entry_set_filetype(e.get(), is_dir ? AE_IFDIR : AE_IFREG);
      archive_entry_set_perm(e.get(), is_dir ? 0755 : 0644);
      uint64_t size = is_dir ? 0 : std::filesystem::file_size(p);
      archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
      if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) fail("{}: {}", rel, archive_error_string(a.get()));
      if (is_dir) continue;
      UniqueFd in = open_file(p.string(), O_RDONLY);
      for (;;) {
        ssize_t n = ::read(in.get(), buf.data(), buf.size());
        if (n < 0) fail_errno(fmt::format("reading {}", p.string()));
        if (n == 0) break;
        if (archive_write_data(a.get(), buf.data(), static_cast<size_t>(n)) != n)
          fail("{}: {}", rel, archive_error_string(a.get()));
      }
    }
    if (archive_write_close(a.get()) != ARCHIVE_OK) fail("{}", archive_error_string(a.get()));
    file.commit();
  });
}

}  // namespace hull::image
