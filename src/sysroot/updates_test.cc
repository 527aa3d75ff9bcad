#include "sysroot/updates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "util/error.h"
#include "util/file.h"

namespace hull::sysroot {
namespace {

using testing::HasSubstr;

constexpr const char* kPath = "/etc/hull/updates.toml";

// A local time: day of the week (0 is Sunday) and HH:MM.
std::tm at(int wday, int hour, int minute) {
  std::tm t{};
  t.tm_wday = wday;
  t.tm_hour = hour;
  t.tm_min = minute;
  return t;
}
enum { kSun, kMon, kTue, kWed, kThu, kFri, kSat };

RebootWindow window(const std::string& toml) { return parse_update_policy("[reboot]\n" + toml, kPath).reboot; }

std::string error_of(std::string_view text) {
  try {
    parse_update_policy(text, kPath);
  } catch (const Error& e) {
    return e.message();
  }
  return "<no error>";
}

TEST(UpdatePolicy, EmptyFileIsTheDefaults) {
  UpdatePolicy p = parse_update_policy("", kPath);
  EXPECT_EQ(p, UpdatePolicy{});
  EXPECT_EQ(p.mode, UpdateMode::kApply);
  EXPECT_EQ(describe_reboot_window(p.reboot), "every day 00:00-24:00");
  // The defaults written out, as in the file's documentation.
  EXPECT_EQ(parse_update_policy("mode = \"apply\"\n[reboot]\ndays = [\"Mon\",\"Tue\",\"Wed\",\"Thu\",\"Fri\",\"Sat\",\"Sun\"]\n"
                                "hours = \"00:00-24:00\"\n",
                                kPath),
            UpdatePolicy{});
}

TEST(UpdatePolicy, Modes) {
  const std::pair<const char*, UpdateMode> cases[] = {
      {"apply", UpdateMode::kApply}, {"stage", UpdateMode::kStage}, {"check", UpdateMode::kCheck}};
  for (const auto& [name, mode] : cases) {
    SCOPED_TRACE(name);
    EXPECT_EQ(parse_update_policy(fmt::format("mode = \"{}\"\n", name), kPath).mode, mode);
    EXPECT_EQ(update_mode_name(mode), name);
  }
}

TEST(UpdatePolicy, MissingFileIsTheDefaults) {
  TempDir dir("hull-updates");
  EXPECT_EQ(load_update_policy(dir.path() + "/updates.toml"), UpdatePolicy{});
  write_file_atomic(dir.path() + "/updates.toml", "mode = \"check\"\n");
  EXPECT_EQ(load_update_policy(dir.path() + "/updates.toml").mode, UpdateMode::kCheck);
  write_file_atomic(dir.path() + "/bad.toml", "mode = \"sometimes\"\n");
  EXPECT_THROW(load_update_policy(dir.path() + "/bad.toml"), Error);
  // A directory where the file should be is an error, not the defaults.
  make_dirs(dir.path() + "/dir.toml");
  EXPECT_THROW(load_update_policy(dir.path() + "/dir.toml"), Error);
}

TEST(UpdatePolicy, Days) {
  const std::pair<const char*, const char*> cases[] = {
      {"days = [\"Sat\", \"Sun\"]", "Sat-Sun"},
      {"days = [\"saturday\", \"SUNDAY\"]", "Sat-Sun"},
      {"days = \"Sat-Sun\"", "Sat-Sun"},
      {"days = [\"Mon-Fri\"]", "Mon-Fri"},
      {"days = [\"Monday-Friday\"]", "Mon-Fri"},
      {"days = [\"Fri-Mon\"]", "Fri-Mon"},  // wraps over the week
      {"days = [\"Sun-Sat\"]", "every day"},
      {"days = [\"Mon\", \"Wed\", \"Fri\"]", "Mon,Wed,Fri"},
      {"days = [\"Mon\", \"Tue\", \"Thu\"]", "Mon-Tue,Thu"},
      {"days = [\"Sun\"]", "Sun"},
      {"days = [\"Sun\", \"Mon\", \"Wed\"]", "Sun-Mon,Wed"},
      {"days = [\"Tue\", \"Tue\", \"Tue-Tue\"]", "Tue"},
      {"days = [\"Mon-Wed\", \"Tue-Thu\"]", "Mon-Thu"},
  };
  for (const auto& [toml, want] : cases) {
    SCOPED_TRACE(toml);
    EXPECT_EQ(describe_reboot_window(window(std::string(toml) + "\nhours = \"02:00-05:00\"\n")),
              std::string(want) + " 02:00-05:00");
  }
  RebootWindow w = window("days = [\"Fri-Mon\"]");
  EXPECT_EQ(w.days, (std::array<bool, 7>{true, true, false, false, false, true, true}));
}

TEST(UpdatePolicy, Hours) {
  const std::tuple<const char*, int, int, const char*> cases[] = {
      {"00:00-24:00", 0, 1440, "00:00-24:00"},
      {"02:00-05:00", 120, 300, "02:00-05:00"},
      {"2:00-5:30", 120, 330, "02:00-05:30"},
      {" 02:00 - 05:00 ", 120, 300, "02:00-05:00"},
      {"22:00-04:00", 1320, 240, "22:00-04:00"},  // wraps past midnight
      {"22:00-00:00", 1320, 1440, "22:00-24:00"},  // 00:00 as an end is midnight
      {"23:59-24:00", 1439, 1440, "23:59-24:00"},
  };
  for (const auto& [hours, start, end, shown] : cases) {
    SCOPED_TRACE(hours);
    RebootWindow w = window(fmt::format("hours = \"{}\"\n", hours));
    EXPECT_EQ(w.start, start);
    EXPECT_EQ(w.end, end);
    EXPECT_EQ(describe_reboot_window(w), std::string("every day ") + shown);
  }
}

TEST(UpdatePolicy, RefusedWithFileKeyAndValue) {
  const std::pair<const char*, const char*> cases[] = {
      {"mode = \"sometimes\"", "/etc/hull/updates.toml: mode = \"sometimes\" is not a mode (apply, stage or check)"},
      {"mode = 1", "/etc/hull/updates.toml: mode must be a string, not an integer"},
      {"modes = \"apply\"", "/etc/hull/updates.toml: unknown key \"modes\" (expected mode, reboot)"},
      {"reboot = \"sat\"", "/etc/hull/updates.toml: reboot must be a table ([reboot]), not a string"},
      {"[reboot]\nday = [\"Sat\"]", "/etc/hull/updates.toml: unknown key \"reboot.day\" (expected days, hours)"},
      {"[reboot]\ndays = [\"Sonday\"]",
       "/etc/hull/updates.toml: reboot.days: \"Sonday\" is not a day (Mon..Sun, Monday..Sunday, or a range \"Mon-Fri\")"},
      {"[reboot]\ndays = [\"Mon-Fry\"]",
       "/etc/hull/updates.toml: reboot.days: \"Mon-Fry\" is not a day (Mon..Sun, Monday..Sunday, or a range \"Mon-Fri\")"},
      {"[reboot]\ndays = [\"Mo\"]",
       "/etc/hull/updates.toml: reboot.days: \"Mo\" is not a day (Mon..Sun, Monday..Sunday, or a range \"Mon-Fri\")"},
      {"[reboot]\ndays = [1]", "/etc/hull/updates.toml: reboot.days[0] must be a string, not an integer"},
      {"[reboot]\ndays = 5", "/etc/hull/updates.toml: reboot.days must be an array of days, not an integer"},
      {"[reboot]\ndays = []",
       "/etc/hull/updates.toml: reboot.days is empty: there would be no time to reboot (use mode = \"stage\" to never "
       "reboot)"},
      {"[reboot]\nhours = \"25:00-04:00\"",
       "/etc/hull/updates.toml: reboot.hours = \"25:00-04:00\": \"25:00\" is not a start time (00:00 to 23:59)"},
      {"[reboot]\nhours = \"24:00-04:00\"",
       "/etc/hull/updates.toml: reboot.hours = \"24:00-04:00\": \"24:00\" is not a start time (00:00 to 23:59)"},
      {"[reboot]\nhours = \"02:00-04:60\"",
       "/etc/hull/updates.toml: reboot.hours = \"02:00-04:60\": \"04:60\" is not an end time (00:00 to 24:00)"},
      {"[reboot]\nhours = \"02:00-24:01\"",
       "/etc/hull/updates.toml: reboot.hours = \"02:00-24:01\": \"24:01\" is not an end time (00:00 to 24:00)"},
      {"[reboot]\nhours = \"2am-4am\"",
       "/etc/hull/updates.toml: reboot.hours = \"2am-4am\": \"2am\" is not a start time (00:00 to 23:59)"},
      {"[reboot]\nhours = \"02:0-04:00\"",
       "/etc/hull/updates.toml: reboot.hours = \"02:0-04:00\": \"02:0\" is not a start time (00:00 to 23:59)"},
      {"[reboot]\nhours = \"123:00-04:00\"",
       "/etc/hull/updates.toml: reboot.hours = \"123:00-04:00\": \"123:00\" is not a start time (00:00 to 23:59)"},
      {"[reboot]\nhours = \"02:00\"", "/etc/hull/updates.toml: reboot.hours = \"02:00\": expected a window \"HH:MM-HH:MM\""},
      {"[reboot]\nhours = \"03:00-03:00\"",
       "/etc/hull/updates.toml: reboot.hours = \"03:00-03:00\": the window is empty (start equals end)"},
      {"[reboot]\nhours = \"00:00-00:00\"",
       "/etc/hull/updates.toml: reboot.hours = \"00:00-00:00\": the window is empty (start equals end)"},
      {"[reboot]\nhours = [\"02:00-04:00\"]",
       "/etc/hull/updates.toml: reboot.hours must be a string \"HH:MM-HH:MM\", not an array"},
  };
  for (const auto& [text, want] : cases) {
    SCOPED_TRACE(text);
    std::string err = error_of(text);
    EXPECT_EQ(err, want);
    EXPECT_EQ(err.find('\n'), std::string::npos);
  }
  // Malformed TOML: the file, the line and the column.
  EXPECT_THAT(error_of("mode = \"apply\"\nmode = \"stage\"\n"), HasSubstr("/etc/hull/updates.toml: line 2, column"));
  EXPECT_THAT(error_of("[reboot\n"), HasSubstr("/etc/hull/updates.toml: line 1, column"));
}

TEST(RebootWindow, EdgesStartInclusiveEndExclusive) {
  RebootWindow w = window("days = [\"Sat-Sun\"]\nhours = \"02:00-05:00\"\n");
  const std::tuple<std::tm, bool> cases[] = {
      {at(kSat, 1, 59), false}, {at(kSat, 2, 0), true},   {at(kSat, 3, 30), true},  {at(kSat, 4, 59), true},
      {at(kSat, 5, 0), false},  {at(kSun, 2, 0), true},   {at(kSun, 4, 59), true},  {at(kSun, 5, 0), false},
      {at(kMon, 2, 0), false},  {at(kFri, 3, 0), false},  {at(kSat, 23, 0), false}, {at(kSun, 0, 0), false},
  };
  for (const auto& [t, want] : cases) {
    SCOPED_TRACE(fmt::format("wday {} {:02}:{:02}", t.tm_wday, t.tm_hour, t.tm_min));
    EXPECT_EQ(in_reboot_window(w, t), want);
  }
}

TEST(RebootWindow, WrapBelongsToTheDayItStartsOn) {
  RebootWindow w = window("days = [\"Fri\"]\nhours = \"22:00-04:00\"\n");
  const std::tuple<std::tm, bool> cases[] = {
      {at(kFri, 21, 59), false}, {at(kFri, 22, 0), true},  {at(kFri, 23, 59), true}, {at(kSat, 0, 0), true},
      {at(kSat, 1, 0), true},    {at(kSat, 3, 59), true},  {at(kSat, 4, 0), false},  {at(kSat, 22, 0), false},
      {at(kFri, 1, 0), false},  // the morning of Friday belongs to Thursday's window
      {at(kThu, 23, 0), false},
  };
  for (const auto& [t, want] : cases) {
    SCOPED_TRACE(fmt::format("wday {} {:02}:{:02}", t.tm_wday, t.tm_hour, t.tm_min));
    EXPECT_EQ(in_reboot_window(w, t), want);
  }
  // Saturday's window runs into Sunday morning, over the end of the week too.
  RebootWindow sat = window("days = [\"Sat\"]\nhours = \"23:00-01:00\"\n");
  EXPECT_TRUE(in_reboot_window(sat, at(kSun, 0, 30)));
  EXPECT_FALSE(in_reboot_window(sat, at(kMon, 0, 30)));
  RebootWindow sun = window("days = [\"Sun\"]\nhours = \"23:00-01:00\"\n");
  EXPECT_TRUE(in_reboot_window(sun, at(kMon, 0, 30)));
  EXPECT_FALSE(in_reboot_window(sun, at(kSun, 0, 30)));
}

TEST(RebootWindow, RangesAndWholeDays) {
  RebootWindow weekdays = window("days = [\"Mon-Fri\"]\n");
  for (int d = kSun; d <= kSat; d++) {
    SCOPED_TRACE(d);
    bool want = d != kSun && d != kSat;
    EXPECT_EQ(in_reboot_window(weekdays, at(d, 0, 0)), want);
    EXPECT_EQ(in_reboot_window(weekdays, at(d, 23, 59)), want);
  }
  RebootWindow wrapweek = window("days = [\"Fri-Mon\"]\nhours = \"01:00-02:00\"\n");
  EXPECT_TRUE(in_reboot_window(wrapweek, at(kSun, 1, 0)));
  EXPECT_TRUE(in_reboot_window(wrapweek, at(kMon, 1, 0)));
  EXPECT_FALSE(in_reboot_window(wrapweek, at(kTue, 1, 0)));
  // An empty window (start == end; the parser refuses it) never matches.
  RebootWindow empty;
  empty.start = empty.end = 60;
  EXPECT_FALSE(in_reboot_window(empty, at(kMon, 1, 0)));
}

TEST(AutoReboot, DecidedByModeStagedAndWindow) {
  UpdatePolicy apply = parse_update_policy("[reboot]\ndays = \"Sat-Sun\"\nhours = \"02:00-05:00\"\n", kPath);
  UpdatePolicy stage = apply, check = apply;
  stage.mode = UpdateMode::kStage;
  check.mode = UpdateMode::kCheck;
  const std::tuple<const char*, UpdatePolicy, bool, std::tm, AutoAction> cases[] = {
      {"apply, staged, inside", apply, true, at(kSat, 3, 0), AutoAction::kReboot},
      {"apply, staged, at the start", apply, true, at(kSun, 2, 0), AutoAction::kReboot},
      {"apply, staged, at the end", apply, true, at(kSun, 5, 0), AutoAction::kWait},
      {"apply, staged, a weekday", apply, true, at(kWed, 3, 0), AutoAction::kWait},
      {"apply, nothing staged, inside", apply, false, at(kSat, 3, 0), AutoAction::kNone},
      {"stage, staged, inside", stage, true, at(kSat, 3, 0), AutoAction::kNone},
      {"check, staged, inside", check, true, at(kSat, 3, 0), AutoAction::kNone},
      {"defaults, staged, any time", UpdatePolicy{}, true, at(kTue, 13, 37), AutoAction::kReboot},
  };
  for (const auto& [name, policy, staged, t, want] : cases) {
    SCOPED_TRACE(name);
    EXPECT_EQ(decide_auto_reboot(policy, staged, t), want);
  }
}

}  // namespace
}  // namespace hull::sysroot
