// YAML as serde_yaml 0.9 (libyaml's emitter) writes it, which is what
// `bootc status --format yaml` prints: block style, sequences not indented
// under their key, strings quoted only where YAML would read them as
// something else. For status.cc's document tree; no I/O.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace hull::sysroot {

// The tree (objects keep their insertion order) as a YAML document, ending in "\n".
std::string to_yaml(const nlohmann::ordered_json& doc);

}  // namespace hull::sysroot
