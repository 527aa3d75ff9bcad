// A real registry for integration tests: Debian's docker-registry (CNCF
// distribution) on a free 127.0.0.1 port, with its storage and config in a
// temporary directory, stopped and removed by the destructor.
//
// Auth modes: none; htpasswd basic auth (the user made with
// `htpasswd -Bbn`); token auth, with an in-process token service (a
// cpp-httplib server) that signs RS256 JWTs with a key generated for the
// run, whose certificate the registry trusts as rootcertbundle. The token
// service grants every requested action to the right basic credentials and
// nothing to anonymous callers.
#pragma once

#include <memory>
#include <string>

#include "util/file.h"
#include "support/process.h"

namespace hull::test {

struct RegistryCredentials {
  std::string username = "hull";
  std::string password = "s3cret-pass";
};

class LocalRegistry {
 public:
  enum class Auth { kNone, kBasic, kToken };
  struct Options {
    Auth auth = Auth::kNone;
    RegistryCredentials credentials;
    // Every request in log() (Apache combined format: "GET /v2/... HTTP/1.1").
    bool access_log = false;
  };

  // Starts the registry and waits until GET /v2/ answers; throws Error
  // with the end of the registry's log if it does not come up.
  LocalRegistry();
  explicit LocalRegistry(Options opts);
  ~LocalRegistry();
  LocalRegistry(const LocalRegistry&) = delete;
  LocalRegistry& operator=(const LocalRegistry&) = delete;

  // "127.0.0.1:PORT".
  const std::string& host() const { return host_; }
  const RegistryCredentials& credentials() const { return opts_.credentials; }
  // A scratch directory that lives as long as the registry.
  const std::string& dir() const { return dir_.path(); }
  // Writes an auth.json holding credentials() for host() and returns its path.
  std::string write_authfile() const;
  // Requests served by the token service so far (token mode).
  int token_requests() const;
  // The registry's log so far.
  std::string log() const;

 private:
  class TokenService;
  void start_token_service();
  std::string config_yaml(int port) const;

  Options opts_;
  TempDir dir_;
  std::string host_;
  Child proc_;
  std::unique_ptr<TokenService> tokens_;
};

}  // namespace hull::test
