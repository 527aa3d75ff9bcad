// The part of containers-registries.conf(5) that hull honours: registries
// marked `insecure = true` are spoken to over plain HTTP (as podman and
// bootc do), e.g. a registry inside a lab network:
//
//   [[registry]]
//   location = "10.0.2.100:5000"
//   insecure = true
//
// Read from /etc/containers/registries.conf and the *.conf files of
// /etc/containers/registries.conf.d (later files win), or $HULL_REGISTRIES_CONF.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hull::registry {

// The `location`s marked insecure in one registries.conf text; throws
// Error naming `name` for malformed TOML.
std::vector<std::string> insecure_locations(std::string_view name, std::string_view text);

// True if `host` ("10.0.2.100:5000") is marked insecure in the system's
// registries.conf files (read once per process).
bool host_is_insecure(const std::string& host);

}  // namespace hull::registry
