#include "signature/registries_d.h"

#include <dirent.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "signature/policy.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::signature {
namespace {

RegistryNamespace parse_namespace(const YAML::Node& n, const std::string& where) {
  RegistryNamespace ns;
  if (n.IsNull()) return ns;
  if (!n.IsMap()) fail("{}: expected a mapping", where);
  try {
    if (n["lookaside"]) ns.lookaside = n["lookaside"].as<std::string>();
    else if (n["sigstore"]) ns.lookaside = n["sigstore"].as<std::string>();
    if (n["lookaside-staging"]) ns.lookaside_staging = n["lookaside-staging"].as<std::string>();
    else if (n["sigstore-staging"]) ns.lookaside_staging = n["sigstore-staging"].as<std::string>();
    if (n["use-sigstore-attachments"]) ns.use_sigstore_attachments = n["use-sigstore-attachments"].as<bool>();
  } catch (const YAML::Exception& e) {
    fail("{}: {}", where, e.msg);
  }
  return ns;
}

// The entry of `conf` that applies to `name`, as signatureTopLevel and
// useSigstoreAttachments look it up; `pick` says whether an entry decides.
template <typename Pick>
void lookup(const RegistriesD& conf, const image::ImageName& name, Pick pick) {
  for (const std::string& s : policy_scopes(name)) {
    auto it = conf.docker.find(s);
    if (it != conf.docker.end() && pick(it->second)) return;
  }
  if (conf.default_docker) pick(*conf.default_docker);
}

}  // namespace

void parse_registries_d_file(std::string_view text, const std::string& file, RegistriesD& into) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    fail("{}: invalid YAML: {}", file, e.msg);
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) fail("{}: expected a mapping at the top", file);
  if (YAML::Node d = root["default-docker"]; d) {
    if (into.default_docker) fail("{}: \"default-docker\" is defined in another file too", file);
    into.default_docker = parse_namespace(d, file + ": default-docker");
  }
  if (YAML::Node docker = root["docker"]; docker && !docker.IsNull()) {
    if (!docker.IsMap()) fail("{}: docker: expected a mapping", file);
    for (auto it = docker.begin(); it != docker.end(); ++it) {
      std::string key = it->first.as<std::string>();
      if (into.docker.count(key)) fail("{}: docker namespace \"{}\" is defined in another file too", file, key);
      into.docker[key] = parse_namespace(it->second, file + ": docker." + key);
    }
  }
}

RegistriesD load_registries_d(const std::string& dir_arg) {
  std::string dir = dir_arg;
  if (dir.empty()) {
    const char* home = std::getenv("HOME");
    std::string user = home && *home ? std::string(home) + "/.config/containers/registries.d" : "";
    dir = !user.empty() && path_exists(user) ? user : "/etc/containers/registries.d";
  }
  RegistriesD conf;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return conf;
    fail_errno(fmt::format("reading {}", dir));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (std::string_view(e->d_name).ends_with(".yaml")) names.push_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (auto& n : names) {
    std::string path = dir + "/" + n;
    parse_registries_d_file(read_file(path, 1u << 20), path, conf);
  }
  return conf;
}

namespace {
std::string base_for(const RegistriesD& conf, const image::ImageName& name, bool write) {
  std::string base;
  lookup(conf, name, [&](const RegistryNamespace& ns) {
    base = write && !ns.lookaside_staging.empty() ? ns.lookaside_staging : ns.lookaside;
    return !base.empty();
  });
  if (base.empty()) {
    const char* home = std::getenv("HOME");
    base = ::geteuid() == 0 || !home ? "file:///var/lib/containers/sigstore"
                                     : "file://" + std::string(home) + "/.local/share/containers/sigstore";
  }
  while (base.ends_with('/')) base.pop_back();
  return base + "/" + name.ref.repository;
}
}  // namespace

std::string lookaside_base(const RegistriesD& conf, const image::ImageName& name) {
  return base_for(conf, name, false);
}

std::string lookaside_write_base(const RegistriesD& conf, const image::ImageName& name) {
  return base_for(conf, name, true);
}

bool use_sigstore_attachments(const RegistriesD& conf, const image::ImageName& name) {
  bool use = false;
  lookup(conf, name, [&](const RegistryNamespace& ns) {
    if (!ns.use_sigstore_attachments) return false;
    use = *ns.use_sigstore_attachments;
    return true;
  });
  return use;
}

}  // namespace hull::signature
