#include "registry/registries_conf.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include <toml++/toml.h>

#include "util/error.h"
#include "util/fd.h"

namespace hull::registry {

std::vector<std::string> insecure_locations(std::string_view name, std::string_view text) {
  toml::table doc;
  try {
    doc = toml::parse(text, std::string(name));
  } catch (const toml::parse_error& e) {
    fail("{}: {}", name, e.description());
  }
  std::vector<std::string> out;
  if (auto* regs = doc["registry"].as_array()) {
    for (auto& r : *regs) {
      auto* t = r.as_table();
      if (!t) continue;
      auto loc = (*t)["location"].value<std::string>();
      if (!loc) loc = (*t)["prefix"].value<std::string>();
      if (loc && (*t)["insecure"].value_or(false)) out.push_back(*loc);
    }
  }
  return out;
}

namespace {

std::vector<std::string> load_all() {
  std::vector<std::string> files;
  if (const char* env = getenv("HULL_REGISTRIES_CONF"); env && *env) {
    files.push_back(env);
  } else {
    files.push_back("/etc/containers/registries.conf");
    std::error_code ec;
    std::vector<std::string> dropins;
    for (auto& e : std::filesystem::directory_iterator("/etc/containers/registries.conf.d", ec))
      if (e.path().extension() == ".conf") dropins.push_back(e.path().string());
    std::sort(dropins.begin(), dropins.end());
    files.insert(files.end(), dropins.begin(), dropins.end());
  }
  std::vector<std::string> hosts;
  for (auto& f : files) {
    std::error_code ec;
    if (!std::filesystem::exists(f, ec)) continue;
    auto locs = insecure_locations(f, read_file(f, 1 << 20));
    hosts.insert(hosts.end(), locs.begin(), locs.end());
  }
  return hosts;
}

}  // namespace

bool host_is_insecure(const std::string& host) {
  static std::once_flag once;
  static std::vector<std::string> hosts;
  std::call_once(once, [] { hosts = load_all(); });
  for (auto& h : hosts) {
    // "host[:port]" or "host[:port]/namespace": the registry part must match.
    std::string reg = h.substr(0, h.find('/'));
    if (reg == host) return true;
  }
  return false;
}

}  // namespace hull::registry
