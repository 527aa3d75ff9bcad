#include "sysroot/yaml.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <string_view>

#include <fmt/format.h>

namespace hull::sysroot {
namespace {

using Tree = nlohmann::ordered_json;

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// True if a plain scalar `s` would be read back as null, a bool or a
// number (YAML 1.2 core schema, as serde_yaml resolves it).
bool resolves_to_non_string(std::string_view s) {
  static const std::regex kNumber(
      R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?(0x[0-9a-fA-F]+|0o[0-7]+|0b[01]+)|)"
      R"([-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))");
  static const char* kWords[] = {"", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE"};
  for (const char* w : kWords)
    if (s == w) return true;
  return std::regex_match(s.begin(), s.end(), kNumber);
}

bool is_blank_or_end(std::string_view s, size_t i) { return i >= s.size() || s[i] == ' ' || s[i] == '\t'; }

// libyaml's analysis: may `s` be written as a plain scalar in block context?
bool plain_allowed(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  if (s.starts_with("---") || s.starts_with("...")) return false;
  if (std::string_view("#,[]{}&*!|>'\"%@`").find(s[0]) != std::string_view::npos) return false;
  if ((s[0] == '?' || s[0] == ':' || s[0] == '-') && is_blank_or_end(s, 1)) return false;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] == ':' && is_blank_or_end(s, i + 1)) return false;
    if (s[i] == '#' && (s[i - 1] == ' ' || s[i - 1] == '\t')) return false;
  }
  return true;
}

bool needs_double_quotes(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

std::string double_quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\0': out += "\\0"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\v': out += "\\v"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      case '\x1b': out += "\\e"; break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += fmt::format("\\x{:02X}", c);
        else
          out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string single_quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// "0123", "-007": digits with a leading zero, which serde_yaml quotes on
// purpose (YAML 1.1 would read them as octal).
bool leading_zero_digits(std::string_view s) {
  if (s.starts_with('-') || s.starts_with('+')) s.remove_prefix(1);
  return s.size() > 1 && s.starts_with('0') && all_digits(s);
}

// Plain if possible, else single-quoted; double-quoted only for control
// characters. (serde_yaml writes a string with a newline as a literal
// block; hull's status strings have none, so that case is double-quoted.)
std::string yaml_string(std::string_view s) {
  if (needs_double_quotes(s)) return double_quoted(s);
  if (resolves_to_non_string(s) || leading_zero_digits(s) || !plain_allowed(s)) return single_quoted(s);
  return std::string(s);
}

std::string yaml_scalar(const Tree& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return yaml_string(v.get_ref<const std::string&>());
}

bool is_collection(const Tree& v) { return (v.is_object() || v.is_array()) && !v.empty(); }

void emit_yaml_mapping(const Tree& map, int indent, bool first_inline, std::string& out);

// The value after "key:" (or "- "): inline if a scalar or empty, else on
// the following lines. Sequences under a key are not indented (libyaml).
void emit_yaml_value(const Tree& v, int indent, std::string& out) {
  if (!is_collection(v)) {
    out += " ";
    out += v.is_object() ? "{}" : v.is_array() ? "[]" : yaml_scalar(v);
    out += "\n";
    return;
  }
  out += "\n";
  if (v.is_object()) {
    emit_yaml_mapping(v, indent + 2, false, out);
    return;
  }
  for (const Tree& item : v) {
    out += std::string(indent, ' ') + "-";
    if (item.is_object() && !item.empty()) {
      out += " ";
      emit_yaml_mapping(item, indent + 2, true, out);
    } else {
      emit_yaml_value(item, indent + 2, out);
    }
  }
}

// A block mapping at `indent`; with `first_inline` the first key follows
// a "- " already written.
void emit_yaml_mapping(const Tree& map, int indent, bool first_inline, std::string& out) {
  bool first = true;
  for (const auto& [key, value] : map.items()) {
    if (!(first && first_inline)) out += std::string(indent, ' ');
    first = false;
    out += yaml_string(key) + ":";
    emit_yaml_value(value, indent, out);
  }
}

}  // namespace

std::string to_yaml(const nlohmann::ordered_json& doc) {
  std::string out;
  emit_yaml_mapping(doc, 0, false, out);
  return out;
}

}  // namespace hull::sysroot
