#include "signature/policy.h"

#include <unistd.h>

#include <cstdlib>

#include "registry/auth.h"
#include "signature/json_strict.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::signature {
namespace {

using nlohmann::json;

constexpr size_t kMaxPolicySize = 4u << 20;

// A docker reference as containers/image's ParseNormalizedNamed reads it,
// and whether it had neither tag nor digest (IsNameOnly).
struct Named {
  oci::Reference ref;
  bool name_only = false;
  std::string str() const {
    std::string s = ref.name();
    if (!ref.tag.empty()) s += ":" + ref.tag;
    if (ref.digest) s += "@" + ref.digest->str();
    return s;
  }
};

std::optional<Named> parse_named(std::string_view s) {
  Named n;
  try {
    n.ref = oci::Reference::parse(s);
  } catch (const Error&) {
    return std::nullopt;
  }
  size_t slash = s.rfind('/');
  std::string_view last = slash == std::string_view::npos ? s : s.substr(slash + 1);
  n.name_only = last.find(':') == std::string_view::npos && s.find('@') == std::string_view::npos;
  if (n.name_only) n.ref.tag.clear();
  return n;
}

std::string decode_key_data(const json& v, const std::string& where) {
  if (!v.is_string()) fail("{}: expected a base64 string", where);
  try {
    return registry::base64_decode(v.get<std::string>());
  } catch (const Error& e) {
    fail("{}: {}", where, e.message());
  }
}

std::vector<std::string> string_list(const json& v, const std::string& where) {
  if (!v.is_array()) fail("{}: expected an array of strings", where);
  std::vector<std::string> out;
  for (auto& e : v) {
    if (!e.is_string()) fail("{}: expected an array of strings", where);
    out.push_back(e.get<std::string>());
  }
  return out;
}

// A remapIdentity prefix: a host[:port], or host[:port]/path with no tag or digest.
void check_prefix(const std::string& p, const std::string& where) {
  bool ok = !p.empty() && p.find('@') == std::string::npos;
  if (ok && p.find('/') != std::string::npos) {
    auto n = parse_named(p);
    ok = n && n->name_only && n->ref.name() == p;
  } else if (ok) {
    for (char c : p) ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                 c == '.' || c == '-' || c == ':' || c == '[' || c == ']');
  }
  if (!ok) fail("{}: invalid prefix \"{}\"", where, p);
}

IdentityRule parse_identity(const json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: expected an object", where);
  std::string type = get_string(j, where, "type");
  IdentityRule r;
  if (type == "matchRepoDigestOrExact" || type == "matchRepository" || type == "matchExact") {
    expect_keys(j, where, {"type"});
    r.kind = type == "matchExact"        ? IdentityRule::kMatchExact
             : type == "matchRepository" ? IdentityRule::kMatchRepository
                                         : IdentityRule::kMatchRepoDigestOrExact;
  } else if (type == "exactReference") {
    expect_keys(j, where, {"type", "dockerReference"});
    r.kind = IdentityRule::kExactReference;
    r.reference = get_string(j, where, "dockerReference");
    auto n = parse_named(r.reference);
    if (!n || n->name_only) fail("{}.dockerReference: \"{}\" is not a reference with a tag or digest", where, r.reference);
  } else if (type == "exactRepository") {
    expect_keys(j, where, {"type", "dockerRepository"});
    r.kind = IdentityRule::kExactRepository;
    r.reference = get_string(j, where, "dockerRepository");
    if (!parse_named(r.reference)) fail("{}.dockerRepository: invalid repository \"{}\"", where, r.reference);
  } else if (type == "remapIdentity") {
    expect_keys(j, where, {"type", "prefix", "signedPrefix"});
    r.kind = IdentityRule::kRemapIdentity;
    r.prefix = get_string(j, where, "prefix");
    r.signed_prefix = get_string(j, where, "signedPrefix");
    check_prefix(r.prefix, where + ".prefix");
    check_prefix(r.signed_prefix, where + ".signedPrefix");
  } else {
    fail("{}: unknown signedIdentity type \"{}\"", where, type);
  }
  return r;
}

// keyPath / keyPaths / keyData (/ keyDatas for sigstoreSigned): exactly one.
void parse_keys(const json& j, const std::string& where, bool datas_allowed, Requirement& r) {
  int sources = 0;
  if (j.contains("keyPath")) {
    sources++;
    if (!j["keyPath"].is_string()) fail("{}.keyPath: expected a string", where);
    r.key_paths.push_back(j["keyPath"].get<std::string>());
  }
  if (j.contains("keyPaths")) {
    sources++;
    r.key_paths = string_list(j["keyPaths"], where + ".keyPaths");
    if (r.key_paths.empty()) fail("{}.keyPaths: empty", where);
  }
  if (j.contains("keyData")) {
    sources++;
    r.key_data = decode_key_data(j["keyData"], where + ".keyData");
  }
  if (datas_allowed && j.contains("keyDatas")) {
    sources++;
    if (!j["keyDatas"].is_array() || j["keyDatas"].empty()) fail("{}.keyDatas: expected a non-empty array", where);
    std::string all;
    for (auto& d : j["keyDatas"]) all += decode_key_data(d, where + ".keyDatas") + "\n";
    r.key_data = all;
  }
  if (sources != 1)
    fail("{}: exactly one of keyPath, keyPaths and keyData must be specified, {} present", where,
         sources == 0 ? "none" : "more than one");
  for (auto& p : r.key_paths)
    if (p.empty()) fail("{}: empty key path", where);
}

Requirement parse_requirement(const json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: expected an object", where);
  std::string type = get_string(j, where, "type");
  Requirement r;
  if (type == "insecureAcceptAnything" || type == "reject") {
    expect_keys(j, where, {"type"});
    r.kind = type == "reject" ? Requirement::kReject : Requirement::kInsecureAcceptAnything;
  } else if (type == "signedBy") {
    expect_keys(j, where, {"type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"});
    r.kind = Requirement::kSignedBy;
    std::string kt = j.contains("keyType") && j["keyType"].is_string() ? j["keyType"].get<std::string>() : "";
    if (kt == "signedByGPGKeys" || kt == "X509Certificates" || kt == "signedByX509CAs")
      fail("{}.keyType: \"{}\" is not supported by hull (GPGKeys is)", where, kt);
    if (kt != "GPGKeys") fail("{}.keyType: invalid keyType \"{}\"", where, kt);
    parse_keys(j, where, false, r);
    if (j.contains("signedIdentity")) r.identity = parse_identity(j["signedIdentity"], where + ".signedIdentity");
  } else if (type == "sigstoreSigned") {
    expect_keys(j, where, {"type", "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "rekorPublicKeyPath",
                           "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas", "pki",
                           "signedIdentity"});
    r.kind = Requirement::kSigstoreSigned;
    for (const char* k : {"fulcio", "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData",
                          "rekorPublicKeyDatas", "pki"})
      if (j.contains(k)) fail("{}.{}: not supported by hull (only public keys: keyPath, keyPaths, keyData)", where, k);
    parse_keys(j, where, true, r);
    if (j.contains("signedIdentity")) r.identity = parse_identity(j["signedIdentity"], where + ".signedIdentity");
  } else if (type == "signedBaseLayer") {
    fail("{}: type \"signedBaseLayer\" is not supported by hull", where);
  } else {
    fail("{}: unknown policy requirement type \"{}\"", where, type);
  }
  return r;
}

Requirements parse_requirements(const json& j, const std::string& where) {
  if (!j.is_array()) fail("{}: expected an array of requirements", where);
  if (j.empty()) fail("{}: the list of requirements must not be empty", where);
  Requirements out;
  for (size_t i = 0; i < j.size(); i++) out.push_back(parse_requirement(j[i], fmt::format("{}[{}]", where, i)));
  return out;
}

// ociTransport.ValidatePolicyConfigurationScope: an absolute, clean path other than "/".
void check_path_scope(const std::string& s, const std::string& where) {
  bool clean = s.size() > 1 && s[0] == '/' && s.back() != '/' && s.find("//") == std::string::npos &&
               s.find("/./") == std::string::npos && s.find("/../") == std::string::npos && !s.ends_with("/.") &&
               !s.ends_with("/..");
  if (!clean) fail("{}: invalid scope \"{}\": must be a clean absolute path other than /", where, s);
}

std::string transport_name(image::Transport t) {
  switch (t) {
    case image::Transport::kDocker: return "docker";
    case image::Transport::kOci: return "oci";
    case image::Transport::kOciArchive: return "oci-archive";
  }
  return "";
}

std::string absolute(const std::string& p) {
  if (char* r = ::realpath(p.c_str(), nullptr)) {
    std::string s = r;
    std::free(r);
    return s;
  }
  if (!p.empty() && p[0] == '/') return p;
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) return p;
  return std::string(buf) + "/" + p;
}

}  // namespace

std::string_view kind_name(Requirement::Kind k) {
  switch (k) {
    case Requirement::kInsecureAcceptAnything: return "insecureAcceptAnything";
    case Requirement::kReject: return "reject";
    case Requirement::kSignedBy: return "signedBy";
    case Requirement::kSigstoreSigned: return "sigstoreSigned";
  }
  return "?";
}

Policy parse_policy(std::string_view text) {
  return with_context("policy", [&] {
    json j = parse_json_strict(text);
    expect_keys(j, "policy", {"default", "transports"});
    Policy p;
    if (!j.contains("default")) fail("the default policy is missing");
    p.default_reqs = parse_requirements(j["default"], "default");
    if (j.contains("transports")) {
      const json& ts = j["transports"];
      if (!ts.is_object()) fail("transports: expected an object");
      for (auto t = ts.begin(); t != ts.end(); ++t) {
        std::string tw = "transports." + t.key();
        if (!t->is_object()) fail("{}: expected an object of scopes", tw);
        auto& scopes = p.transports.emplace_back(t.key(), std::vector<std::pair<std::string, Requirements>>{}).second;
        for (auto s = t->begin(); s != t->end(); ++s) {
          std::string sw = fmt::format("{}.\"{}\"", tw, s.key());
          if (!s.key().empty() && (t.key() == "oci" || t.key() == "oci-archive")) check_path_scope(s.key(), sw);
          scopes.emplace_back(s.key(), parse_requirements(s.value(), sw));
        }
      }
    }
    return p;
  });
}

std::optional<Policy> load_policy(const std::string& path) {
  auto load = [](const std::string& f) {
    return with_context(fmt::format("policy {}", f), [&] {
      Policy p = parse_policy(read_file(f, kMaxPolicySize));
      p.source = f;
      return p;
    });
  };
  if (!path.empty()) return load(path);
  if (const char* home = std::getenv("HOME"); home && *home) {
    std::string user = std::string(home) + "/.config/containers/policy.json";
    if (path_exists(user)) return load(user);
  }
  if (path_exists("/etc/containers/policy.json")) return load("/etc/containers/policy.json");
  return std::nullopt;
}

std::vector<std::string> policy_scopes(const image::ImageName& name) {
  std::vector<std::string> out;
  if (name.transport == image::Transport::kDocker) {
    std::string n = name.ref.name();
    out.push_back(name.ref.digest ? n + "@" + name.ref.digest->str() : n + ":" + name.ref.tag);
    for (;;) {
      out.push_back(n);
      size_t slash = n.rfind('/');
      if (slash == std::string::npos) break;
      n = n.substr(0, slash);
    }
    if (size_t colon = n.find(':'); colon != std::string::npos) n = n.substr(0, colon);
    for (size_t dot; (dot = n.find('.')) != std::string::npos;) {
      n = n.substr(dot + 1);
      out.push_back("*." + n);
    }
    return out;
  }
  std::string p = absolute(name.path);
  out.push_back(p);  // identity; namespaces again start with it
  while (p.size() > 1) {
    out.push_back(p);
    size_t slash = p.rfind('/');
    if (slash == std::string::npos || slash == 0) break;
    p = p.substr(0, slash);
  }
  return out;
}

const Requirements& requirements_for(const Policy& policy, const image::ImageName& name, std::string* scope) {
  std::string t = transport_name(name.transport);
  for (auto& transport : policy.transports) {
    if (transport.first != t) continue;
    auto find = [&](const std::string& s) -> const Requirements* {
      for (auto& [k, reqs] : transport.second)
        if (k == s) return &reqs;
      return nullptr;
    };
    for (const std::string& s : policy_scopes(name)) {
      if (auto* r = find(s)) {
        if (scope) *scope = fmt::format("transports.{}.\"{}\"", t, s);
        return *r;
      }
    }
    if (auto* r = find("")) {
      if (scope) *scope = fmt::format("transports.{}.\"\"", t);
      return *r;
    }
  }
  if (scope) *scope = "default";
  return policy.default_reqs;
}

bool identity_matches(const IdentityRule& rule, const std::optional<oci::Reference>& intended_ref,
                      std::string_view signed_reference) {
  auto sig = parse_named(signed_reference);
  if (!sig) return false;
  auto repo_digest_or_exact = [&](const Named& intended) {
    if (sig->name_only) return false;
    if (!intended.ref.tag.empty()) return sig->str() == intended.str();
    if (intended.ref.digest) return sig->ref.name() == intended.ref.name();
    return false;
  };
  switch (rule.kind) {
    case IdentityRule::kExactReference: {
      auto want = parse_named(rule.reference);
      return want && !want->name_only && !sig->name_only && sig->str() == want->str();
    }
    case IdentityRule::kExactRepository: {
      auto want = parse_named(rule.reference);
      return want && sig->ref.name() == want->ref.name();
    }
    default: break;
  }
  if (!intended_ref) return false;  // no docker identity to match against
  Named intended{*intended_ref, false};
  if (intended.ref.digest) intended.ref.tag.clear();  // the digest wins, as hull pulls it
  switch (rule.kind) {
    case IdentityRule::kMatchExact:
      return !sig->name_only && sig->str() == intended.str();
    case IdentityRule::kMatchRepository:
      return sig->ref.name() == intended.ref.name();
    case IdentityRule::kMatchRepoDigestOrExact:
      return repo_digest_or_exact(intended);
    case IdentityRule::kRemapIdentity: {
      std::string n = intended.ref.name();
      bool match = n == rule.prefix || (n.size() > rule.prefix.size() && n.starts_with(rule.prefix) &&
                                        n[rule.prefix.size()] == '/');
      if (match) {
        std::string s = intended.str();
        s.replace(s.find(rule.prefix), rule.prefix.size(), rule.signed_prefix);
        auto remapped = parse_named(s);
        if (!remapped) return false;
        return repo_digest_or_exact(*remapped);
      }
      return repo_digest_or_exact(intended);
    }
    default: return false;
  }
}

}  // namespace hull::signature
