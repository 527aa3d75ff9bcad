#include "image/inspect.h"

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace hull::image {

InspectData inspect(Source& src, const std::optional<oci::Platform>& platform) {
  return with_context(fmt::format("inspecting {}", src.describe()), [&] {
    InspectData data;
    Doc top = src.top();
    data.manifest = resolve_manifest(src, top, platform);
    oci::Manifest m = oci::Manifest::parse(data.manifest.bytes, data.manifest.media_type);
    data.config = src.blob_bytes(m.config, oci::kMaxConfigSize);
    if (const oci::Reference* r = src.registry_ref()) {
      data.name = r->name();
      if (!r->tag.empty()) data.tag = r->tag;
    } else {
      data.name = src.describe();
    }
    return data;
  });
}

std::string render_inspect_json(const InspectData& data) {
  using nlohmann::ordered_json;
  oci::Manifest m = oci::Manifest::parse(data.manifest.bytes, data.manifest.media_type);
  oci::ImageConfig cfg = oci::ImageConfig::parse(data.config);
  auto raw_cfg = nlohmann::json::parse(data.config);

  ordered_json j;
  j["Name"] = data.name;
  j["Digest"] = data.manifest.digest.str();
  j["RepoTags"] = data.tag ? ordered_json::array({*data.tag}) : ordered_json::array();
  j["Created"] = cfg.created;
  j["DockerVersion"] = raw_cfg.value("docker_version", "");
  j["Labels"] = cfg.labels.empty() ? ordered_json(nullptr) : ordered_json(cfg.labels);
  j["Architecture"] = cfg.architecture;
  if (!cfg.variant.empty()) j["Variant"] = cfg.variant;
  j["Os"] = cfg.os;
  j["MediaType"] = data.manifest.media_type;
  ordered_json layers = ordered_json::array();
  ordered_json layers_data = ordered_json::array();
  int64_t total = 0;
  for (auto& l : m.layers) {
    layers.push_back(l.digest.str());
    ordered_json ld;
    ld["MIMEType"] = l.media_type;
    ld["Digest"] = l.digest.str();
    ld["Size"] = l.size;
    ld["Annotations"] = l.annotations.empty() ? ordered_json(nullptr) : ordered_json(l.annotations);
    layers_data.push_back(ld);
    total += l.size;
  }
  j["Layers"] = layers;
  j["LayersData"] = layers_data;
  j["Size"] = total;
  auto env = raw_cfg.contains("config") && raw_cfg["config"].is_object() ? raw_cfg["config"].value("Env", nlohmann::json::array())
                                                                        : nlohmann::json::array();
  j["Env"] = env.is_null() ? ordered_json::array() : ordered_json::parse(env.dump());
  return j.dump(4) + "\n";
}

}  // namespace hull::image
