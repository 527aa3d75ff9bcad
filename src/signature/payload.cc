#include "signature/payload.h"

#include <cmath>

#include "signature/json_strict.h"
#include "util/error.h"

namespace hull::signature {

Payload parse_payload(std::string_view bytes, std::string_view type) {
  return with_context("invalid signature payload", [&] {
    nlohmann::json j = parse_json_strict(bytes);
    bool cosign = type == kCosignType;
    expect_keys(j, "payload", {"critical", "optional"});
    if (!j.contains("critical")) fail("missing \"critical\"");
    if (!cosign && !j.contains("optional")) fail("missing \"optional\"");
    if (!cosign) {
      const nlohmann::json& opt = j["optional"];
      if (!opt.is_object()) fail("optional: expected an object");
      if (opt.contains("creator") && !opt["creator"].is_string()) fail("optional.creator: expected a string");
      if (opt.contains("timestamp")) {
        const nlohmann::json& t = opt["timestamp"];
        if (!t.is_number()) fail("optional.timestamp: expected a number");
        double v = t.get<double>();
        if (std::trunc(v) != v) fail("optional.timestamp: not an integer");
      }
    }
    const nlohmann::json& c = j["critical"];
    expect_keys(c, "critical", {"type", "image", "identity"});
    for (const char* k : {"type", "image", "identity"})
      if (!c.contains(k)) fail("critical: missing \"{}\"", k);
    std::string t = get_string(c, "critical", "type");
    if (t != type) fail("critical.type: \"{}\", expected \"{}\"", t, type);
    expect_keys(c["image"], "critical.image", {"docker-manifest-digest"});
    expect_keys(c["identity"], "critical.identity", {"docker-reference"});
    Payload p;
    p.manifest_digest =
        with_context("critical.image.docker-manifest-digest",
                     [&] { return oci::Digest::parse(get_string(c["image"], "critical.image", "docker-manifest-digest")); });
    p.docker_reference = get_string(c["identity"], "critical.identity", "docker-reference");
    return p;
  });
}

}  // namespace hull::signature
