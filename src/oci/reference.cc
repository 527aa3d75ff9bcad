// Image reference parsing after containers/image docker/reference
// (ParseNormalizedNamed + TagNameOnly), hand-written instead of regexes so
// that every refusal can say which part of the reference is wrong.
//
// Grammar (distribution/reference regexp.go):
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [ domain "/" ] component ( "/" component )*
//   domain     := host [ ":" port ]
//   host       := domain-component ( "." domain-component )* | "[" ipv6 "]"
//   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag        := [\w][\w.-]{0,127}
//   digest     := algorithm ":" hex (validated by Digest::parse)
#include "oci/reference.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>

#include "util/error.h"

namespace hull::oci {
namespace {

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr std::string_view kOfficialRepoPrefix = "library/";
constexpr std::string_view kDefaultTag = "latest";
constexpr size_t kNameTotalLengthMax = 255;
constexpr size_t kTagLengthMax = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool has_upper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

[[noreturn]] void invalid(std::string_view input, std::string_view why) {
  fail("invalid image reference \"{}\": {}", input, why);
}

// [a-z0-9]+ ( ( [._] | __ | -+ ) [a-z0-9]+ )*
bool valid_path_component(std::string_view c) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < c.size() && is_lower_alnum(c[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < c.size()) {
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < c.size() && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

// [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool valid_domain_component(std::string_view c) {
  if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
  return std::all_of(c.begin(), c.end(), [](char ch) { return is_alnum(ch) || ch == '-'; });
}

bool valid_host(std::string_view h) {
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    std::string_view ip = h.substr(1, h.size() - 2);
    return !ip.empty() && std::all_of(ip.begin(), ip.end(), [](char c) { return is_hex(c) || c == ':'; });
  }
  size_t start = 0;
  while (true) {
    size_t dot = h.find('.', start);
    if (!valid_domain_component(h.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// Splits "host[:port]"; the port may be absent. IPv6 hosts keep brackets.
std::pair<std::string_view, std::string_view> split_port(std::string_view domain) {
  size_t from = 0;
  if (!domain.empty() && domain.front() == '[') {
    size_t close = domain.find(']');
    if (close == std::string_view::npos) return {domain, {}};
    from = close;
  }
  size_t colon = domain.find(':', from);
  if (colon == std::string_view::npos) return {domain, {}};
  return {domain.substr(0, colon), domain.substr(colon)};
}

bool valid_domain(std::string_view d) {
  auto [host, port] = split_port(d);
  if (!valid_host(host)) return false;
  if (port.empty()) return true;
  std::string_view digits = port.substr(1);
  return !digits.empty() && std::all_of(digits.begin(), digits.end(), is_digit);
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > kTagLengthMax || !is_word(t.front())) return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

bool is_64_hex(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); });
}

// containers/image splitDockerDomain: the first component is a registry if
// it contains '.' or ':' or is "localhost"; otherwise the name is on
// docker.io, where one-component names live under library/.
std::pair<std::string, std::string> split_domain(std::string_view name) {
  std::string domain(kDefaultDomain);
  std::string rest(name);
  size_t slash = name.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = name.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost") {
      domain = std::string(first);
      rest = std::string(name.substr(slash + 1));
    }
  }
  if (domain == kLegacyDefaultDomain) domain = kDefaultDomain;
  if (domain == kDefaultDomain && rest.find('/') == std::string::npos) rest.insert(0, kOfficialRepoPrefix);
  return {domain, rest};
}

void check_repository(std::string_view input, std::string_view repo) {
  if (has_upper(repo)) invalid(input, "repository name must be lowercase");
  size_t start = 0;
  while (true) {
    size_t slash = repo.find('/', start);
    std::string_view comp = repo.substr(start, slash - start);
    if (comp.empty()) invalid(input, "empty path component in the repository name");
    if (!valid_path_component(comp)) invalid(input, fmt::format("invalid repository path component \"{}\"", comp));
    if (slash == std::string_view::npos) return;
    start = slash + 1;
  }
}

bool is_loopback_host(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string lower = host;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace

Reference Reference::parse(std::string_view input) {
  if (input.empty()) invalid(input, "empty name");
  if (is_64_hex(input)) invalid(input, "cannot specify 64-byte hexadecimal strings as a name");

  // The digest follows the first '@' (no other part may contain one).
  std::string_view named = input;
  std::string_view digest_text;
  if (size_t at = input.find('@'); at != std::string_view::npos) {
    named = input.substr(0, at);
    digest_text = input.substr(at + 1);
    if (digest_text.empty()) invalid(input, "empty digest");
  }
  if (named.empty()) invalid(input, "empty name");

  auto [domain, remainder] = split_domain(named);
  // The tag follows a ':' in the last path component.
  std::string_view rest = remainder;
  std::string_view tag;
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.find(':', last_slash == std::string_view::npos ? 0 : last_slash);
  if (colon != std::string_view::npos) {
    tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }

  if (!valid_domain(domain)) invalid(input, fmt::format("invalid registry \"{}\"", domain));
  check_repository(input, rest);
  if (colon != std::string_view::npos && !valid_tag(tag)) invalid(input, fmt::format("invalid tag \"{}\"", tag));
  if (domain.size() + 1 + rest.size() > kNameTotalLengthMax)
    invalid(input, fmt::format("name longer than {} characters", kNameTotalLengthMax));

  Reference r;
  r.registry = domain;
  r.repository = std::string(rest);
  r.tag = std::string(tag);
  if (!digest_text.empty()) {
    try {
      r.digest = Digest::parse(digest_text);
    } catch (const Error& e) {
      invalid(input, e.message());
    }
  }
  if (r.tag.empty() && !r.digest) r.tag = kDefaultTag;
  return r;
}

std::string Reference::str() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

std::string Reference::api_host() const {
  return registry == kDefaultDomain ? std::string("registry-1.docker.io") : registry;
}

bool Reference::is_local() const { return is_loopback_host(std::string(split_port(registry).first)); }

}  // namespace hull::oci
