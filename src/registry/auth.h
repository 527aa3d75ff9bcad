// Registry authentication: where credentials come from, what a registry's
// WWW-Authenticate challenge asks for, and bearer tokens.
//
// Credentials files use the containers-auth.json(5) / docker config format
//   {"auths": {"host[:port][/path]": {"auth": base64("user:pass")}}}
// and are matched as containers/image does: the most specific key first
// (registry/repo/path, then shorter prefixes, then the bare registry), then
// legacy keys with a scheme ("https://index.docker.io/v1/" is docker.io).
//
// The parsing functions take strings, never files, so that they can be
// tested on their own; the I/O wrappers sit at the end.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hull::registry {

class Http;

struct Credentials {
  std::string username;
  std::string password;
  std::string source;  // the file they came from (for messages)
};

// Looks up `registry` ("host[:port]") and `repository` ("a/b") in the text
// of one auth file. nullopt when there is no usable entry; throws Error on
// malformed JSON or a malformed "auth" value (naming the key).
std::optional<Credentials> find_credentials_in(std::string_view auth_json, std::string_view registry,
                                               std::string_view repository);

// The files to search, in order: `authfile` alone if non-empty, else
// $XDG_RUNTIME_DIR/containers/auth.json, /run/containers/0/auth.json (uid 0),
// $HOME/.config/containers/auth.json, $HOME/.docker/config.json,
// /etc/ostree/auth.json.
std::vector<std::string> auth_file_search_path(const std::string& authfile);

struct CredentialLookup {
  std::optional<Credentials> credentials;
  std::vector<std::string> looked_in;  // the search path, for messages
};

// Reads the files of auth_file_search_path(authfile) in order (missing
// files are skipped; an explicit `authfile` must exist) and returns the
// first match. Throws naming the file for unreadable or malformed files.
CredentialLookup lookup_credentials(std::string_view registry, std::string_view repository,
                                    const std::string& authfile);

// One challenge of a WWW-Authenticate header: scheme lower-cased ("basic",
// "bearer"), parameter names lower-cased, values unquoted.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
  std::string param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
};

// Parses a WWW-Authenticate value (RFC 7235): one or more challenges,
// auth-params with token or quoted-string values (commas and escaped
// quotes allowed inside quotes). Malformed trailing parts are ignored.
std::vector<Challenge> parse_challenges(std::string_view header);

struct Token {
  std::string token;
  std::chrono::seconds expires_in{60};
};

// Parses a token service's JSON answer: "token" or "access_token", and
// "expires_in" (default 60 s, as the distribution token spec says).
// Throws if neither token field is present.
Token parse_token_response(std::string_view json);

// base64 (standard alphabet, padded) and its inverse; decode throws on
// malformed input.
std::string base64_encode(std::string_view data);
std::string base64_decode(std::string_view data);

// Bearer tokens by realm+service+scopes, shared by Clients of any thread.
class TokenCache {
 public:
  // The cached token for `key`, or "" if none or expired.
  std::string get(const std::string& key);
  void put(const std::string& key, const Token& t);
  void drop(const std::string& key);

 private:
  struct Entry {
    std::string token;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// GET realm?service=..&scope=..(&scope=..) with `creds` as HTTP basic if
// set. Throws Error ("token service REALM: 401 Unauthorized: ...") on
// failure; transport failures are reported by the caller's retry logic
// through the thrown message.
Token fetch_token(Http& http, const Challenge& challenge, const std::vector<std::string>& scopes,
                  const std::optional<Credentials>& creds);

}  // namespace hull::registry
