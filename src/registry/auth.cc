#include "registry/auth.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "registry/http.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::registry {
namespace {

using json = nlohmann::json;

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// A legacy key ("https://index.docker.io/v1/") reduced to its host, mapped
// to docker.io for Docker Hub; other keys as they are.
std::string normalize_key(std::string_view key) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (key.starts_with(scheme)) {
      key.remove_prefix(scheme.size());
      key = key.substr(0, key.find('/'));
      if (key == "index.docker.io" || key == "registry-1.docker.io") return "docker.io";
      return std::string(key);
    }
  }
  return std::string(key);
}

std::optional<Credentials> decode_entry(const std::string& key, const json& entry) {
  if (!entry.is_object()) return std::nullopt;
  std::string user, pass;
  auto a = entry.find("auth");
  if (a != entry.end() && a->is_string() && !a->get<std::string>().empty()) {
    std::string plain = with_context(fmt::format("auth entry \"{}\"", key),
                                     [&] { return base64_decode(a->get<std::string>()); });
    auto colon = plain.find(':');
    if (colon == std::string::npos) fail("auth entry \"{}\": \"auth\" is not base64 of user:password", key);
    user = plain.substr(0, colon);
    pass = plain.substr(colon + 1);
  } else {
    // docker's config also allows explicit fields.
    auto u = entry.find("username");
    auto p = entry.find("password");
    if (u == entry.end() || p == entry.end() || !u->is_string() || !p->is_string()) return std::nullopt;
    user = u->get<std::string>();
    pass = p->get<std::string>();
  }
  if (user.empty() && pass.empty()) return std::nullopt;
  return Credentials{user, pass, {}};
}

// RFC 7230 token characters.
bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

struct Scanner {
  std::string_view s;
  size_t i = 0;
  void skip_ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++;
  }
  void skip_ws_commas() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) i++;
  }
  std::string token() {
    size_t b = i;
    while (i < s.size() && (is_tchar(s[i]) || s[i] == '/')) i++;
    return std::string(s.substr(b, i - b));
  }
  std::string quoted() {  // at the opening quote
    std::string out;
    i++;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) i++;
      out += s[i++];
    }
    if (i < s.size()) i++;  // closing quote
    return out;
  }
  std::string bare_value() {  // lenient: up to a comma or white space
    size_t b = i;
    while (i < s.size() && s[i] != ',' && s[i] != ' ' && s[i] != '\t') i++;
    return std::string(s.substr(b, i - b));
  }
  bool at(char c) const { return i < s.size() && s[i] == c; }
};

}  // namespace

std::optional<Credentials> find_credentials_in(std::string_view auth_json, std::string_view registry,
                                               std::string_view repository) {
  json doc = json::parse(auth_json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) fail("not a JSON object");
  auto auths = doc.find("auths");
  if (auths == doc.end() || !auths->is_object()) return std::nullopt;

  // Most specific first: registry/a/b/c, registry/a/b, registry/a, registry.
  std::string key = std::string(registry);
  if (!repository.empty()) key += "/" + std::string(repository);
  while (true) {
    auto it = auths->find(key);
    if (it != auths->end())
      if (auto c = decode_entry(key, *it)) return c;
    auto slash = key.rfind('/');
    if (slash == std::string::npos || key.size() <= registry.size()) break;
    key.resize(slash);
  }
  // Then legacy keys with a scheme, reduced to their host.
  for (const auto& [k, v] : auths->items()) {
    if (k.find("://") == std::string::npos) continue;
    if (normalize_key(k) == registry)
      if (auto c = decode_entry(k, v)) return c;
  }
  return std::nullopt;
}

std::vector<std::string> auth_file_search_path(const std::string& authfile) {
  if (!authfile.empty()) return {authfile};
  std::vector<std::string> out;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x) out.push_back(std::string(x) + "/containers/auth.json");
  if (::getuid() == 0) out.push_back("/run/containers/0/auth.json");
  if (const char* h = std::getenv("HOME"); h && *h) {
    out.push_back(std::string(h) + "/.config/containers/auth.json");
    out.push_back(std::string(h) + "/.docker/config.json");
  }
  out.push_back("/etc/ostree/auth.json");
  return out;
}

CredentialLookup lookup_credentials(std::string_view registry, std::string_view repository,
                                    const std::string& authfile) {
  CredentialLookup r;
  r.looked_in = auth_file_search_path(authfile);
  for (const auto& path : r.looked_in) {
    if (authfile.empty() && !path_exists(path)) continue;
    std::string text = read_file(path, 16u << 20);
    auto c = with_context(fmt::format("reading credentials from {}", path),
                          [&] { return find_credentials_in(text, registry, repository); });
    if (c) {
      c->source = path;
      r.credentials = std::move(c);
      break;
    }
  }
  return r;
}

std::vector<Challenge> parse_challenges(std::string_view header) {
  std::vector<Challenge> out;
  Scanner sc{header};
  while (true) {
    sc.skip_ws_commas();
    if (sc.i >= header.size()) break;
    std::string scheme = sc.token();
    if (scheme.empty()) break;  // garbage: stop
    Challenge ch;
    ch.scheme = lower(scheme);
    // auth-params: name = value, separated by commas, until the next scheme.
    while (true) {
      sc.skip_ws_commas();
      size_t save = sc.i;
      std::string name = sc.token();
      sc.skip_ws();
      if (name.empty() || !sc.at('=')) {
        sc.i = save;  // the next challenge's scheme (or token68 / garbage)
        if (!name.empty() && !sc.at('=')) break;
        if (name.empty()) {
          if (sc.i < header.size()) sc.i++;  // skip one stray character
          if (sc.i >= header.size()) break;
          continue;
        }
        break;
      }
      sc.i++;  // '='
      sc.skip_ws();
      std::string value = sc.at('"') ? sc.quoted() : sc.bare_value();
      ch.params[lower(name)] = value;
    }
    out.push_back(std::move(ch));
  }
  return out;
}

Token parse_token_response(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) fail("token service answered with something other than a JSON object");
  Token t;
  for (const char* k : {"token", "access_token"}) {
    auto it = doc.find(k);
    if (it != doc.end() && it->is_string() && !it->get<std::string>().empty()) {
      t.token = it->get<std::string>();
      break;
    }
  }
  if (t.token.empty()) fail("token service answer has no \"token\" or \"access_token\"");
  auto e = doc.find("expires_in");
  if (e != doc.end() && e->is_number_integer() && e->get<long>() > 0) t.expires_in = std::chrono::seconds(e->get<long>());
  return t;
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64_decode(std::string_view data) {
  std::string in;
  for (char c : data)
    if (c != '\n' && c != '\r' && c != ' ') in += c;
  if (in.size() % 4 != 0) fail("invalid base64");
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) fail("invalid base64");
  // EVP_DecodeBlock counts padding as zero bytes.
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad++;
  if (in.size() > 1 && in[in.size() - 2] == '=') pad++;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string TokenCache::get(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || std::chrono::steady_clock::now() >= it->second.expires) return {};
  return it->second.token;
}

void TokenCache::put(const std::string& key, const Token& t) {
  std::lock_guard lk(mu_);
  // Renew a little early so that a token does not expire mid-request.
  auto life = t.expires_in > std::chrono::seconds(20) ? t.expires_in - std::chrono::seconds(10) : t.expires_in;
  entries_[key] = Entry{t.token, std::chrono::steady_clock::now() + life};
}

void TokenCache::drop(const std::string& key) {
  std::lock_guard lk(mu_);
  entries_.erase(key);
}

Token fetch_token(Http& http, const Challenge& challenge, const std::vector<std::string>& scopes,
                  const std::optional<Credentials>& creds) {
  std::string realm = challenge.param("realm");
  if (realm.empty()) fail("the registry's bearer challenge has no realm");
  std::string url = realm;
  char sep = realm.find('?') == std::string::npos ? '?' : '&';
  auto add = [&](std::string_view k, const std::string& v) {
    char* esc = curl_easy_escape(nullptr, v.c_str(), static_cast<int>(v.size()));
    url += sep;
    url += k;
    url += '=';
    url += esc ? esc : "";
    curl_free(esc);
    sep = '&';
  };
  if (!challenge.param("service").empty()) add("service", challenge.param("service"));
  for (const auto& s : scopes) add("scope", s);

  HttpRequest req;
  req.url = url;
  if (creds) req.headers.push_back("Authorization: Basic " + base64_encode(creds->username + ":" + creds->password));
  HttpResponse resp = http.perform(req);
  std::string ctx = fmt::format("token service {}", realm);
  if (resp.curl_code != CURLE_OK) throw_transport_error(resp, ctx);
  if (resp.status != 200) throw_status_error(resp, ctx);
  return with_context(ctx, [&] { return parse_token_response(resp.body); });
}

}  // namespace hull::registry
