#include "sysroot/sysroot.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>
#include <ostree.h>

#include "image/source.h"
#include "store/ostree.h"
#include "store/store.h"
#include "sysroot/deployments.h"
#include "sysroot/kargs.h"
#include "sysroot/origin.h"
#include "sysroot/reach.h"
#include "sysroot/seed_var.h"
#include "sysroot/staged_lock.h"
#include "sysroot/var_notes.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/glib.h"

namespace hull::sysroot {
namespace {

constexpr const char* kKargsDir = "usr/lib/bootc/kargs.d";

// The image a deployment follows; throws if it follows none. `enforce` is
// set if its origin is ostree-image-signed:.
image::ImageName origin_image(OstreeDeployment* d, bool* enforce) {
  std::optional<image::ImageName> name = origin_container_image(origin_of(d), enforce);
  if (!name) fail("deployment {} does not follow a container image (no container-image-reference)",
                  ostree_deployment_get_csum(d));
  return *name;
}

// The origin libostree writes for a deployment of `name`; owned by the caller.
GKeyFile* new_origin(const image::ImageName& name, bool enforce) {
  std::string text = render_origin(origin_for_image(name, enforce));
  GKeyFile* kf = g_key_file_new();
  GErr err;
  if (!g_key_file_load_from_data(kf, text.c_str(), text.size(), G_KEY_FILE_NONE, err.out())) {
    g_key_file_unref(kf);
    err.raise("writing the origin");
  }
  return kf;
}

// The kargs.d files of `commit`: (path, text), in no particular order.
std::vector<std::pair<std::string, std::string>> read_kargs_files(OstreeRepo* repo, const std::string& commit) {
  std::vector<std::pair<std::string, std::string>> files;
  GRef<GFile> root;
  GErr err;
  if (!ostree_repo_read_commit(repo, commit.c_str(), root.out(), nullptr, nullptr, err.out()))
    err.raise(fmt::format("reading commit {}", commit));
  GRef<GFile> dir(g_file_resolve_relative_path(root.get(), kKargsDir));
  GRef<GFileEnumerator> en(g_file_enumerate_children(dir.get(), "standard::name,standard::type",
                                                     G_FILE_QUERY_INFO_NONE, nullptr, nullptr));
  if (!en) return files;
  for (;;) {
    GFileInfo* info = g_file_enumerator_next_file(en.get(), nullptr, nullptr);
    if (!info) break;
    GRef<GFileInfo> owned(info);
    std::string name = g_file_info_get_name(info);
    if (!name.ends_with(".toml") || g_file_info_get_file_type(info) != G_FILE_TYPE_REGULAR) continue;
    GRef<GFile> f(g_file_get_child(dir.get(), name.c_str()));
    char* data = nullptr;
    gsize len = 0;
    if (!g_file_load_contents(f.get(), nullptr, &data, &len, nullptr, err.out()))
      err.raise(fmt::format("reading /{}/{}", kKargsDir, name));
    files.emplace_back(std::string(kKargsDir) + "/" + name, std::string(data, len));
    g_free(data);
  }
  return files;
}

std::string host_arch() {
  struct utsname u;
  if (uname(&u) != 0) return "x86_64";
  return u.machine;
}

std::vector<std::string> image_kargs(OstreeRepo* repo, const std::string& commit) {
  return kargs_from_files(read_kargs_files(repo, commit), kargs_arch(host_arch()));
}

// NULL-terminated argv for ostree, owning its strings.
struct Argv {
  std::vector<std::string> items;
  std::vector<char*> ptrs;
  explicit Argv(std::vector<std::string> v) : items(std::move(v)) {
    for (auto& s : items) ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
  char** get() { return ptrs.data(); }
};

// bootc's --root-ssh-authorized-keys: a tmpfiles.d entry in the
// deployment's /etc that writes root's authorized_keys at boot (root's
// home is in /var, which does not exist until then).
void install_root_keys(const std::string& deploy_dir, const std::string& keys_file) {
  std::string keys = read_file(keys_file, 1 << 20);
  gchar* b64 = g_base64_encode(reinterpret_cast<const guchar*>(keys.data()), keys.size());
  std::string line = fmt::format("d /root/.ssh 0700 root root -\nf~ /root/.ssh/authorized_keys 600 root root - {}\n", b64);
  g_free(b64);
  make_dirs(deploy_dir + "/etc/tmpfiles.d");
  write_file_atomic(deploy_dir + "/etc/tmpfiles.d/hull-root-ssh.conf", line);
}

void write_aleph(const std::string& root, const store::ImageRecord& rec, const std::string& imgref,
                 const std::string& kver) {
  nlohmann::ordered_json j;
  j["image"] = imgref;
  j["kernel"] = kver;
  j["selinux"] = "disabled";
  j["timestamp"] = rfc3339(time(nullptr));
  j["version"] = rec.version;
  j["digest"] = rec.manifest_digest.str();
  j["installer"] = "hull " HULL_VERSION;
  write_file_atomic(root + "/.bootc-aleph.json", j.dump(2) + "\n");
}

std::string kernel_version(OstreeRepo* repo, const std::string& commit) {
  GRef<GFile> root;
  GErr err;
  if (!ostree_repo_read_commit(repo, commit.c_str(), root.out(), nullptr, nullptr, err.out()))
    err.raise("reading the image commit");
  GRef<GFile> modules(g_file_resolve_relative_path(root.get(), "usr/lib/modules"));
  GRef<GFileEnumerator> en(
      g_file_enumerate_children(modules.get(), "standard::name", G_FILE_QUERY_INFO_NONE, nullptr, nullptr));
  if (!en) return "";
  GFileInfo* info = g_file_enumerator_next_file(en.get(), nullptr, nullptr);
  if (!info) return "";
  std::string k = g_file_info_get_name(info);
  g_object_unref(info);
  return k;
}

// Removes image and layer refs no deployment uses, then lets libostree
// clean up old deployments and prune the repository. Returns a summary.
std::string cleanup(OstreeSysroot* s) {
  OstreeRepo* repo = repo_of(s);
  std::set<std::string> keep;
  for (auto* d : deployments_of(s)) keep.insert(ostree_deployment_get_csum(d));
  if (OstreeDeployment* st = ostree_sysroot_get_staged_deployment(s)) keep.insert(ostree_deployment_get_csum(st));
  store::PruneResult pr = store::prune(repo, keep);
  GErr err;
  SilentGPrint silent;
  if (!ostree_sysroot_cleanup(s, nullptr, err.out())) err.raise("cleaning up the sysroot");
  if (pr.objects_removed == 0) return {};
  return fmt::format("Pruned {} objects, freed {}", pr.objects_removed, human_bytes(pr.bytes_freed));
}

// Pulls `name` from `src`, then stages (booted) or deploys (directory) it on
// top of `from`, carrying kernel arguments over with the kargs.d difference.
UpgradeResult deploy_image(Context& ctx, OstreeSysroot* s, OstreeDeployment* from, const image::ImageName& name,
                           std::unique_ptr<image::Source> src, const UpgradeOptions& uo, bool enforce,
                           bool retry_failed) {
  OstreeRepo* repo = repo_of(s);
  signature::TrustOptions to = ctx.trust;
  to.enforce = enforce;
  signature::Trust trust = signature::Trust::load(to, ctx.registry);
  store::ImageRecord current = store::read_image(repo, ostree_deployment_get_csum(from));
  UpgradeResult res;

  if (uo.check) {
    store::PreviewOptions po;
    po.check = [&](const image::Doc& m) { signature::verify_image(trust, name, m); };
    store::Preview pv = store::preview_image(repo, *src, ctx.platform, po);
    if (pv.manifest.digest == current.manifest_digest) {
      res.message = "No changes in: " + name.str();
      return res;
    }
    oci::ImageConfig cfg = oci::ImageConfig::parse(pv.config);
    auto v = cfg.labels.find("org.opencontainers.image.version");
    res.message = fmt::format("Update available for: {}\n  Version: {}\n  Digest: {}\n  Layers to fetch: {} ({})\n  To fetch: {}",
                              name.str(), v == cfg.labels.end() ? "(none)" : v->second, pv.manifest.digest.str(),
                              pv.missing_layers.size(), human_bytes(pv.missing_bytes), store::describe_fetch(pv));
    return res;
  }

  store::PullOptions po;
  po.platform = ctx.platform;
  po.trust = &trust;
  store::PullResult pr = store::pull_image(repo, *src, name, po, *ctx.progress);
  if (pr.image.commit == current.commit) {
    res.message = "No update available.";
    return res;
  }
  // An image that failed its boot trial here is not tried again on its own.
  if (auto failed = retry_failed ? std::nullopt : read_failed_update(s, ctx.sysroot);
      failed && failed->image && failed->image->image_digest == pr.image.manifest_digest.str()) {
    res.message = fmt::format("No update available: {} ({}) failed to boot here at {} and is not retried; "
                              "push a newer image, or '{} switch' to it to try it again",
                              name.str(), failed->image->version.empty() ? failed->image->image_digest : failed->image->version,
                              failed->failed_at, ctx.prog);
    return res;
  }
  // Booted: the same image staged by an earlier run stays as it is.
  if (OstreeDeployment* st = staged_same_image(s, pr.image.commit, name, enforce)) {
    res.staged = true;
    res.message = fmt::format("Already {} {}", uo.download_only ? "downloaded (locked, not applied at shutdown):"
                                                                : "queued for next boot:", describe_deployment(repo, st));
    return res;
  }
  // Kernel arguments: the local ones kept, the images' kargs.d difference applied.
  std::vector<std::string> kargs =
      apply_kargs_diff(deployment_kargs(from), image_kargs(repo, current.commit), image_kargs(repo, pr.image.commit));
  std::erase_if(kargs, [](const std::string& k) { return k.starts_with(kEntryKarg); });
  kargs.push_back(new_entry_karg());  // its own boot entry (trial.h)
  Argv argv(kargs);
  OstreeSysrootDeployTreeOpts opts = {};
  opts.override_kernel_argv = argv.get();
  GKeyFile* origin = new_origin(name, enforce);
  DeploymentRef dep;
  GErr err;
  const char* osname = ostree_deployment_get_osname(from);
  std::vector<std::string> var_entries;
  if (ostree_sysroot_get_booted_deployment(s)) {
    VarNotes notes;
    bool ok = ostree_sysroot_stage_tree_with_options(s, osname, pr.image.commit.c_str(), origin, from, &opts,
                                                     dep.out(), nullptr, err.out());
    var_entries = notes.finish();
    if (!ok) err.raise("staging the new deployment");
    res.staged = true;
  } else {
    VarNotes notes;
    bool ok = ostree_sysroot_deploy_tree_with_options(s, osname, pr.image.commit.c_str(), origin, from, &opts,
                                                      dep.out(), nullptr, err.out());
    var_entries = notes.finish();
    if (!ok) err.raise("deploying");
    // New default first, the previous default as the rollback, on trial.
    std::vector<OstreeDeployment*> order = {dep.get(), from};
    switch_boot(s, ctx.sysroot, order, trial_for(repo, order, config_etc(s, ctx.sysroot)));
  }
  g_key_file_unref(origin);
  res.changed = true;
  std::string pruned = cleanup(s);
  std::string checks;
  if (ctx.verbose)
    for (auto& c : pr.checks) checks += "\n  Verified " + c;
  std::string note = var_note(var_entries);
  const char* verb = !res.staged ? "Deployed:" : uo.download_only ? "Downloaded (locked, not applied at shutdown):"
                                                                   : "Queued for next boot:";
  res.message = fmt::format("{} {} ({})\n  {}{}{}{}", verb, name.str(),
                            pr.image.version.empty() ? pr.image.manifest_digest.short_str() : pr.image.version,
                            store::describe_pull(pr), checks, pruned.empty() ? "" : "\n  " + pruned,
                            note.empty() ? "" : "\n  " + note);
  return res;
}

}  // namespace

Installed install_to_filesystem(Context& ctx, const InstallOptions& o) {
  return with_context(fmt::format("installing {} to {}", o.source.str(), o.root), [&] {
    // 0. trust: a registry image is checked against the signature policy
    // before anything is written to the target; the pull checks again what
    // it fetches (a tag may move in between).
    signature::Trust trust = signature::Trust::load(ctx.trust, ctx.registry);
    if (o.source.transport == image::Transport::kDocker) {
      auto src = image::open_source(o.source, ctx.registry);
      image::Doc top = src->top();
      signature::verify_image(trust, o.source, image::resolve_manifest(*src, top, ctx.platform));
    }

    // 1. the ostree sysroot and stateroot
    GRef<GFile> rootf(g_file_new_for_path(o.root.c_str()));
    SysrootRef s(ostree_sysroot_new(rootf.get()));
    GErr err;
    if (!ostree_sysroot_ensure_initialized(s.get(), nullptr, err.out())) err.raise("initializing the sysroot");
    if (!ostree_sysroot_load(s.get(), nullptr, err.out())) err.raise("loading the sysroot");
    lock(s.get());
    if (!deployments_of(s.get()).empty()) fail("{} already holds deployments; install wants an empty filesystem", o.root);
    OstreeRepo* repo = repo_of(s.get());
    if (!o.sync) ostree_repo_set_disable_fsync(repo, TRUE);
    if (!o.bootloader.empty()) {
      GKeyFile* cfg = ostree_repo_copy_config(repo);
      g_key_file_set_string(cfg, "sysroot", "bootloader", o.bootloader.c_str());
      if (!ostree_repo_write_config(repo, cfg, err.out())) {
        g_key_file_unref(cfg);
        err.raise("writing the repository config");
      }
      g_key_file_unref(cfg);
    }
    // A stateroot left by an install that failed later is reused.
    if (!path_exists(o.root + "/ostree/deploy/" + o.stateroot) &&
        !ostree_sysroot_init_osname(s.get(), o.stateroot.c_str(), nullptr, err.out()))
      err.raise(fmt::format("creating stateroot {}", o.stateroot));

    // 2. the image
    auto src = image::open_source(o.source, ctx.registry);
    store::PullOptions po;
    po.platform = ctx.platform;
    po.trust = &trust;
    store::PullResult pr = store::pull_image(repo, *src, o.source, po, *ctx.progress);

    // 3. the deployment
    std::vector<std::string> kargs = image_kargs(repo, pr.image.commit);
    kargs.insert(kargs.end(), o.kargs.begin(), o.kargs.end());
    kargs.push_back(new_entry_karg());  // its own boot entry (trial.h)
    Argv argv(kargs);
    OstreeSysrootDeployTreeOpts opts = {};
    opts.override_kernel_argv = argv.get();
    const image::ImageName& follow = o.target ? *o.target : o.source;
    GKeyFile* origin = new_origin(follow, ctx.trust.enforce);
    DeploymentRef dep;
    VarNotes notes;  // silenced: seed_var below copies the image's /var
    bool ok = ostree_sysroot_deploy_tree_with_options(s.get(), o.stateroot.c_str(), pr.image.commit.c_str(), origin,
                                                      nullptr, &opts, dep.out(), nullptr, err.out());
    notes.finish();
    g_key_file_unref(origin);
    if (!ok) err.raise("deploying");
    if (o.target && store::image_ref(*o.target) != store::image_ref(o.source)) {
      // Upgrades follow the target name: record the image under it too.
      store::Transaction txn(repo);
      txn.set_ref(store::image_ref(*o.target), pr.image.commit);
      txn.commit();
    }
    Installed done{pr.image.commit, deployment_dir(s.get(), dep.get(), o.root)};
    if (!o.root_ssh_authorized_keys.empty()) install_root_keys(done.deployment_dir, o.root_ssh_authorized_keys);
    if (o.boot_tries) {
      make_dirs(done.deployment_dir + "/etc/hull");
      write_file_atomic(done.deployment_dir + "/etc/hull/boot.toml",
                        fmt::format("# written by {} install --boot-tries\ntries = {}\n", ctx.prog, *o.boot_tries));
    }
    switch_boot(s.get(), o.root, {dep.get()}, Trial{});

    // 4. /var, the install record, cleanup
    seed_var(repo, pr.image.commit, o.root, o.stateroot);
    write_aleph(o.root, pr.image, follow.str(), kernel_version(repo, pr.image.commit));
    cleanup(s.get());
    return done;
  });
}

void unfreeze_deployments(const std::string& sysroot_dir) {
  std::error_code ec;
  for (const auto& os : std::filesystem::directory_iterator(sysroot_dir + "/ostree/deploy", ec))
    for (const auto& d : std::filesystem::directory_iterator(os.path() / "deploy", ec)) {
      int fd = ::open(d.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) continue;
      int flags = 0;
      if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL)) {
        flags &= ~FS_IMMUTABLE_FL;
        ioctl(fd, FS_IOC_SETFLAGS, &flags);
      }
      ::close(fd);
    }
}

HostStatus status(Context& ctx) {
  SysrootRef s = load_sysroot(ctx.sysroot);
  OstreeRepo* repo = repo_of(s.get());
  HostStatus st;
  OstreeDeployment* booted = ostree_sysroot_get_booted_deployment(s.get());
  st.offline = booted == nullptr;
  auto deps = deployments_of(s.get());
  if (OstreeDeployment* staged = ostree_sysroot_get_staged_deployment(s.get())) {
    st.staged = boot_entry(repo, staged);
    st.staged->download_only = staged_locked();
  }
  if (deps.empty()) return st;
  OstreeDeployment* shown = booted ? booted : deps[0];
  st.booted = boot_entry(repo, shown);
  // The rollback: the other deployment of the pair.
  for (auto* d : deps) {
    if (d == shown || ostree_deployment_is_staged(d)) continue;
    if (!st.rollback)
      st.rollback = boot_entry(repo, d);
    else
      st.other_deployments.push_back(boot_entry(repo, d));
  }
  st.rollback_queued = booted && deps[0] != booted;
  st.trial = trial_status(s.get(), ctx.sysroot);
  st.failed_update = read_failed_update(s.get(), ctx.sysroot);
  derive_spec(st);
  return st;
}

// Booted: the staged deployment after an upgrade or switch, locked
// (--download-only) or unlocked, in `res`.
void finish_staging(OstreeSysroot* s, UpgradeResult& res, DownloadLock* download) {
  if (!ostree_sysroot_get_booted_deployment(s)) return;
  OstreeDeployment* staged = settle_staged(s, download);
  res.staged = staged && !download;
  if (res.staged) res.staged_image = describe_deployment(repo_of(s), staged);
}

UpgradeResult upgrade(Context& ctx, const UpgradeOptions& opts) {
  SysrootRef s = load_sysroot(ctx.sysroot);
  require_booted_for_download(s.get(), opts, ctx.sysroot);
  lock(s.get());
  if (!opts.check) refuse_unassessed_fallback(s.get(), ctx);
  UpgradeResult res;
  if (opts.from_downloaded) {
    bool was_locked = false;
    res.staged_image = describe_deployment(repo_of(s.get()), unlock_downloaded(s.get(), ctx.prog, &was_locked));
    res.staged = true;
    res.message = fmt::format("{}: {}; it is finalized at the next shutdown",
                              was_locked ? "Unlocked the staged deployment" : "Staged, and not locked", res.staged_image);
    return res;
  }
  OstreeDeployment* from = current_deployment(s.get());
  bool enforce = false;
  image::ImageName name = origin_image(from, &enforce);
  auto src = reach_origin(ctx, s.get(), name);
  std::optional<DownloadLock> download_lock;  // taken before anything is staged
  if (opts.download_only && !opts.check) download_lock.emplace();
  res = with_context(fmt::format("upgrading from {}", name.str()), [&] {
    return deploy_image(ctx, s.get(), from, name, std::move(src), opts, enforce || ctx.trust.enforce, false);
  });
  if (!opts.check) finish_staging(s.get(), res, download_lock ? &*download_lock : nullptr);
  return res;
}

std::string deployment_file(Context& ctx, const std::string& rel) {
  SysrootRef s = load_sysroot(ctx.sysroot);
  if (ostree_sysroot_get_booted_deployment(s.get())) return "/" + rel;
  std::string dir = deployment_dir(s.get(), current_deployment(s.get()), ctx.sysroot);
  std::string resolved = resolve_in_root(dir, rel);
  return resolved.empty() ? dir + "/" + rel : resolved;
}

UpgradeResult switch_image(Context& ctx, const image::ImageName& target) {
  SysrootRef s = load_sysroot(ctx.sysroot);
  lock(s.get());
  refuse_unassessed_fallback(s.get(), ctx);
  OstreeDeployment* from = current_deployment(s.get());
  bool enforce = false;
  origin_container_image(origin_of(from), &enforce);
  UpgradeResult res = with_context(fmt::format("switching to {}", target.str()), [&] {
    return deploy_image(ctx, s.get(), from, target, image::open_source(target, ctx.registry), UpgradeOptions{},
                        enforce || ctx.trust.enforce, true);
  });
  if (res.changed || res.staged) finish_staging(s.get(), res, nullptr);  // else a staged deployment stays as it is
  return res;
}

std::string rollback(Context& ctx) {
  SysrootRef s = load_sysroot(ctx.sysroot);
  lock(s.get());
  auto deps = deployments_of(s.get());
  if (deps.size() < 2) fail("no rollback deployment: there is only one deployment");
  std::swap(deps[0], deps[1]);
  OstreeRepo* repo = repo_of(s.get());
  switch_boot(s.get(), ctx.sysroot, deps, trial_for(repo, deps, config_etc(s.get(), ctx.sysroot)));
  BootEntry next = boot_entry(repo, deps[0]);
  std::string what = next.image ? next.image->image.image + " (" + (next.image->version.empty() ? next.image->image_digest : next.image->version) + ")"
                                : std::string(ostree_deployment_get_csum(deps[0]));
  return "Next boot: " + what;
}

}  // namespace hull::sysroot
