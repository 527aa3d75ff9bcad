// `hull image inspect`: what an image is, as JSON, with the key names of
// `skopeo inspect` (Name, Digest, Created, Labels, Architecture, Os,
// Layers, LayersData) so that scripts written for it keep working, plus
// MediaType. The rendering is separate from the fetching and is tested on
// fixed documents.
#pragma once

#include <optional>
#include <string>

#include "image/source.h"

namespace hull::image {

struct InspectData {
  std::string name;       // repository name, or the layout path
  std::optional<std::string> tag;
  Doc manifest;           // the platform's image manifest
  std::string config;     // its config blob
};

// Fetches manifest and config of `src` for `platform` (default: host's).
InspectData inspect(Source& src, const std::optional<oci::Platform>& platform);

// The JSON document printed by `hull image inspect` (pretty, 4-space).
std::string render_inspect_json(const InspectData& data);

}  // namespace hull::image
