// Boot assessment, after boot-complete.target (systemd's line between a
// good and a bad boot; hull's health checks and any unit with
// RequiredBy=boot-complete.target are part of it):
//   - no trial: nothing to do (a failure is only logged);
//   - the deployment on trial booted and the target was reached: blessed;
//   - it booted and the target failed: the reasons are recorded and the
//     host reboots, so that GRUB counts the next try (with one deployment
//     there is nothing to fall back to: logged only);
//   - another deployment booted while a trial is armed (GRUB fell back):
//     the rollback is made permanent and the failure recorded; never a
//     reboot on this boot.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sysroot/sysroot.h"

namespace hull::health {

enum class Action { kNothing, kBless, kRecordAndReboot, kRecordOnly, kFallBack };

Action decide(sysroot::BootKind kind, bool boot_complete, size_t deployments);

struct CheckRunOptions {
  std::string root = "/";  // where the check directories are (tests: a tree)
  int timeout_s = 300;     // per check (boot.toml's check-timeout)
};

// Runs every check; logs one line per check (failures with a journal
// priority prefix), writes the failures to ROOT/run/hull/checks.json for
// the assessment, returns false if a required check failed.
bool run_checks(const CheckRunOptions& o, std::vector<std::string>& log);

struct AssessOptions {
  std::string root = "/";               // for run/hull/checks.json
  std::optional<bool> boot_complete;    // unset: ask systemd (systemctl is-active boot-complete.target)
  bool reboot = true;                   // false: say so instead of rebooting (tests)
};

struct Assessment {
  Action action = Action::kNothing;
  std::vector<std::string> log;  // lines for the journal
  bool reboot = false;           // the caller reboots
};

Assessment assess(sysroot::Context& ctx, const AssessOptions& o);

}  // namespace hull::health
