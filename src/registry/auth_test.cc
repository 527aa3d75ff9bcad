#include "registry/auth.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "util/error.h"
#include "util/file.h"

namespace hull::registry {
namespace {

struct ChallengeCase {
  const char* header;
  std::vector<Challenge> want;
};

TEST(ParseChallenges, Table) {
  const ChallengeCase cases[] = {
      {"", {}},
      {R"(Basic realm="Registry Realm")", {{"basic", {{"realm", "Registry Realm"}}}}},
      {R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull")",
       {{"bearer",
         {{"realm", "https://auth.docker.io/token"},
          {"service", "registry.docker.io"},
          {"scope", "repository:library/debian:pull"}}}}},
      // A comma inside quotes belongs to the value.
      {R"(Bearer realm="http://x/token",scope="repository:a/b:pull,push")",
       {{"bearer", {{"realm", "http://x/token"}, {"scope", "repository:a/b:pull,push"}}}}},
      // Two challenges in one header.
      {R"(Basic realm="a", Bearer realm="b",service="c")",
       {{"basic", {{"realm", "a"}}}, {"bearer", {{"realm", "b"}, {"service", "c"}}}}},
      // Escaped quote, case of scheme and names, spaces around '='.
      {R"(BEARER Realm = "a\"b" , Service="s")", {{"bearer", {{"realm", "a\"b"}, {"service", "s"}}}}},
      // Unquoted values (lenient).
      {"Bearer realm=http://127.0.0.1:1/token,service=reg", {{"bearer", {{"realm", "http://127.0.0.1:1/token"}, {"service", "reg"}}}}},
      // A scheme without parameters.
      {"Negotiate", {{"negotiate", {}}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.header);
    auto got = parse_challenges(c.header);
    ASSERT_EQ(got.size(), c.want.size());
    for (size_t i = 0; i < got.size(); i++) {
      EXPECT_EQ(got[i].scheme, c.want[i].scheme);
      EXPECT_EQ(got[i].params, c.want[i].params);
    }
  }
}

std::string entry(const std::string& user, const std::string& pass) {
  return R"({"auth": ")" + base64_encode(user + ":" + pass) + R"("})";
}

struct MatchCase {
  const char* name;
  std::string json;
  const char* registry;
  const char* repository;
  const char* want_user;  // nullptr: no match
};

TEST(FindCredentials, Table) {
  const MatchCase cases[] = {
      {"bare host", R"({"auths": {"quay.io": )" + entry("u", "p") + "}}", "quay.io", "a/b", "u"},
      {"host with port", R"({"auths": {"127.0.0.1:5000": )" + entry("local", "p") + "}}", "127.0.0.1:5000", "x/y", "local"},
      {"port must match", R"({"auths": {"127.0.0.1:5000": )" + entry("local", "p") + "}}", "127.0.0.1:5001", "x/y", nullptr},
      {"most specific path wins",
       R"({"auths": {"quay.io": )" + entry("host", "p") + R"(, "quay.io/org": )" + entry("org", "p") +
           R"(, "quay.io/org/img": )" + entry("img", "p") + "}}",
       "quay.io", "org/img", "img"},
      {"path prefix", R"({"auths": {"quay.io": )" + entry("host", "p") + R"(, "quay.io/org": )" + entry("org", "p") + "}}",
       "quay.io", "org/other", "org"},
      {"prefix is per component", R"({"auths": {"quay.io/or": )" + entry("or", "p") + "}}", "quay.io", "org/img", nullptr},
      {"other path falls back to host",
       R"({"auths": {"quay.io": )" + entry("host", "p") + R"(, "quay.io/org": )" + entry("org", "p") + "}}", "quay.io",
       "else/img", "host"},
      {"docker hub legacy key", R"({"auths": {"https://index.docker.io/v1/": )" + entry("hub", "p") + "}}", "docker.io",
       "library/debian", "hub"},
      {"legacy key with scheme", R"({"auths": {"http://reg.example:5000/v2/": )" + entry("old", "p") + "}}",
       "reg.example:5000", "a", "old"},
      {"plain key beats legacy key",
       R"({"auths": {"https://index.docker.io/v1/": )" + entry("hub", "p") + R"(, "docker.io": )" + entry("new", "p") + "}}",
       "docker.io", "library/debian", "new"},
      {"explicit fields", R"({"auths": {"r.io": {"username": "fu", "password": "fp"}}})", "r.io", "a", "fu"},
      {"empty auth is skipped", R"({"auths": {"r.io/a": {"auth": ""}, "r.io": )" + entry("host", "p") + "}}", "r.io", "a",
       "host"},
      {"no auths", R"({"credHelpers": {}})", "r.io", "a", nullptr},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto got = find_credentials_in(c.json, c.registry, c.repository);
    if (!c.want_user) {
      EXPECT_FALSE(got.has_value());
      continue;
    }
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->username, c.want_user);
  }
}

TEST(FindCredentials, PasswordWithColon) {
  std::string json = R"({"auths": {"r.io": )" + entry("u", "p:a:ss") + "}}";
  auto got = find_credentials_in(json, "r.io", "a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->username, "u");
  EXPECT_EQ(got->password, "p:a:ss");
}

TEST(FindCredentials, MalformedInputIsAnError) {
  EXPECT_THROW(find_credentials_in("not json", "r.io", "a"), Error);
  try {
    find_credentials_in(R"({"auths": {"r.io": {"auth": "!!!"}}})", "r.io", "a");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("r.io"), std::string::npos) << e.message();
  }
}

// Sets an environment variable for the scope of one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(LookupCredentials, SearchOrderAndExplicitFile) {
  TempDir tmp("hull-auth-test");
  ScopedEnv home("HOME", tmp.path() + "/home");
  ScopedEnv xdg("XDG_RUNTIME_DIR", tmp.path() + "/run");
  make_dirs(tmp.path() + "/home/.docker");
  make_dirs(tmp.path() + "/home/.config/containers");
  make_dirs(tmp.path() + "/run/containers");
  const std::string host = "lookup-test.invalid:5000";
  write_file_atomic(tmp.path() + "/home/.docker/config.json", R"({"auths": {")" + host + R"(": )" + entry("docker", "p") + "}}");

  auto r = lookup_credentials(host, "a/b", "");
  ASSERT_TRUE(r.credentials);
  EXPECT_EQ(r.credentials->username, "docker");
  EXPECT_EQ(r.credentials->source, tmp.path() + "/home/.docker/config.json");
  ASSERT_GE(r.looked_in.size(), 3u);
  EXPECT_EQ(r.looked_in.front(), tmp.path() + "/run/containers/auth.json");
  EXPECT_EQ(r.looked_in.back(), "/etc/ostree/auth.json");

  // The containers file comes before docker's.
  write_file_atomic(tmp.path() + "/home/.config/containers/auth.json",
                    R"({"auths": {")" + host + R"(": )" + entry("config", "p") + "}}");
  EXPECT_EQ(lookup_credentials(host, "a/b", "").credentials->username, "config");
  // And $XDG_RUNTIME_DIR's before both.
  write_file_atomic(tmp.path() + "/run/containers/auth.json", R"({"auths": {")" + host + R"(": )" + entry("xdg", "p") + "}}");
  EXPECT_EQ(lookup_credentials(host, "a/b", "").credentials->username, "xdg");
  // A file without a matching entry is passed over.
  write_file_atomic(tmp.path() + "/run/containers/auth.json", R"({"auths": {"other.invalid": )" + entry("x", "p") + "}}");
  EXPECT_EQ(lookup_credentials(host, "a/b", "").credentials->username, "config");

  // --authfile: only that file.
  std::string explicit_file = tmp.path() + "/mine.json";
  write_file_atomic(explicit_file, R"({"auths": {}})");
  auto only = lookup_credentials(host, "a/b", explicit_file);
  EXPECT_FALSE(only.credentials);
  EXPECT_EQ(only.looked_in, std::vector<std::string>{explicit_file});
  // A missing --authfile is an error.
  EXPECT_THROW(lookup_credentials(host, "a/b", tmp.path() + "/missing.json"), Error);
}

TEST(ParseTokenResponse, Fields) {
  EXPECT_EQ(parse_token_response(R"({"token": "abc"})").token, "abc");
  EXPECT_EQ(parse_token_response(R"({"access_token": "xyz", "expires_in": 300})").token, "xyz");
  EXPECT_EQ(parse_token_response(R"({"access_token": "xyz", "expires_in": 300})").expires_in, std::chrono::seconds(300));
  EXPECT_EQ(parse_token_response(R"({"token": "abc"})").expires_in, std::chrono::seconds(60));
  EXPECT_EQ(parse_token_response(R"({"token": "", "access_token": "b"})").token, "b");
  EXPECT_THROW(parse_token_response(R"({"nothing": 1})"), Error);
  EXPECT_THROW(parse_token_response("<html>"), Error);
}

TEST(Base64, RoundTrip) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "user:pa ss\xff"}) {
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  }
  EXPECT_EQ(base64_encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_THROW(base64_decode("abc"), Error);
}

TEST(TokenCache, ExpiresAndDrops) {
  TokenCache c;
  c.put("k", Token{"t", std::chrono::seconds(300)});
  EXPECT_EQ(c.get("k"), "t");
  EXPECT_EQ(c.get("other"), "");
  c.drop("k");
  EXPECT_EQ(c.get("k"), "");
  c.put("k", Token{"t", std::chrono::seconds(0)});
  EXPECT_EQ(c.get("k"), "");
}

}  // namespace
}  // namespace hull::registry
