#include "support/registry.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "registry/auth.h"
#include "util/error.h"
#include "util/fd.h"

namespace hull::test {
namespace {

using json = nlohmann::json;

std::string b64url(std::string_view data) {
  std::string s = registry::base64_encode(data);
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct FileClose {
  void operator()(FILE* f) const { std::fclose(f); }
};

std::unique_ptr<FILE, FileClose> open_stdio(const std::string& path) {
  std::unique_ptr<FILE, FileClose> f(std::fopen(path.c_str(), "r"));
  if (!f) fail_errno("opening " + path);
  return f;
}

std::string tail(const std::string& s, size_t n = 2000) { return s.size() > n ? s.substr(s.size() - n) : s; }

}  // namespace

// The token service: GET /token?service=..&scope=.. answers
// {"token": JWT, "access_token": JWT, "expires_in": 300}.
class LocalRegistry::TokenService {
 public:
  TokenService(const std::string& dir, RegistryCredentials creds) : creds_(std::move(creds)) {
    run_ok({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/token.key", "-out",
            dir + "/token.crt", "-days", "2", "-subj", "/CN=hull-test-token"});
    cert_path_ = dir + "/token.crt";
    key_.reset(PEM_read_PrivateKey(open_stdio(dir + "/token.key").get(), nullptr, nullptr, nullptr));
    std::unique_ptr<X509, X509Free> cert(PEM_read_X509(open_stdio(cert_path_).get(), nullptr, nullptr, nullptr));
    if (!key_ || !cert) fail("loading the token service's key and certificate failed");
    unsigned char* der = nullptr;
    int n = i2d_X509(cert.get(), &der);
    if (n <= 0) fail("encoding the token certificate failed");
    cert_der_b64_ = registry::base64_encode(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(n)));
    OPENSSL_free(der);

    server_.Get("/token", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) fail("token service: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }

  ~TokenService() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string realm() const { return "http://127.0.0.1:" + std::to_string(port_) + "/token"; }
  const std::string& cert_path() const { return cert_path_; }
  int requests() const { return requests_.load(); }

  static constexpr const char* kService = "hull-test-registry";
  static constexpr const char* kIssuer = "hull-test-issuer";

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    requests_++;
    bool authed = false;
    std::string auth = req.get_header_value("Authorization");
    if (!auth.empty()) {
      std::string want = "Basic " + registry::base64_encode(creds_.username + ":" + creds_.password);
      if (auth != want) {
        res.status = 401;
        res.set_content(R"({"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]})", "application/json");
        return;
      }
      authed = true;
    }
    json access = json::array();
    size_t n = req.get_param_value_count("scope");
    for (size_t i = 0; i < n && authed; i++) {
      std::string scope = req.get_param_value("scope", i);
      // type:name:actions (a name has no ':'; actions are comma separated).
      auto a = scope.find(':'), b = scope.rfind(':');
      if (a == std::string::npos || a == b) continue;
      json actions = json::array();
      std::string acts = scope.substr(b + 1);
      for (size_t p = 0; p <= acts.size();) {
        size_t q = acts.find(',', p);
        if (q == std::string::npos) q = acts.size();
        if (q > p) actions.push_back(acts.substr(p, q - p));
        p = q + 1;
      }
      access.push_back({{"type", scope.substr(0, a)}, {"name", scope.substr(a + 1, b - a - 1)}, {"actions", actions}});
    }
    std::string token = sign(access, req.get_param_value("service"));
    res.set_content(json{{"token", token}, {"access_token", token}, {"expires_in", 300}}.dump(), "application/json");
  }

  std::string sign(const json& access, const std::string& audience) {
    long now = static_cast<long>(std::time(nullptr));
    json header = {{"alg", "RS256"}, {"typ", "JWT"}, {"x5c", json::array({cert_der_b64_})}};
    json claims = {{"iss", kIssuer},       {"sub", authed_subject_}, {"aud", audience},
                   {"exp", now + 300},     {"nbf", now - 30},         {"iat", now},
                   {"jti", std::to_string(now) + "-" + std::to_string(++jti_)},
                   {"access", access}};
    std::string input = b64url(header.dump()) + "." + b64url(claims.dump());
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
      fail("signing a token failed");
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
      fail("signing a token failed");
    sig.resize(len);
    return input + "." + b64url(sig);
  }

  RegistryCredentials creds_;
  std::string authed_subject_ = "hull";
  std::string cert_path_;
  std::string cert_der_b64_;
  std::unique_ptr<EVP_PKEY, PkeyFree> key_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> requests_{0};
  std::atomic<long> jti_{0};
};

LocalRegistry::LocalRegistry() : LocalRegistry(Options{}) {}

LocalRegistry::LocalRegistry(Options opts) : opts_(std::move(opts)), dir_("hull-registry") {
  if (opts_.auth == Auth::kBasic) {
    std::string line = run_ok({"htpasswd", "-Bbn", opts_.credentials.username, opts_.credentials.password});
    write_file_atomic(dir_.path() + "/htpasswd", line);
  }
  if (opts_.auth == Auth::kToken) tokens_ = std::make_unique<TokenService>(dir_.path(), opts_.credentials);

  // A free port can be taken between free_port() and the registry's bind:
  // try a few.
  std::string last_log;
  for (int attempt = 0; attempt < 5; attempt++) {
    int port = free_port();
    std::string config = dir_.path() + "/config.yml";
    write_file_atomic(config, config_yaml(port));
    std::string log_path = dir_.path() + "/registry.log";
    write_file_atomic(log_path, "");
    proc_ = Child({"docker-registry", "serve", config}, log_path);
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(0, 200000);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline && proc_.running()) {
      if (auto res = cli.Get("/v2/"); res && (res->status == 200 || res->status == 401)) {
        host_ = "127.0.0.1:" + std::to_string(port);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    proc_.stop();
    last_log = log();
  }
  fail("docker-registry did not come up: {}", tail(last_log));
}

LocalRegistry::~LocalRegistry() {
  proc_.stop();
  tokens_.reset();
}

std::string LocalRegistry::config_yaml(int port) const {
  std::string y = fmt::format(R"(version: 0.1
log:
  level: warn
  accesslog:
    disabled: {2}
storage:
  filesystem:
    rootdirectory: {0}/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{1}
  secret: hull-test-secret-{1}
)",
                              dir_.path(), port, opts_.access_log ? "false" : "true");
  if (opts_.auth == Auth::kBasic) {
    y += fmt::format(R"(auth:
  htpasswd:
    realm: hull-test
    path: {}/htpasswd
)",
                     dir_.path());
  } else if (opts_.auth == Auth::kToken) {
    y += fmt::format(R"(auth:
  token:
    realm: {}
    service: {}
    issuer: {}
    rootcertbundle: {}
)",
                     tokens_->realm(), TokenService::kService, TokenService::kIssuer, tokens_->cert_path());
  }
  return y;
}

std::string LocalRegistry::write_authfile() const {
  std::string path = dir_.path() + "/auth.json";
  json doc = {{"auths",
               {{host_, {{"auth", registry::base64_encode(opts_.credentials.username + ":" + opts_.credentials.password)}}}}}};
  write_file_atomic(path, doc.dump());
  return path;
}

int LocalRegistry::token_requests() const { return tokens_ ? tokens_->requests() : 0; }

std::string LocalRegistry::log() const {
  try {
    return read_file(dir_.path() + "/registry.log");
  } catch (const Error&) {
    return {};
  }
}

}  // namespace hull::test
