// `hull internals`: what hull's own systemd units run (dist/), as bootc has
// `bootc internals`. Not for people, but safe to run by hand.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "health/assess.h"
#include "sysroot/sysroot.h"
#include "util/error.h"

namespace hull::cli {
namespace {

void print_lines(const std::vector<std::string>& lines) {
  for (const auto& l : lines) fmt::print("{}\n", l);
  fflush(stdout);
}

// hull-health-check.service, before boot-complete.target.
int health_check(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Run the health checks (required.d, wanted.d); exit 1 if a required one fails"};
  health::CheckRunOptions o;
  std::string config = "/etc/hull/boot.toml";
  app.add_option("--root", o.root, "the tree whose check directories are read (default /)");
  app.add_option("--config", config, "boot.toml with check-timeout (default /etc/hull/boot.toml)");
  if (int rc = run_cli11(&app, ctx.prog + " internals health-check", args); rc >= 0) return rc;
  o.timeout_s = sysroot::load_boot_config(config).check_timeout;
  std::vector<std::string> log;
  bool ok = health::run_checks(o, log);
  print_lines(log);
  return ok ? 0 : 1;
}

// hull-boot-assess.service, after boot-complete.target.
int boot_assess(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Assess this boot: bless a deployment on trial, or record its failure and reboot, or fall back"};
  HostFlags f;
  f.add(app);
  health::AssessOptions o;
  std::string complete, cmdline;
  app.add_option("--root", o.root, "where run/hull/checks.json is (default /)");
  app.add_option("--boot-complete", complete, "yes or no instead of asking systemd (tests)")
      ->check(CLI::IsMember({"yes", "no"}));
  app.add_option("--kernel-cmdline", cmdline, "the running boot's kernel command line (default /proc/cmdline)");
  bool no_reboot = false;
  app.add_flag("--no-reboot", no_reboot, "do not reboot after a failed trial boot");
  if (int rc = run_cli11(&app, ctx.prog + " internals boot-assess", args); rc >= 0) return rc;
  if (!complete.empty()) o.boot_complete = complete == "yes";
  o.reboot = !no_reboot;
  Progress progress(true);
  sysroot::Context c = f.context(progress);
  c.kernel_cmdline = cmdline;
  c.prog = ctx.prog;
  health::Assessment a = health::assess(c, o);
  print_lines(a.log);
  if (a.reboot) {
    execlp("systemctl", "systemctl", "reboot", "--no-block", nullptr);
    fail_errno("running systemctl reboot");
  }
  return 0;
}

// The drop-in of ostree-finalize-staged.service, before libostree finalizes.
int arm_staged(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Arm the boot trial of the staged deployment before libostree finalizes it at shutdown"};
  HostFlags f;
  f.add(app);
  if (int rc = run_cli11(&app, ctx.prog + " internals arm-staged", args); rc >= 0) return rc;
  Progress progress(true);
  sysroot::Context c = f.context(progress);
  std::string what = sysroot::arm_staged(c);
  if (!what.empty()) fmt::print("boot trial: {}\n", what);
  return 0;
}

constexpr Command kInternals[] = {
    {"health-check", "run the health checks (hull-health-check.service)", health_check},
    {"boot-assess", "bless, fail or fall back after boot-complete.target (hull-boot-assess.service)", boot_assess},
    {"arm-staged", "arm the staged deployment's boot trial (before ostree finalize-staged)", arm_staged},
};

}  // namespace

int cmd_internals(Context& ctx, std::vector<std::string> args) {
  return dispatch(ctx, ctx.prog + " internals", kInternals, std::move(args));
}

}  // namespace hull::cli
