// bootc's host commands: status, upgrade, switch, rollback, install.
#include <unistd.h>

#include <ctime>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "install/to_disk.h"
#include "sysroot/sysroot.h"
#include "sysroot/updates.h"
#include "util/error.h"

namespace hull::cli {
namespace {

void say(bool quiet, const std::string& msg) {
  if (!quiet && !msg.empty()) fmt::print("{}\n", msg);
}

[[noreturn]] void reboot_now(bool quiet = false) {
  say(quiet, "Rebooting...");
  fflush(stdout);
  execlp("systemctl", "systemctl", "reboot", nullptr);
  fail_errno("running systemctl reboot");
}

// upgrade --auto, what hull-fetch-apply-updates.service runs: the policy of
// /etc/hull/updates.toml (or `policy_file`), then check, stage, or stage and
// reboot inside the reboot window. --quiet: nothing but errors.
int upgrade_auto(sysroot::Context& c, std::string policy_file, bool quiet) {
  if (policy_file.empty()) policy_file = sysroot::deployment_file(c, "etc/hull/updates.toml");
  sysroot::UpdatePolicy policy = sysroot::load_update_policy(policy_file);
  sysroot::UpgradeOptions o;
  o.check = policy.mode == sysroot::UpdateMode::kCheck;
  sysroot::UpgradeResult r = sysroot::upgrade(c, o);
  say(quiet, r.message);
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  switch (sysroot::decide_auto_reboot(policy, r.staged, local)) {
    case sysroot::AutoAction::kReboot:
      reboot_now(quiet);
    case sysroot::AutoAction::kWait:
      say(quiet, fmt::format("Staged {}; the reboot window is {}", r.staged_image,
                             sysroot::describe_reboot_window(policy.reboot)));
      break;
    case sysroot::AutoAction::kNone:
      break;
  }
  return 0;
}

}  // namespace

int cmd_status(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Show the state of the host: the booted, staged and rollback images (bootc's BootcHost)"};
  HostFlags f;
  f.add(app);
  std::string format;
  bool json = false, booted_only = false, verbose = false;
  int format_version = 1;
  app.add_option("--format", format, "humanreadable, yaml or json (default: humanreadable on a terminal, else yaml)")
      ->check(CLI::IsMember({"humanreadable", "yaml", "json"}));
  app.add_option("--format-version", format_version, "schema version (0 and 1 are the same here)");
  app.add_flag("--json", json, "same as --format=json");
  app.add_flag("--booted", booted_only, "only the booted deployment");
  app.add_flag("-v,--verbose", verbose, "humanreadable: also the stateroot, serial, commit and download-only rows");
  if (int rc = run_cli11(&app, ctx.prog + " status", args); rc >= 0) return rc;
  if (json) format = "json";
  if (format.empty()) format = isatty(1) ? "humanreadable" : "yaml";
  Progress progress(true);
  sysroot::Context c = f.context(progress);
  sysroot::HostStatus st = sysroot::status(c);
  if (booted_only) {
    st.staged.reset();
    st.rollback.reset();
    st.other_deployments.clear();
  }
  if (format == "json")
    fmt::print("{}", sysroot::render_json(st));
  else if (format == "yaml")
    fmt::print("{}", sysroot::render_yaml(st));
  else
    fmt::print("{}", sysroot::render_human(st, verbose));
  return 0;
}

int cmd_upgrade(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Fetch the newest version of the image this host follows and queue it for the next boot"};
  HostFlags f;
  f.add(app);
  sysroot::UpgradeOptions o;
  auto* check = app.add_flag("--check", o.check, "only check: fetch manifest and config and say what would change");
  auto* apply = app.add_flag("--apply", o.apply, "reboot into the update once it is staged (or one staged earlier)");
  auto* download = app.add_flag("--download-only", o.download_only,
                                "fetch and stage, but do not apply the update at shutdown (booted host only)");
  auto* downloaded = app.add_flag("--from-downloaded", o.from_downloaded,
                                  "fetch nothing: unlock the update --download-only staged, to be applied at the next "
                                  "shutdown (with --apply: now)");
  bool autom = false;
  std::string policy_file;
  auto* au = app.add_flag("--auto", autom,
                          "what hull-fetch-apply-updates.timer runs: check, stage, or stage and reboot inside the "
                          "reboot window, as /etc/hull/updates.toml says");
  app.add_option("--updates-config", policy_file, "with --auto: read this policy file instead")->needs(au);
  download->excludes(check)->excludes(apply)->excludes(downloaded);
  downloaded->excludes(check);
  au->excludes(check)->excludes(apply)->excludes(download)->excludes(downloaded);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "say how each layer was fetched and verified");
  if (int rc = run_cli11(&app, ctx.prog + " upgrade", args); rc >= 0) return rc;
  Progress progress(f.quiet);
  sysroot::Context c = f.context(progress);
  c.verbose = verbose;
  c.prog = ctx.prog;
  if (autom) return upgrade_auto(c, policy_file, f.quiet);
  sysroot::UpgradeResult r = sysroot::upgrade(c, o);
  say(f.quiet && !o.check, r.message);
  if (o.apply && r.staged) reboot_now();
  return 0;
}

int cmd_switch(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Follow another image from now on: fetch it and queue it for the next boot"};
  HostFlags f;
  f.add(app);
  std::string target, transport = "registry";
  bool apply = false, retain = false;
  app.add_option("TARGET", target, "the image to follow")->required();
  app.add_option("--transport", transport, "registry (default), oci or oci-archive");
  app.add_flag("--apply", apply, "reboot into it once it is staged");
  app.add_flag("--retain", retain, "keep the current deployment as rollback (always the case here)");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "say how each layer was fetched and verified");
  f.policy.add_enforce(app);
  if (int rc = run_cli11(&app, ctx.prog + " switch", args); rc >= 0) return rc;
  image::Transport t = image::transport_from_bootc(transport);
  std::string prefix = t == image::Transport::kDocker ? "docker://" : t == image::Transport::kOci ? "oci:" : "oci-archive:";
  bool has_prefix = target.starts_with("docker://") || target.starts_with("oci:") || target.starts_with("oci-archive:");
  image::ImageName name = image::ImageName::parse(has_prefix ? target : prefix + target);
  Progress progress(f.quiet);
  sysroot::Context c = f.context(progress);
  c.verbose = verbose;
  sysroot::UpgradeResult r = sysroot::switch_image(c, name);
  say(f.quiet, r.message);
  if (apply && r.staged) reboot_now();
  return 0;
}

int cmd_rollback(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Boot the previous deployment next time; a second rollback undoes the first"};
  HostFlags f;
  f.add(app);
  bool apply = false;
  app.add_flag("--apply", apply, "reboot right away");
  if (int rc = run_cli11(&app, ctx.prog + " rollback", args); rc >= 0) return rc;
  Progress progress(true);
  sysroot::Context c = f.context(progress);
  say(f.quiet, sysroot::rollback(c));
  if (apply) reboot_now();
  return 0;
}

namespace {

int install_to_filesystem(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Install an image to a mounted filesystem (or a directory): ostree sysroot, deployment, /var"};
  HostFlags f;
  f.add(app);
  InstallFlags inf;
  sysroot::InstallOptions o;
  app.add_option("ROOT", o.root, "the target root filesystem")->required();
  inf.add(app, o);
  app.add_option("--bootloader", o.bootloader, "libostree's sysroot.bootloader (none, syslinux, ...)");
  f.policy.add_enforce(app);
  if (int rc = run_cli11(&app, ctx.prog + " install to-filesystem", args); rc >= 0) return rc;
  inf.apply(o);
  Progress progress(f.quiet);
  sysroot::Context c = f.context(progress);
  sysroot::Installed done = sysroot::install_to_filesystem(c, o);
  say(f.quiet, fmt::format("Installed {} to {} (commit {})", o.source.str(), o.root, done.commit.substr(0, 12)));
  return 0;
}

int install_to_disk(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Install an image to a whole disk (or, with --via-loopback, a disk image file), bootable on BIOS and UEFI"};
  HostFlags f;
  f.add(app);
  InstallFlags inf;
  std::string root_size;
  install::ToDiskOptions o;
  app.add_option("DEVICE", o.device, "the target block device, or an image file with --via-loopback")->required();
  app.add_flag("--via-loopback", o.via_loopback, "DEVICE is a disk image file (created sparse if missing: --root-size plus 1.5 GiB, else 10 GiB); nothing is mounted either way");
  app.add_flag("--wipe", o.wipe, "overwrite an existing partition table and everything on the disk");
  app.add_option("--filesystem", o.filesystem, "root filesystem (default: the image's /usr/lib/bootc/install/*.toml)")
      ->check(CLI::IsMember({"ext4", "xfs", "btrfs"}));
  app.add_option("--root-size", root_size, "size of the root partition, e.g. 8G (default: the rest of the disk)");
  inf.add(app, o.install);
  f.policy.add_enforce(app);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "print the time of each phase");
  if (int rc = run_cli11(&app, ctx.prog + " install to-disk", args); rc >= 0) return rc;
  if (!root_size.empty()) o.root_size = install::parse_size(root_size);
  inf.apply(o.install);
  Progress progress(f.quiet);
  sysroot::Context c = f.context(progress);
  install::ToDiskResult r = install::install_to_disk(c, o);
  if (verbose) print_phases(r.phases);
  say(f.quiet, fmt::format("Installed {} to {} (commit {}, root {} {})", o.install.source.str(), o.device,
                           r.commit.substr(0, 12), r.layout.root().fs, r.layout.root().fs_uuid));
  return 0;
}

constexpr Command kInstallCommands[] = {
    {"to-filesystem", "install to a mounted filesystem or a directory", install_to_filesystem},
    {"to-disk", "install to a whole disk or a disk image file (partitions, filesystems, GRUB)", install_to_disk},
};

}  // namespace

int cmd_install(Context& ctx, std::vector<std::string> args) {
  return dispatch(ctx, ctx.prog + " install", kInstallCommands, std::move(args));
}

}  // namespace hull::cli
