#include "sysroot/updates.h"
#include "sysroot/toml_type.h"

#include <errno.h>

#include <toml++/toml.h>

#include <optional>

#include "util/error.h"
#include "util/fd.h"

namespace hull::sysroot {
namespace {

constexpr const char* kShortDays[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kLongDays[7] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
constexpr int kDay = 24 * 60;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// tm_wday of "Mon"/"monday" (any case), or nullopt.
std::optional<int> day_number(std::string_view s) {
  std::string l = lower(trim(s));
  for (int d = 0; d < 7; d++)
    if (l == kLongDays[d] || l == lower(kShortDays[d])) return d;
  return std::nullopt;
}

// Marks the days of "Mon", "Monday" or "Fri-Mon" (a range wraps over the
// week); false if `item` is none of these.
bool add_days(std::string_view item, std::array<bool, 7>& days) {
  size_t dash = item.find('-');
  if (dash == std::string_view::npos) {
    auto d = day_number(item);
    if (d) days[*d] = true;
    return d.has_value();
  }
  auto from = day_number(item.substr(0, dash)), to = day_number(item.substr(dash + 1));
  if (!from || !to) return false;
  for (int d = *from;; d = (d + 1) % 7) {
    days[d] = true;
    if (d == *to) break;
  }
  return true;
}

// Minutes after midnight of "HH:MM" (hours of one or two digits); 24:00
// only if `end`.
std::optional<int> parse_time(std::string_view s, bool end) {
  s = trim(s);
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || s.size() != colon + 3) return std::nullopt;
  int h = 0, m = 0;
  for (char c : s.substr(0, colon)) {
    if (c < '0' || c > '9') return std::nullopt;
    h = h * 10 + (c - '0');
  }
  for (char c : s.substr(colon + 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    m = m * 10 + (c - '0');
  }
  if (m > 59 || h > 24 || (h == 24 && (m != 0 || !end))) return std::nullopt;
  return h * 60 + m;
}

std::string hhmm(int minutes) { return fmt::format("{:02}:{:02}", minutes / 60, minutes % 60); }

void parse_days(const std::string& path, const toml::node& n, RebootWindow& w) {
  constexpr const char* kWhy = "is not a day (Mon..Sun, Monday..Sunday, or a range \"Mon-Fri\")";
  std::array<bool, 7> days{};
  if (const auto* s = n.as_string()) {
    if (!add_days(s->get(), days)) fail("{}: reboot.days: \"{}\" {}", path, s->get(), kWhy);
  } else if (const auto* arr = n.as_array()) {
    for (size_t i = 0; i < arr->size(); i++) {
      const toml::node& item = *arr->get(i);
      if (!item.is_string()) fail("{}: reboot.days[{}] must be a string, not {}", path, i, toml_type_name(item));
      if (!add_days(item.as_string()->get(), days)) fail("{}: reboot.days: \"{}\" {}", path, item.as_string()->get(), kWhy);
    }
  } else {
    fail("{}: reboot.days must be an array of days, not {}", path, toml_type_name(n));
  }
  if (days == std::array<bool, 7>{})
    fail("{}: reboot.days is empty: there would be no time to reboot (use mode = \"stage\" to never reboot)", path);
  w.days = days;
}

void parse_hours(const std::string& path, const toml::node& n, RebootWindow& w) {
  const auto* s = n.as_string();
  if (!s) fail("{}: reboot.hours must be a string \"HH:MM-HH:MM\", not {}", path, toml_type_name(n));
  std::string_view v = s->get();
  size_t dash = v.find('-');
  if (dash == std::string_view::npos) fail("{}: reboot.hours = \"{}\": expected a window \"HH:MM-HH:MM\"", path, v);
  auto start = parse_time(v.substr(0, dash), false);
  if (!start) fail("{}: reboot.hours = \"{}\": \"{}\" is not a start time (00:00 to 23:59)", path, v, trim(v.substr(0, dash)));
  auto end = parse_time(v.substr(dash + 1), true);
  if (!end) fail("{}: reboot.hours = \"{}\": \"{}\" is not an end time (00:00 to 24:00)", path, v, trim(v.substr(dash + 1)));
  if (*start == *end) fail("{}: reboot.hours = \"{}\": the window is empty (start equals end)", path, v);
  if (*end == 0) *end = kDay;  // "22:00-00:00" ends at midnight
  w.start = *start;
  w.end = *end;
}

void parse_reboot(const std::string& path, const toml::node& n, RebootWindow& w) {
  const auto* t = n.as_table();
  if (!t) fail("{}: reboot must be a table ([reboot]), not {}", path, toml_type_name(n));
  for (auto&& [k, v] : *t) {
    if (k.str() == "days")
      parse_days(path, v, w);
    else if (k.str() == "hours")
      parse_hours(path, v, w);
    else
      fail("{}: unknown key \"reboot.{}\" (expected days, hours)", path, k.str());
  }
}

}  // namespace

std::string_view update_mode_name(UpdateMode mode) {
  switch (mode) {
    case UpdateMode::kApply: return "apply";
    case UpdateMode::kStage: return "stage";
    case UpdateMode::kCheck: return "check";
  }
  return "?";
}

UpdatePolicy parse_update_policy(std::string_view text, const std::string& path) {
  toml::table doc;
  try {
    doc = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    fail("{}: line {}, column {}: {}", path, at.line, at.column, e.description());
  }
  UpdatePolicy p;
  for (auto&& [k, v] : doc) {
    if (k.str() == "mode") {
      const auto* s = v.as_string();
      if (!s) fail("{}: mode must be a string, not {}", path, toml_type_name(v));
      if (s->get() == "apply")
        p.mode = UpdateMode::kApply;
      else if (s->get() == "stage")
        p.mode = UpdateMode::kStage;
      else if (s->get() == "check")
        p.mode = UpdateMode::kCheck;
      else
        fail("{}: mode = \"{}\" is not a mode (apply, stage or check)", path, s->get());
    } else if (k.str() == "reboot") {
      parse_reboot(path, v, p.reboot);
    } else {
      fail("{}: unknown key \"{}\" (expected mode, reboot)", path, k.str());
    }
  }
  return p;
}

UpdatePolicy load_update_policy(const std::string& path) {
  std::string text;
  try {
    text = read_file(path, 1 << 20);
  } catch (const SystemError& e) {
    if (e.code() == ENOENT) return {};
    throw;
  }
  return parse_update_policy(text, path);
}

bool in_reboot_window(const RebootWindow& w, const std::tm& local) {
  int day = ((local.tm_wday % 7) + 7) % 7;
  int now = local.tm_hour * 60 + local.tm_min;
  if (w.start < w.end) return w.days[day] && now >= w.start && now < w.end;
  if (w.start == w.end) return false;
  // Wraps past midnight: the evening of a window day, or the morning after one.
  return (w.days[day] && now >= w.start) || (w.days[(day + 6) % 7] && now < w.end);
}

std::string describe_reboot_window(const RebootWindow& w) {
  std::string hours = hhmm(w.start) + "-" + hhmm(w.end);
  if (w.days == std::array<bool, 7>{true, true, true, true, true, true, true}) return "every day " + hours;
  // Week order from Monday; a run that goes on from Sunday into Monday
  // starts where it begins (Fri-Mon).
  int first = 1;
  while (w.days[first % 7] && w.days[(first + 6) % 7]) first = (first + 6) % 7;
  std::string out;
  for (int i = 0; i < 7;) {
    int d = (first + i) % 7;
    if (!w.days[d]) {
      i++;
      continue;
    }
    int j = i;
    while (j + 1 < 7 && w.days[(first + j + 1) % 7]) j++;
    if (!out.empty()) out += ",";
    out += kShortDays[d];
    if (j > i) out += std::string("-") + kShortDays[(first + j) % 7];
    i = j + 1;
  }
  return out + " " + hours;
}

AutoAction decide_auto_reboot(const UpdatePolicy& policy, bool staged, const std::tm& local) {
  if (policy.mode != UpdateMode::kApply || !staged) return AutoAction::kNone;
  return in_reboot_window(policy.reboot, local) ? AutoAction::kReboot : AutoAction::kWait;
}

}  // namespace hull::sysroot
