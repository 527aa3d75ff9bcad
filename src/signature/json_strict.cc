#include "signature/json_strict.h"

#include <set>
#include <vector>

#include "util/error.h"

namespace hull::signature {

nlohmann::json parse_json_strict(std::string_view text) {
  std::vector<std::set<std::string>> keys;
  auto cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start) keys.emplace_back();
    if (ev == E::object_end && !keys.empty()) keys.pop_back();
    if (ev == E::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second)
      fail("duplicate key \"{}\"", parsed.get<std::string>());
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), cb);
  } catch (const nlohmann::json::exception& e) {
    fail("invalid JSON: {}", e.what());
  }
}

void expect_keys(const nlohmann::json& j, std::string_view where, std::initializer_list<std::string_view> allowed) {
  if (!j.is_object()) fail("{}: expected an object", where);
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || it.key() == a;
    if (!ok) fail("{}: unknown key \"{}\"", where, it.key());
  }
}

std::string get_string(const nlohmann::json& j, std::string_view where, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) fail("{}: missing \"{}\"", where, key);
  if (!it->is_string()) fail("{}.{}: expected a string", where, key);
  return it->get<std::string>();
}

}  // namespace hull::signature
