#include "health/assess.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "health/checks.h"
#include "health/run.h"
#include "util/error.h"
#include "util/file.h"

namespace hull::health {
namespace {

// systemd reads a "<N>" prefix on a service's output as the line's priority.
constexpr const char* kErr = "<3>";
constexpr const char* kWarning = "<4>";

std::string checks_file(const std::string& root) { return root + "/run/hull/checks.json"; }

std::vector<std::string> failed_checks(const std::string& root) {
  std::vector<std::string> out;
  std::string path = checks_file(root);
  if (!path_exists(path)) return out;
  nlohmann::json j = nlohmann::json::parse(read_file(path, 1 << 20), nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& r : j)
    if (r.is_string()) out.push_back(r.get<std::string>());
  return out;
}

// Units that failed this boot, other than hull's check runner (its checks
// are named one by one), with the last lines of their journal.
std::vector<std::string> failed_units() {
  std::vector<std::string> out;
  RunResult r = run({"systemctl", "--failed", "--plain", "--no-legend", "--no-pager"}, 30);
  size_t pos = 0;
  while (pos < r.output.size()) {
    size_t nl = r.output.find('\n', pos);
    if (nl == std::string::npos) nl = r.output.size();
    std::string line = r.output.substr(pos, nl - pos);
    pos = nl + 1;
    std::string unit = line.substr(0, line.find(' '));
    if (unit.empty() || unit == "hull-health-check.service") continue;
    RunResult j = run({"journalctl", "-b", "-u", unit, "-n", "3", "-o", "cat", "--no-pager"}, 30);
    std::string tail = last_lines(j.output, 2);
    out.push_back(tail.empty() ? "unit " + unit + " failed" : "unit " + unit + " failed: " + tail);
  }
  return out;
}

bool boot_complete_reached() {
  RunResult r = run({"systemctl", "is-active", "--quiet", "boot-complete.target"}, 30);
  return r.exit_code == 0;
}

}  // namespace

Action decide(sysroot::BootKind kind, bool boot_complete, size_t deployments) {
  switch (kind) {
    case sysroot::BootKind::kNormal:
      return Action::kNothing;
    case sysroot::BootKind::kFallback:
      return Action::kFallBack;
    case sysroot::BootKind::kTrial:
      if (boot_complete) return Action::kBless;
      return deployments >= 2 ? Action::kRecordAndReboot : Action::kRecordOnly;
  }
  return Action::kNothing;
}

bool run_checks(const CheckRunOptions& o, std::vector<std::string>& log) {
  std::vector<Check> checks = find_checks(o.root);
  nlohmann::json failures = nlohmann::json::array();
  bool ok = true;
  for (const Check& c : checks) {
    CheckResult r = run_check(c, o.timeout_s);
    if (r.ok) {
      log.push_back(fmt::format("{} check {} passed ({:.1f} s)", c.required ? "required" : "wanted", c.name, r.seconds));
      continue;
    }
    std::string why = describe_failure(r);
    log.push_back((c.required ? kErr : kWarning) + why);
    if (c.required) {
      ok = false;
      failures.push_back(why);
    }
  }
  if (checks.empty()) log.push_back("no health checks installed");
  std::string path = checks_file(o.root);
  make_dirs(std::filesystem::path(path).parent_path());
  write_file_atomic(path, failures.dump(2) + "\n");
  return ok;
}

Assessment assess(sysroot::Context& ctx, const AssessOptions& o) {
  sysroot::BootState st = sysroot::boot_state(ctx);
  bool complete = o.boot_complete ? *o.boot_complete : boot_complete_reached();
  Assessment a;
  a.action = decide(st.kind, complete, st.deployments);
  switch (a.action) {
    case Action::kNothing:
      if (!complete)
        a.log.push_back(fmt::format("{}boot-complete.target was not reached by {} (not on trial: nothing to undo)",
                                    kWarning, st.booted));
      break;
    case Action::kBless:
      a.log.push_back("blessed: " + sysroot::bless(ctx));
      break;
    case Action::kRecordAndReboot:
    case Action::kRecordOnly: {
      std::vector<std::string> reasons = failed_checks(o.root);
      if (o.root == "/")
        for (auto& u : failed_units()) reasons.push_back(u);
      if (reasons.empty()) reasons.push_back("boot-complete.target was not reached");
      sysroot::record_failed_boot(ctx, reasons);
      int boot = st.trial.tries - st.trial.left;
      a.log.push_back(fmt::format("{}{} failed its trial boot {} of {}:", kErr, st.trial.what, boot, st.trial.tries));
      for (const auto& r : reasons) a.log.push_back(std::string(kErr) + "  " + r);
      if (a.action == Action::kRecordAndReboot) {
        a.log.push_back(st.trial.left > 0 ? fmt::format("rebooting: {} more tries", st.trial.left)
                                          : "rebooting: no tries left, GRUB boots the previous deployment");
        a.reboot = o.reboot;
      } else {
        a.log.push_back("only one deployment: nothing to fall back to");
      }
      break;
    }
    case Action::kFallBack: {
      sysroot::FailedUpdate f = sysroot::fall_back(ctx);
      a.log.push_back(fmt::format("{}update {} failed its trial ({} boots); back on {}, kept as the default; "
                                  "the failed update stays as rollback and is not retried",
                                  kErr, st.trial.what, f.boots, st.booted));
      for (const auto& r : f.reasons) a.log.push_back(std::string(kErr) + "  " + r);
      break;
    }
  }
  return a;
}

}  // namespace hull::health
