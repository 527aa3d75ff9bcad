#include "install/build_disk.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_findDecompressedSize
#include <zstd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "boot/grub.h"
#include "image/copy.h"
#include "image/dest.h"
#include "image/source.h"
#include "install/iso.h"
#include "install/to_disk.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::install {
namespace {

namespace fs = std::filesystem;

// --- /etc/passwd and /etc/group, read only ---------------------------------

struct Entry {
  std::string name;
  int64_t id = -1;   // uid or gid
  int64_t gid = -1;  // passwd: primary gid
};

std::vector<Entry> read_db(const std::string& path, bool passwd) {
  std::vector<Entry> out;
  std::ifstream in(path);
  if (!in) fail("cannot read {}", path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, ':')) f.push_back(x);
    if (f.size() < 3) continue;
    Entry e;
    e.name = f[0];
    e.id = std::strtoll(f[2].c_str(), nullptr, 10);
    if (passwd && f.size() > 3) e.gid = std::strtoll(f[3].c_str(), nullptr, 10);
    out.push_back(e);
  }
  return out;
}

const Entry* find(const std::vector<Entry>& db, const std::string& name) {
  for (const auto& e : db)
    if (e.name == name) return &e;
  return nullptr;
}

// The host path of a home directory: it must lie in /var (the stateroot's,
// which persists); /home is the image's link to var/home.
std::string home_on_host(const std::string& home, const std::string& var) {
  if (home.starts_with("/home/")) return var + "/home/" + home.substr(6);
  if (home.starts_with("/var/")) return var + home.substr(4);
  fail("home directory {} must be below /home or /var (the only persistent, writable places)", home);
}

void lchown_tree(const std::string& root, uid_t uid, gid_t gid) {
  if (lchown(root.c_str(), uid, gid) != 0) fail_errno("chown " + root);
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (lchown(it->path().c_str(), uid, gid) != 0) fail_errno("chown " + it->path().string());
  if (ec) fail("walking {}: {}", root, ec.message());
}

// --- sizes ------------------------------------------------------------------

uint64_t read_le32_at_end(const std::string& path, uint64_t& file_size) {
  UniqueFd fd = open_file(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) fail_errno("stat " + path);
  file_size = uint64_t(st.st_size);
  unsigned char head[2], tail[4];
  if (file_size < 18 || pread(fd.get(), head, 2, 0) != 2 || pread(fd.get(), tail, 4, st.st_size - 4) != 4)
    fail("{}: too short for a gzip stream", path);
  if (head[0] != 0x1f || head[1] != 0x8b) fail("{}: not a gzip stream", path);
  return uint64_t(tail[0]) | uint64_t(tail[1]) << 8 | uint64_t(tail[2]) << 16 | uint64_t(tail[3]) << 24;
}

uint64_t zstd_size(const std::string& path) {
  UniqueFd fd = open_file(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) fail_errno("stat " + path);
  if (st.st_size > 0) {
    // Every frame's header, walked without decompressing (zstd:chunked
    // layers are many frames); any frame without a content size: count.
    void* p = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p != MAP_FAILED) {
      unsigned long long s = ZSTD_findDecompressedSize(p, size_t(st.st_size));
      munmap(p, size_t(st.st_size));
      if (s != ZSTD_CONTENTSIZE_UNKNOWN && s != ZSTD_CONTENTSIZE_ERROR) return s;
    }
  }
  ZSTD_DStream* z = ZSTD_createDStream();
  std::vector<char> in(ZSTD_DStreamInSize()), out(ZSTD_DStreamOutSize());
  uint64_t total = 0;
  off_t off = 0;
  for (;;) {
    ssize_t got = pread(fd.get(), in.data(), in.size(), off);
    if (got < 0) {
      ZSTD_freeDStream(z);
      fail_errno("reading " + path);
    }
    if (got == 0) break;
    off += got;
    ZSTD_inBuffer ib{in.data(), size_t(got), 0};
    while (ib.pos < ib.size) {
      ZSTD_outBuffer ob{out.data(), out.size(), 0};
      size_t rc = ZSTD_decompressStream(z, &ob, &ib);
      if (ZSTD_isError(rc)) {
        ZSTD_freeDStream(z);
        fail("{}: {}", path, ZSTD_getErrorName(rc));
      }
      total += ob.pos;
    }
  }
  ZSTD_freeDStream(z);
  return total;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  time_t tt = std::chrono::system_clock::to_time_t(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// --- the image ----------------------------------------------------------------

struct ResolvedImage {
  image::ImageName source;             // what install reads
  std::optional<image::ImageName> target;  // what upgrades follow
};

// containers-storage:NAME -> buildah push into `tmp`; docker:// -> one
// fetch into `tmp`; oci: as it is; oci-archive: read by install directly.
ResolvedImage resolve_image(sysroot::Context& ctx, const std::string& image, const std::string& tmp, Runner& r) {
  ResolvedImage ri;
  const std::string local = "oci:" + tmp + "/oci:image";  // where a copy is made
  const std::string kCs = "containers-storage:";
  if (image.starts_with(kCs)) {
    std::string name = image.substr(kCs.size());
    // containers-storage:[driver@root+runroot]NAME
    if (name.starts_with("[")) name = name.substr(name.find(']') + 1);
    try {
      // zstd: buildah compresses the layers it exports, and hull decompresses them again;
      // zstd at level 1 makes both cheaper than gzip (measured: push 14.6 s vs 17.1 s,
      // staging 18.1 s vs 22.6 s for the 700 MB base image on 2 busy cores).
      r.run({{"buildah", "push", "--quiet", "--compression-format", "zstd", "--compression-level", "1", name,
              local},
             "buildah push"});
    } catch (const Error& e) {
      if (access("/usr/bin/buildah", X_OK) != 0 && access("/usr/local/bin/buildah", X_OK) != 0)
        fail(
            "containers-storage: images are read through buildah, which is not installed (Debian package buildah); "
            "or export the image yourself: podman push {} oci:DIR:NAME, then pass oci:DIR:NAME",
            name);
      throw;
    }
    ri.source = image::ImageName::parse(local);
    ri.target = image::ImageName::parse(name.find("://") == std::string::npos ? "docker://" + name : name);
    return ri;
  }
  image::ImageName n = image::ImageName::parse(image);
  if (n.transport == image::Transport::kOci || n.transport == image::Transport::kOciArchive) {
    ri.source = n;  // read where it is
    return ri;
  }
  // A registry: fetched once here, measured and installed from the copy;
  // upgrades follow the registry name.
  // The signature policy is checked here, against the registry's name,
  // before anything but the manifest is fetched; the local copy is then
  // installed without checking it again (Context::trust.source_checked).
  signature::Trust trust = signature::Trust::load(ctx.trust, ctx.registry);
  auto src = image::open_source(n, ctx.registry);
  auto dst = image::open_dest(image::ImageName::parse(local), ctx.registry);
  image::CopyOptions co;
  co.platform = ctx.platform;
  co.check = [&](const image::Doc& m) { signature::verify_image(trust, n, m); };
  image::copy_image(*src, *dst, co, *ctx.progress);
  ctx.trust.source_checked = true;
  ri.source = image::ImageName::parse(local);
  ri.target = n;
  return ri;
}

void chown_path(const std::string& p, const std::optional<std::pair<uid_t, gid_t>>& owner) {
  if (owner && lchown(p.c_str(), owner->first, owner->second) != 0) fail_errno("chown " + p);
}

uint64_t round_up_mib(uint64_t b) { return (b + kMiB - 1) / kMiB * kMiB; }

}  // namespace

// --- public pieces -------------------------------------------------------------

uint64_t boot_size(const BibConfig& c) {
  return std::max(LayoutOptions{}.boot_size, round_up_mib(c.minsize_of("/boot")));
}

std::vector<VarMount> var_mounts(const BibConfig& c) {
  std::vector<VarMount> out;
  for (const auto& f : c.filesystems) {
    if (!f.mountpoint.starts_with("/var/")) continue;
    uint64_t size = f.minsize ? std::max(round_up_mib(f.minsize), kMinVarMountSize) : kDefaultVarMountSize;
    auto same = std::find_if(out.begin(), out.end(), [&](const VarMount& m) { return m.mountpoint == f.mountpoint; });
    if (same != out.end())
      same->size = std::max(same->size, size);
    else
      out.push_back({f.mountpoint, size});
  }
  return out;
}

std::optional<BibConfig> image_bib_config(const std::string& deploy) {
  std::optional<BibConfig> found;
  std::string first;
  for (const char* name : {"config.toml", "config.json"}) {
    std::string rel = std::string(kImageBibConfigDir).substr(1) + "/" + name;
    auto text = read_file_in_root(deploy, rel);
    if (!text) continue;
    if (found) fail("the image has /{} and also {}, only a single one is supported", rel, first);
    first = "/" + rel;
    found = parse_bib_config(*text, first);
  }
  return found;
}

uint64_t plan_disk_size(uint64_t image_size, const BibConfig& c) {
  uint64_t size = std::max(kBibDefaultDiskSize, 2 * image_size);
  if (c.disk_minsize) size = std::max(size, *c.disk_minsize);
  LayoutOptions lo;
  lo.boot_size = boot_size(c);
  lo.var_mounts = var_mounts(c);
  if (uint64_t root = c.minsize_of("/")) size = std::max(size, disk_size_for_root(round_up_mib(root), lo));
  // What the fixed partitions take must leave a root of at least twice the image.
  size = std::max(size, disk_size_for_root(std::max<uint64_t>(2 * image_size, kMinRootSize), lo));
  return round_up_mib(size);
}

uint64_t layer_uncompressed_size(const std::string& path, const std::string& media_type) {
  if (media_type.ends_with("gzip")) {
    uint64_t compressed = 0;
    uint64_t isize = read_le32_at_end(path, compressed);
    // ISIZE is the size modulo 2^32; a layer never shrinks when compressed.
    while (isize < compressed) isize += 1ull << 32;
    return isize;
  }
  if (media_type.ends_with("zstd")) return zstd_size(path);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) fail_errno("stat " + path);
  return uint64_t(st.st_size);
}

Command image_tool(const std::string& deploy, const std::string& prog, std::vector<std::string> args) {
  boot::ImageGrub g = boot::find_image_grub(deploy);  // the image's loader and library path
  std::string tool = deploy + "/" + prog;
  if (access(tool.c_str(), X_OK) != 0) fail("the image has no /{}", prog);
  Command c;
  c.argv = {g.loader, "--inhibit-cache", "--library-path", g.libpath, tool, "--prefix", deploy};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  c.name = fs::path(prog).filename().string() + " (the image's)";
  return c;
}

void apply_users(const BibConfig& c, const std::string& deploy, const std::string& var, Runner& r) {
  const std::string group_db = deploy + "/etc/group", passwd_db = deploy + "/etc/passwd";
  for (const auto& g : c.groups) {
    with_context(fmt::format("group {}", g.name), [&] {
      auto groups = read_db(group_db, false);
      if (const Entry* e = find(groups, g.name)) {
        if (g.gid && *g.gid != e->id) fail("the image already has it with gid {}, not {}", e->id, *g.gid);
        return;
      }
      std::vector<std::string> args;
      if (g.gid) args.insert(args.end(), {"--gid", std::to_string(*g.gid)});
      args.push_back(g.name);
      r.run(image_tool(deploy, "usr/sbin/groupadd", args));
    });
  }
  for (const auto& u : c.users) {
    with_context(fmt::format("user {}", u.name), [&] {
      auto groups = read_db(group_db, false);
      for (const auto& g : u.groups)
        if (!find(groups, g))
          fail("group \"{}\" does not exist in the image{}; add it with [[customizations.group]]", g,
               g == "wheel" && find(groups, "sudo") ? " (Debian's administrators' group is \"sudo\")" : "");
      if (find(read_db(passwd_db, true), u.name)) fail("the image already has a user of that name");
      std::string home = u.home.value_or("/home/" + u.name);
      std::string host_home = home_on_host(home, var);
      std::vector<std::string> args = {"--no-create-home", "--home-dir", home};
      if (u.password) args.insert(args.end(), {"--password", hash_password(*u.password)});
      if (u.shell)
        args.insert(args.end(), {"--shell", *u.shell});
      else if (path_exists(deploy + "/usr/bin/bash"))
        args.insert(args.end(), {"--shell", "/bin/bash"});
      if (u.description) args.insert(args.end(), {"--comment", *u.description});
      if (u.uid) args.insert(args.end(), {"--uid", std::to_string(*u.uid)});
      if (u.gid)
        args.insert(args.end(), {"--gid", std::to_string(*u.gid)});
      else if (find(groups, u.name))
        args.insert(args.end(), {"--gid", u.name});  // a group of the user's name exists already
      if (!u.groups.empty()) {
        std::string list;
        for (const auto& g : u.groups) list += (list.empty() ? "" : ",") + g;
        args.insert(args.end(), {"--groups", list});
      }
      args.push_back(u.name);
      r.run(image_tool(deploy, "usr/sbin/useradd", args));

      const Entry* pw = nullptr;
      auto users = read_db(passwd_db, true);
      pw = find(users, u.name);
      if (!pw) fail("useradd did not add it to {}", passwd_db);
      uid_t uid = uid_t(pw->id);
      gid_t gid = gid_t(pw->gid);
      // The home, in the stateroot's /var: /etc/skel, then the SSH key.
      make_dirs(fs::path(host_home).parent_path().string());
      if (mkdir(host_home.c_str(), 0700) != 0 && errno != EEXIST) fail_errno("creating " + host_home);
      chmod(host_home.c_str(), 0700);
      std::error_code ec;
      if (fs::is_directory(deploy + "/etc/skel"))
        fs::copy(deploy + "/etc/skel", host_home,
                 fs::copy_options::recursive | fs::copy_options::copy_symlinks | fs::copy_options::skip_existing, ec);
      if (ec) fail("copying /etc/skel to {}: {}", host_home, ec.message());
      if (u.key) {
        std::string ssh = host_home + "/.ssh";
        make_dirs(ssh, 0700);
        std::string keys = *u.key;
        if (!keys.ends_with("\n")) keys += "\n";
        write_file_atomic(ssh + "/authorized_keys", keys, 0600);
      }
      lchown_tree(host_home, uid, gid);
    });
  }
}

std::string first_disk(const std::string& sys_block, const std::string& skip_label) {
  std::string skip;
  if (!skip_label.empty()) {
    std::error_code ec;
    fs::path dev = fs::canonical("/dev/disk/by-label/" + skip_label, ec);
    if (!ec) {
      skip = dev.filename().string();
      // A partition of a disk: skip the disk.
      fs::path sys = fs::canonical(sys_block + "/../class/block/" + skip, ec);
      if (!ec && path_exists((sys / "partition").string())) skip = sys.parent_path().filename().string();
    }
  }
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(sys_block, ec)) {
    std::string n = e.path().filename().string();
    bool excluded = false;
    for (std::string_view p : {"loop", "ram", "zram", "sr", "md", "dm-", "nbd", "fd"}) excluded |= n.starts_with(p);
    if (excluded || n == skip) continue;
    std::string size;
    try {
      size = read_file(e.path().string() + "/size", 4096);  // sysfs files claim 4096 bytes
    } catch (const Error&) {
      continue;
    }
    if (std::strtoull(size.c_str(), nullptr, 10) == 0) continue;
    names.push_back(n);
  }
  if (names.empty()) fail("no disk to install to (looked in {})", sys_block);
  std::sort(names.begin(), names.end());
  return "/dev/" + names.front();
}

namespace {

// What build-disk asks of install to-disk for `device`: the image, the
// config's kernel arguments, and once the image is staged its users and
// groups, bib's mountpoint rules for the root filesystem type, and the
// layout: the disk size (for a new file: `image_size` decides it), /boot's
// size and the partitions below /var, from the config or, if that says
// nothing about them, from the image's own bib config.
ToDiskOptions to_disk_options(const BuildDiskOptions& o, const ResolvedImage& ri, const std::string& device,
                              uint64_t image_size, Runner& r) {
  ToDiskOptions td;
  td.device = device;
  td.filesystem = o.rootfs;
  td.workdir = o.workdir;
  td.install.source = ri.source;
  td.install.target = ri.target;
  td.install.kargs = split_kargs(o.config.kernel_append);
  td.customize = [&o, &r, image_size](const Staged& s) {
    BibConfig from_image;
    const BibConfig* layout = &o.config;
    if (o.config.filesystems.empty() && !o.config.disk_minsize) {
      if (auto c = image_bib_config(s.deploy)) {
        from_image = std::move(*c);
        layout = &from_image;
      }
    }
    check_mountpoints(*layout, s.root_fs);
    apply_users(o.config, s.deploy, s.var, r);
    DiskRequest req;
    req.disk_size = plan_disk_size(image_size, *layout);
    req.boot_size = boot_size(*layout);
    req.var_mounts = var_mounts(*layout);
    req.min_root_size = layout->minsize_of("/");
    return req;
  };
  return td;
}

}  // namespace

BuildDiskResult build_disk(sysroot::Context& ctx, const BuildDiskOptions& o, Runner& r) {
  auto started = std::chrono::system_clock::now();
  BuildDiskResult res;
  Phases ph(ctx.progress, ctx.quiet, res.phases);
  if (!o.install_device.empty()) {
    // The installer: straight to the device, no files.
    if (!o.rootfs.empty()) check_mountpoints(o.config, o.rootfs);
    std::string device = o.install_device == "auto" ? first_disk("/sys/block", kIsoLabel) : o.install_device;
    if (!ctx.quiet && ctx.progress) ctx.progress->message("installing to " + device);
    TempDir tmp("hull-install", o.workdir);
    ResolvedImage ri;
    ph.run("resolving the image", [&] { ri = resolve_image(ctx, o.image, tmp.path(), r); });
    if (!o.target_imgref.empty()) ri.target = image::ImageName::parse(o.target_imgref);
    ph.run("installing", [&] {
      ToDiskOptions td = to_disk_options(o, ri, device, 0, r);
      td.wipe = true;
      ToDiskResult tr = install_to_disk(ctx, td, r);
      res.rootfs = tr.layout.root().fs;
      res.disk_size = tr.layout.disk_size;
      for (auto& p : tr.phases) res.phases.emplace_back("  " + p.first, p.second);
    });
    return res;
  }
  std::set<DiskType> types(o.types.begin(), o.types.end());
  if (types.empty()) fail("no --type given");
  check_can_stage();
  // bib's rules now (for the image's own root type again once it is known).
  check_mountpoints(o.config, o.rootfs.empty() ? "ext4" : o.rootfs);

  make_dirs(o.output);
  TempDir tmp("hull-build-disk", o.workdir);
  // The raw disk and the converted files are made in the output directory
  // (same filesystem: sparse copies and renames), under a hidden name.
  TempDir out_tmp(".hull-build-disk", o.output);

  ResolvedImage ri;
  ph.run("resolving the image", [&] { ri = resolve_image(ctx, o.image, tmp.path(), r); });
  if (!o.target_imgref.empty()) ri.target = image::ImageName::parse(o.target_imgref);

  ph.run("measuring the image", [&] {
    auto src = image::open_source(ri.source, ctx.registry);
    image::Doc top = src->top();
    image::Doc m = image::resolve_manifest(*src, top, ctx.platform);
    res.image_digest = m.digest.str();
    oci::Manifest man = oci::Manifest::parse(m.bytes, m.media_type);
    for (const auto& l : man.layers) {
      auto local = src->local_blob(l);
      if (!local) fail("layer {} is not local", l.digest.str());
      res.image_size += layer_uncompressed_size(*local, l.media_type);
    }
  });

  std::string raw = out_tmp.path() + "/disk.raw";
  ToDiskResult built;  // its staged tree is removed while the formats convert
  bool want_disk = false;
  for (auto t : types) want_disk = want_disk || needs_raw(t);
  if (want_disk) {
    ph.run("building the raw disk", [&] {
      // install to-disk makes the sparse file, sized once the image is staged.
      ToDiskOptions td = to_disk_options(o, ri, raw, res.image_size, r);
      td.via_loopback = true;
      td.keep_staging = true;
      built = install_to_disk(ctx, td, r);
      res.disk_size = built.layout.disk_size;
      res.rootfs = built.layout.root().fs;
      for (auto& p : built.phases) res.phases.emplace_back("  " + p.first, p.second);
    });
  }

  // Conversions, then renames into place. The formats' tools run at the
  // same time (each reads the raw disk; vmdk and gce compress on one core
  // each), beside the iso build.
  std::vector<std::pair<DiskType, std::string>> made;  // type, temp path
  struct Conversion {
    DiskType type;
    std::string out;
    double seconds = 0;
    std::exception_ptr error;
    std::thread thread;
  };
  std::vector<Conversion> conversions;
  for (auto t : types) {
    if (t == DiskType::kRaw || t == DiskType::kIso) continue;
    Conversion c;
    c.type = t;
    c.out = out_tmp.path() + "/" + fs::path(output_path(t)).filename().string();
    conversions.push_back(std::move(c));
  }
  if (!ctx.quiet && ctx.progress && !conversions.empty()) {
    std::string names;
    for (const auto& c : conversions) names += (names.empty() ? "" : ", ") + std::string(type_name(c.type));
    ctx.progress->message("converting to " + names + "...");
  }
  for (auto& c : conversions)
    c.thread = std::thread([&c, &raw, &r] {
      auto t0 = std::chrono::steady_clock::now();
      try {
        r.run(convert_command(c.type, raw, c.out));
      } catch (...) {
        c.error = std::current_exception();
      }
      c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    });
  // The staged tree goes meanwhile (1.5 s for the base image).
  std::jthread remover([&built] { remove_staging(built); });
  auto join_all = [&] {
    for (auto& c : conversions)
      if (c.thread.joinable()) c.thread.join();
    if (remover.joinable()) remover.join();
  };
  try {
    for (auto t : types) {
      if (t == DiskType::kRaw) {
        made.emplace_back(t, raw);
      } else if (t == DiskType::kIso) {
      std::string iso = out_tmp.path() + "/install.iso";
      ph.run("building the installer iso", [&] {
        IsoOptions io;
        io.source = ri.source;
        io.target = ri.target;
        io.config = o.config;
        io.rootfs = o.rootfs;
        io.output = iso;
        io.workdir = tmp.path();
        build_iso(ctx, io, r);
      });
      made.emplace_back(t, iso);
      }
    }
  } catch (...) {
    join_all();
    throw;
  }
  join_all();
  for (auto& c : conversions) {
    std::string phase = fmt::format("converting to {}", type_name(c.type));
    if (c.error) with_context(phase, [&] { std::rethrow_exception(c.error); });
    res.phases.emplace_back(phase, c.seconds);
    made.emplace_back(c.type, c.out);
  }
  ph.run("writing the outputs", [&] {
    for (auto& [t, from] : made) {
      std::string rel = output_path(t);
      std::string dir = o.output + "/" + fs::path(rel).parent_path().string();
      make_dirs(dir);
      chown_path(dir, o.chown);
      chown_path(from, o.chown);
      std::string to = o.output + "/" + rel;
      if (rename(from.c_str(), to.c_str()) != 0) fail_errno("renaming into " + to);
      struct stat st;
      if (stat(to.c_str(), &st) != 0) fail_errno("stat " + to);
      res.files.push_back({t, rel, uint64_t(st.st_size), uint64_t(st.st_blocks) * 512});
    }
    auto finished = std::chrono::system_clock::now();
    nlohmann::ordered_json j;
    j["version"] = 1;
    j["builder"] = "hull " HULL_VERSION;
    j["image"] = {{"name", o.image},
                  {"digest", res.image_digest},
                  {"size", res.image_size},
                  {"target", ri.target ? ri.target->str() : ri.source.str()}};
    if (want_disk) j["disk"] = {{"size", res.disk_size}, {"rootfs", res.rootfs}};
    j["outputs"] = nlohmann::ordered_json::array();
    for (const auto& f : res.files)
      j["outputs"].push_back({{"type", type_name(f.type)}, {"path", f.path}, {"size", f.size}, {"allocated", f.allocated}});
    j["started"] = rfc3339(started);
    j["finished"] = rfc3339(finished);
    j["seconds"] = std::chrono::duration<double>(finished - started).count();
    j["phases"] = nlohmann::ordered_json::array();
    for (const auto& [name, secs] : res.phases) j["phases"].push_back({{"name", name}, {"seconds", secs}});
    std::string manifest = o.output + "/manifest-hull.json";
    write_file_atomic(manifest, j.dump(2) + "\n");
    chown_path(manifest, o.chown);
    chown_path(o.output, o.chown);
  });
  return res;
}

}  // namespace hull::install
