// Boot counting on the booted host: which boot this is, blessing, the record
// of failed trial boots, the permanent fallback, and arming a staged
// deployment at finalization. The state itself and its crash windows are in
// trial.h; the units that call these are in dist/.
#include <nlohmann/json.hpp>

#include "sysroot/deployments.h"
#include "sysroot/staged_lock.h"
#include "sysroot/sysroot.h"
#include "util/error.h"
#include "util/file.h"

namespace hull::sysroot {
namespace {

constexpr const char* kTrialBoots = "lib/hull/trial-boots.json";
constexpr const char* kFailedUpdate = "lib/hull/failed-update.json";

std::string cmdline_of(const Context& ctx) {
  if (!ctx.kernel_cmdline.empty()) return ctx.kernel_cmdline;
  if (ctx.sysroot != "/") return "";
  return read_file("/proc/cmdline", 1 << 16);
}

// The deployment that is running: named by the hull.entry of the kernel
// command line; in a directory without one, the default.
OstreeDeployment* booted_deployment(OstreeSysroot* s, const Context& ctx) {
  auto deps = deployments_of(s);
  std::string entry = entry_of(cmdline_of(ctx));
  if (!entry.empty())
    for (auto* d : deps)
      if (deployment_entry(d) == entry) return d;
  if (OstreeDeployment* b = ostree_sysroot_get_booted_deployment(s)) return b;
  if (deps.empty()) fail("no deployments in {}", ctx.sysroot);
  return deps[0];
}

OstreeDeployment* find_entry(OstreeSysroot* s, const std::string& entry) {
  for (auto* d : deployments_of(s))
    if (deployment_entry(d) == entry) return d;
  return nullptr;
}

std::string boot_dir(const Context& ctx) { return ctx.sysroot + "/boot"; }

}  // namespace

BootState boot_state(Context& ctx) {
  SysrootRef s = load_sysroot(ctx.sysroot);
  BootState st;
  st.trial = read_current(boot_dir(ctx));
  st.deployments = deployments_of(s.get()).size();
  OstreeDeployment* booted = booted_deployment(s.get(), ctx);
  st.booted = describe_deployment(repo_of(s.get()), booted);
  if (st.trial.armed)
    st.kind = deployment_entry(booted) == st.trial.entry ? BootKind::kTrial : BootKind::kFallback;
  return st;
}

std::string bless(Context& ctx) {
  SysrootRef s = load_sysroot(ctx.sysroot);
  lock(s.get());
  Trial t = read_current(boot_dir(ctx));
  if (!t.armed) return "";
  OstreeDeployment* booted = booted_deployment(s.get(), ctx);
  if (deployment_entry(booted) != t.entry) return "";  // the fallback boot: fall_back() decides
  write_current(boot_dir(ctx), Trial{});
  std::string var = var_dir(s.get(), ctx.sysroot, booted);
  std::error_code ec;
  std::filesystem::remove(var + "/" + kTrialBoots, ec);
  // The host has moved on to a deployment that works: an older failure is
  // history (the journal keeps it), no longer a state to show.
  std::filesystem::remove(var + "/" + kFailedUpdate, ec);
  return fmt::format("{} passed its trial on boot {} of {}", t.what, t.tries - t.left, t.tries);
}

void record_failed_boot(Context& ctx, const std::vector<std::string>& reasons) {
  SysrootRef s = load_sysroot(ctx.sysroot);
  lock(s.get());
  Trial t = read_current(boot_dir(ctx));
  OstreeDeployment* booted = booted_deployment(s.get(), ctx);
  std::string path = var_dir(s.get(), ctx.sysroot, booted) + "/" + kTrialBoots;
  nlohmann::json boots = nlohmann::json::array();
  if (path_exists(path)) {
    boots = nlohmann::json::parse(read_file(path, 1 << 20), nullptr, false);
    if (!boots.is_array()) boots = nlohmann::json::array();
  }
  boots.push_back({{"entry", deployment_entry(booted)},
                   {"boot", t.tries - t.left},
                   {"at", rfc3339(time(nullptr))},
                   {"reasons", reasons}});
  make_dirs(std::filesystem::path(path).parent_path());
  write_file_atomic(path, boots.dump(2) + "\n");
}

FailedUpdate fall_back(Context& ctx) {
  SysrootRef s = load_sysroot(ctx.sysroot);
  lock(s.get());
  OstreeRepo* repo = repo_of(s.get());
  Trial t = read_current(boot_dir(ctx));
  OstreeDeployment* booted = booted_deployment(s.get(), ctx);
  if (!t.armed || deployment_entry(booted) == t.entry) fail("this boot is not a fallback from a trial");
  OstreeDeployment* failed = find_entry(s.get(), t.entry);

  FailedUpdate f;
  f.failed_at = rfc3339(time(nullptr));
  f.boots = t.tries;
  if (failed) {
    BootEntry e = boot_entry(repo, failed);
    f.image = e.image;
    f.ostree = e.ostree;
  }
  // Why: what the failed boots recorded, and the boots that never got as
  // far as recording anything (a panic, a hang, a reset).
  std::string var = var_dir(s.get(), ctx.sysroot, booted);
  int recorded = 0;
  if (std::string path = var + "/" + kTrialBoots; path_exists(path)) {
    nlohmann::json boots = nlohmann::json::parse(read_file(path, 1 << 20), nullptr, false);
    if (boots.is_array())
      for (const auto& b : boots) {
        if (!b.is_object() || b.value("entry", "") != t.entry) continue;
        recorded++;
        for (const auto& r : b.value("reasons", nlohmann::json::array()))
          if (r.is_string()) f.reasons.push_back(fmt::format("boot {}: {}", b.value("boot", 0), r.get<std::string>()));
      }
  }
  int used = t.tries - t.left;
  if (used == 0)
    f.reasons.push_back("GRUB never booted it: the boot counter on /boot could not be saved");
  else if (recorded < used)
    f.reasons.push_back(fmt::format("{} of {} boots never reached boot-complete.target (a panic, hang or reset)",
                                    used - recorded, used));

  // The booted deployment first, the failed one as rollback: no trial.
  std::vector<OstreeDeployment*> order = {booted};
  for (auto* d : deployments_of(s.get()))
    if (d != booted) order.push_back(d);
  switch_boot(s.get(), ctx.sysroot, order, Trial{});
  make_dirs(var + "/lib/hull");
  write_file_atomic(var + "/" + kFailedUpdate, render_failed_update(f));
  std::error_code ec;
  std::filesystem::remove(var + "/" + kTrialBoots, ec);
  return f;
}

std::string arm_staged(Context& ctx) {
  SysrootRef s = load_sysroot(ctx.sysroot);
  OstreeDeployment* staged = ostree_sysroot_get_staged_deployment(s.get());
  if (!staged || staged_locked() || !counting_supported(boot_dir(ctx))) return "";
  OstreeDeployment* booted = ostree_sysroot_get_booted_deployment(s.get());
  // What finalization writes: the staged deployment first, the booted one
  // as its rollback.
  std::vector<OstreeDeployment*> order = {staged};
  if (booted) order.push_back(booted);
  Trial t = trial_for(repo_of(s.get()), order, config_etc(s.get(), ctx.sysroot));
  prepare_next(boot_dir(ctx), t);
  return t.armed ? fmt::format("{} armed for {} boots", t.what, t.tries) : "";
}

std::optional<FailedUpdate> read_failed_update(OstreeSysroot* s, const std::string& sysroot) {
  auto deps = deployments_of(s);
  if (deps.empty()) return std::nullopt;
  std::string path = var_dir(s, sysroot, deps[0]) + "/" + kFailedUpdate;
  if (!path_exists(path)) return std::nullopt;
  try {
    return parse_failed_update(read_file(path, 1 << 20));
  } catch (const Error&) {
    return std::nullopt;  // a damaged record does not break status or upgrades
  }
}

void refuse_unassessed_fallback(OstreeSysroot* s, const Context& ctx) {
  Trial t = read_current(boot_dir(ctx));
  if (!t.armed || deployments_of(s).empty()) return;
  if (deployment_entry(booted_deployment(s, ctx)) == t.entry) return;
  fail("this boot fell back from the trial of {} and is not assessed yet (hull-boot-assess.service); "
       "try again once it has run", t.what);
}

std::optional<TrialStatus> trial_status(OstreeSysroot* s, const std::string& sysroot) {
  Trial t = read_current(sysroot + "/boot");
  if (!t.armed) return std::nullopt;
  OstreeDeployment* d = find_entry(s, t.entry);
  if (!d) return std::nullopt;
  TrialStatus ts;
  ts.ostree = OstreeStatus{ostree_deployment_get_csum(d), ostree_deployment_get_deployserial(d),
                           ostree_deployment_get_osname(d)};
  ts.tries = t.tries;
  ts.left = t.left;
  ts.armed_at = t.armed_at;
  return ts;
}

}  // namespace hull::sysroot
