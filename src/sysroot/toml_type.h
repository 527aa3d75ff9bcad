// The name of a TOML value's type, for errors about the sysroot's TOML files
// (kargs.d, updates.toml): "... must be a string, not an integer".
// Internal to the sysroot libraries.
#pragma once

#include <toml++/toml.h>

namespace hull::sysroot {

inline const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date or time";
  }
}

}  // namespace hull::sysroot
