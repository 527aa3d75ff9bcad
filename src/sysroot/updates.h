// The update policy of /etc/hull/updates.toml: what `hull upgrade --auto`
// (run by hull-fetch-apply-updates.timer) does, and when it may reboot.
//
//   mode = "apply"        # stage, and reboot inside the reboot window
//                         # "stage": stage, never reboot; "check": only say
//                         # whether an update exists
//   [reboot]
//   days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
//   hours = "00:00-24:00"
//
// Every key is optional; the values above are the defaults, and a missing
// file means the defaults. Days are "Mon".."Sun", "Monday".."Sunday" (any
// case) or ranges of them ("Mon-Fri", "Fri-Mon" wraps over the week);
// `days` may also be one string ("Sat-Sun"). Hours are "HH:MM-HH:MM" in
// local time, start inclusive, end exclusive, 24:00 (or 00:00) only as an
// end, meaning midnight; a
// window whose end is before its start wraps past midnight and belongs to
// the day it starts on: days = ["Fri"], hours = "22:00-04:00" is Friday
// 22:00 to Saturday 04:00.
//
// Pure functions: the parser takes the text, the window takes the time.
#pragma once

#include <array>
#include <ctime>
#include <string>
#include <string_view>

namespace hull::sysroot {

inline constexpr const char* kUpdatePolicyFile = "/etc/hull/updates.toml";

enum class UpdateMode {
  kApply,  // upgrade, then reboot into a staged deployment inside the window
  kStage,  // upgrade (staged for the next boot), never reboot
  kCheck,  // only report whether an update is available
};

// "apply", "stage", "check".
std::string_view update_mode_name(UpdateMode mode);

struct RebootWindow {
  std::array<bool, 7> days{true, true, true, true, true, true, true};  // by tm_wday: [0] is Sunday
  int start = 0;     // minutes after midnight, 0..1439
  int end = 24 * 60; // minutes after midnight, 1..1440; end < start wraps past midnight
  friend bool operator==(const RebootWindow&, const RebootWindow&) = default;
};

struct UpdatePolicy {
  UpdateMode mode = UpdateMode::kApply;
  RebootWindow reboot;
  friend bool operator==(const UpdatePolicy&, const UpdatePolicy&) = default;
};

// Parses the TOML `text` of the file `path` (named in errors). An unknown
// key, a value of the wrong type, a bad mode, day or time is one Error line
// naming the file, the key and the value:
//   /etc/hull/updates.toml: reboot.days: "Sonday" is not a day (Mon..Sun, Monday..Sunday, or a range "Mon-Fri")
UpdatePolicy parse_update_policy(std::string_view text, const std::string& path);

// Reads and parses `path`; a file that does not exist gives the defaults.
UpdatePolicy load_update_policy(const std::string& path);

// True if the local time `local` (tm_wday, tm_hour, tm_min) is inside the
// window. A window with start == end (never parsed) is empty.
bool in_reboot_window(const RebootWindow& w, const std::tm& local);

// The window for messages: "Sat-Sun 02:00-05:00", "Mon,Wed,Fri 22:00-04:00",
// "every day 00:00-24:00". Runs of two or more days are ranges in week
// order starting on Monday, except that a run over Sunday into Monday stays
// one range ("Fri-Mon").
std::string describe_reboot_window(const RebootWindow& w);

// What `upgrade --auto` does once the upgrade has run.
enum class AutoAction {
  kNone,    // nothing to reboot into, or a mode that never reboots
  kReboot,  // reboot now: a deployment is staged and the time is inside the window
  kWait,    // a deployment is staged but the time is outside the window
};

// The decision: `staged` is true when a deployment is staged and will be
// finalized at shutdown (new in this run or left by an earlier one).
AutoAction decide_auto_reboot(const UpdatePolicy& policy, bool staged, const std::tm& local);

}  // namespace hull::sysroot
