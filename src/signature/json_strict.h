// JSON as containers/image reads its policy and signature payloads
// (signature/internal/json.go, ParanoidUnmarshalJSONObject): a repeated key
// in any object is an error, and objects are read with an exact key set.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string>
#include <string_view>

namespace hull::signature {

// Parses `text`; throws Error("invalid JSON: ...") or Error("duplicate key
// \"K\"").
nlohmann::json parse_json_strict(std::string_view text);

// Throws Error("WHERE: expected an object") unless `j` is an object, and
// Error("WHERE: unknown key \"K\"") for a key outside `allowed`.
void expect_keys(const nlohmann::json& j, std::string_view where, std::initializer_list<std::string_view> allowed);

// j[key] as a string; throws naming WHERE.key if missing or not a string.
std::string get_string(const nlohmann::json& j, std::string_view where, const char* key);

}  // namespace hull::signature
