#include "sysroot/deployments.h"

#include <sys/stat.h>

#include <ctime>

#include "sysroot/kargs.h"
#include "util/error.h"
#include "util/file.h"

namespace hull::sysroot {

SysrootRef load_sysroot(const std::string& path) {
  GRef<GFile> file(g_file_new_for_path(path.c_str()));
  SysrootRef s(ostree_sysroot_new(file.get()));
  GErr err;
  if (!ostree_sysroot_load(s.get(), nullptr, err.out())) err.raise(fmt::format("loading the ostree sysroot {}", path));
  return s;
}

void lock(OstreeSysroot* s) {
  GErr err;
  if (!ostree_sysroot_lock(s, err.out())) err.raise("locking the sysroot");
}

std::vector<OstreeDeployment*> deployments_of(OstreeSysroot* s) {
  GPtrArray* arr = ostree_sysroot_get_deployments(s);
  std::vector<OstreeDeployment*> out;
  for (guint i = 0; i < arr->len; i++) out.push_back(static_cast<OstreeDeployment*>(arr->pdata[i]));
  g_ptr_array_unref(arr);
  return out;
}

OstreeDeployment* current_deployment(OstreeSysroot* s) {
  if (OstreeDeployment* b = ostree_sysroot_get_booted_deployment(s)) return b;
  auto deps = deployments_of(s);
  if (deps.empty()) fail("no deployments in this sysroot: install an image first (hull install)");
  return deps[0];
}

Origin origin_of(OstreeDeployment* d) {
  GKeyFile* kf = ostree_deployment_get_origin(d);
  if (!kf) return {};
  GStr text(g_key_file_to_data(kf, nullptr, nullptr));
  return parse_origin(text.str());
}

std::vector<std::string> deployment_kargs(OstreeDeployment* d) {
  OstreeBootconfigParser* bc = ostree_deployment_get_bootconfig(d);
  const char* opts = bc ? ostree_bootconfig_parser_get(bc, "options") : nullptr;
  std::vector<std::string> out;
  for (auto& k : split_kargs(opts ? opts : ""))
    if (!k.starts_with("ostree=")) out.push_back(k);  // ostree adds its own
  return out;
}

std::string deployment_entry(OstreeDeployment* d) {
  OstreeBootconfigParser* bc = ostree_deployment_get_bootconfig(d);
  const char* opts = bc ? ostree_bootconfig_parser_get(bc, "options") : nullptr;
  return entry_of(opts ? opts : "");
}

std::string deployment_dir(OstreeSysroot* s, OstreeDeployment* d, const std::string& sysroot) {
  GStr rel(ostree_sysroot_get_deployment_dirpath(s, d));
  return sysroot + "/" + rel.str();
}

ImageStatus image_status(const store::ImageRecord& r, const image::ImageName& name, bool enforce) {
  ImageStatus st;
  st.image = bootc_image_reference(name, enforce);
  st.version = r.version;
  st.image_digest = r.manifest_digest.str();
  st.architecture = r.architecture;
  if (r.timestamp > 0) st.timestamp = rfc3339(static_cast<time_t>(r.timestamp));
  return st;
}

BootEntry boot_entry(OstreeRepo* repo, OstreeDeployment* d) {
  BootEntry e;
  e.ostree.checksum = ostree_deployment_get_csum(d);
  e.ostree.deploy_serial = ostree_deployment_get_deployserial(d);
  e.ostree.stateroot = ostree_deployment_get_osname(d);
  e.pinned = ostree_deployment_is_pinned(d);
  // As bootc: local rpm-ostree changes make a deployment incompatible, and
  // one that follows no container image shows none.
  Origin origin = origin_of(d);
  e.incompatible = origin_incompatible(origin);
  bool enforce = false;
  std::optional<image::ImageName> name = origin_container_image(origin, &enforce);
  if (e.incompatible || !name) return e;
  std::optional<store::ImageRecord> rec = store::find_image(repo, e.ostree.checksum);
  if (!rec) return e;  // deployed by another tool
  e.image = image_status(*rec, *name, enforce);
  // An update already fetched but not deployed.
  if (auto cur = store::resolve_ref(repo, store::image_ref(*name)); cur && *cur != e.ostree.checksum) {
    store::ImageRecord newer = store::read_image(repo, *cur);
    if (newer.manifest_digest != rec->manifest_digest) e.cached_update = image_status(newer, *name, enforce);
  }
  return e;
}

std::string describe_deployment(OstreeRepo* repo, OstreeDeployment* d) {
  BootEntry e = boot_entry(repo, d);
  if (!e.image) return e.ostree.checksum.substr(0, 12);
  return fmt::format("{} ({})", e.image->image.image,
                     e.image->version.empty() ? e.image->image_digest.substr(0, 19) : e.image->version);
}

void switch_boot(OstreeSysroot* s, const std::string& sysroot, const std::vector<OstreeDeployment*>& deps,
                 const Trial& next) {
  std::string boot = sysroot + "/boot";
  bool counting = counting_supported(boot);
  int before = counting ? current_bootversion(boot) : -1;
  if (counting) prepare_next(boot, next);
  SilentGPrint silent;
  GPtrArray* list = g_ptr_array_new();
  for (auto* d : deps) g_ptr_array_add(list, d);
  GErr err;
  bool ok = ostree_sysroot_write_deployments(s, list, nullptr, err.out());
  g_ptr_array_unref(list);
  if (!ok) err.raise("writing the deployments");
  // Deployments made before hull.entry existed can compare equal position
  // by position; libostree then swaps only its /ostree/boot.N links and the
  // prepared counter never went live. Written now, after the switch: the
  // one window left, for such old deployments only.
  if (counting && !switched(boot, before)) write_current(boot, next);
}

Trial trial_for(OstreeRepo* repo, const std::vector<OstreeDeployment*>& deps, const std::string& etc_dir) {
  if (deps.size() < 2) return {};  // nothing to fall back to
  BootConfig cfg = load_boot_config(etc_dir + "/hull/boot.toml");
  std::string entry = deployment_entry(deps[0]);
  if (cfg.tries == 0 || entry.empty()) return {};
  return arm(entry, cfg.tries, describe_deployment(repo, deps[0]));
}

std::string config_etc(OstreeSysroot* s, const std::string& sysroot) {
  if (ostree_sysroot_get_booted_deployment(s)) return "/etc";
  auto deps = deployments_of(s);
  if (deps.empty()) return sysroot + "/etc";
  return deployment_dir(s, deps[0], sysroot) + "/etc";
}

std::string var_dir(OstreeSysroot* s, const std::string& sysroot, OstreeDeployment* d) {
  if (ostree_sysroot_get_booted_deployment(s)) return "/var";
  return fmt::format("{}/ostree/deploy/{}/var", sysroot, ostree_deployment_get_osname(d));
}

}  // namespace hull::sysroot
