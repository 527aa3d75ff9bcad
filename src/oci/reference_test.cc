#include "oci/reference.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "util/error.h"

namespace hull::oci {
namespace {

const std::string kD = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const std::string kHex64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Good {
  std::string input;
  std::string registry;
  std::string repository;
  std::string tag;
  std::string digest;  // "" for none
};

void PrintTo(const Good& g, std::ostream* os) { *os << g.input; }

class ReferenceValid : public testing::TestWithParam<Good> {};

TEST_P(ReferenceValid, ParsesIntoParts) {
  const Good& g = GetParam();
  Reference r = Reference::parse(g.input);
  EXPECT_EQ(r.registry, g.registry);
  EXPECT_EQ(r.repository, g.repository);
  EXPECT_EQ(r.tag, g.tag);
  EXPECT_EQ(r.digest ? r.digest->str() : "", g.digest);
}

TEST_P(ReferenceValid, StrIsFullyQualifiedAndReparses) {
  const Good& g = GetParam();
  Reference r = Reference::parse(g.input);
  std::string want = g.registry + "/" + g.repository;
  if (!g.tag.empty()) want += ":" + g.tag;
  if (!g.digest.empty()) want += "@" + g.digest;
  EXPECT_EQ(r.str(), want);
  EXPECT_EQ(Reference::parse(r.str()).str(), want);
}

INSTANTIATE_TEST_SUITE_P(Table, ReferenceValid,
                         testing::Values(
                             // Short names live on docker.io, one-component names under library/.
                             Good{"debian", "docker.io", "library/debian", "latest", ""},
                             Good{"debian:12", "docker.io", "library/debian", "12", ""},
                             Good{"library/debian:12", "docker.io", "library/debian", "12", ""},
                             Good{"foo/bar", "docker.io", "foo/bar", "latest", ""},
                             Good{"docker.io/debian", "docker.io", "library/debian", "latest", ""},
                             Good{"index.docker.io/debian", "docker.io", "library/debian", "latest", ""},
                             Good{"index.docker.io/library/debian:sid", "docker.io", "library/debian", "sid", ""},
                             // A first component without '.' or ':' that is not localhost is a path.
                             Good{"foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", ""},
                             Good{"foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080", ""},
                             Good{"lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", ""},
                             // Registries: dotted names, ports, localhost, IPv4, IPv6.
                             Good{"quay.io/fedora/fedora-bootc:42", "quay.io", "fedora/fedora-bootc", "42", ""},
                             Good{"sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", "latest", ""},
                             Good{"xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", ""},
                             Good{"Example.COM/foo", "Example.COM", "foo", "latest", ""},
                             Good{"test:5000/repo", "test:5000", "repo", "latest", ""},
                             Good{"test:5000/repo:tag", "test:5000", "repo", "tag", ""},
                             Good{"example.com:8443/a/b/c/d:1.0", "example.com:8443", "a/b/c/d", "1.0", ""},
                             Good{"localhost/hull-debian:12", "localhost", "hull-debian", "12", ""},
                             Good{"localhost:5000/x/y:tag", "localhost:5000", "x/y", "tag", ""},
                             Good{"127.0.0.1:5000/test/image:v1", "127.0.0.1:5000", "test/image", "v1", ""},
                             Good{"[::1]:5000/foo:bar", "[::1]:5000", "foo", "bar", ""},
                             Good{"[2001:db8::1]/foo", "[2001:db8::1]", "foo", "latest", ""},
                             Good{"[2001:db8::1]:5000/foo/bar", "[2001:db8::1]:5000", "foo/bar", "latest", ""},
                             // Separators inside path components.
                             Good{"a__b/c.d/e-f/g_h", "docker.io", "a__b/c.d/e-f/g_h", "latest", ""},
                             Good{"a---b/c", "docker.io", "a---b/c", "latest", ""},
                             Good{"a/b:_tag.with-all.0", "docker.io", "a/b", "_tag.with-all.0", ""},
                             Good{"a/b:" + std::string(128, 't'), "docker.io", "a/b", std::string(128, 't'), ""},
                             // Digests: alone, or with a tag (both kept).
                             Good{"test.com/repo@" + kD, "test.com", "repo", "", kD},
                             Good{"test.com/repo:tag@" + kD, "test.com", "repo", "tag", kD},
                             Good{"test:5000/repo@" + kD, "test:5000", "repo", "", kD},
                             Good{"debian@" + kD, "docker.io", "library/debian", "", kD},
                             // The longest name: 12 + 243 = 255 characters.
                             Good{"example.com/" + std::string(243, 'a'), "example.com", std::string(243, 'a'),
                                  "latest", ""}));

struct Bad {
  std::string input;
  std::string why;
};

void PrintTo(const Bad& b, std::ostream* os) { *os << b.input; }

class ReferenceInvalid : public testing::TestWithParam<Bad> {};

TEST_P(ReferenceInvalid, IsRefusedWithCause) {
  const Bad& b = GetParam();
  try {
    Reference r = Reference::parse(b.input);
    FAIL() << "accepted as " << r.str();
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), fmt::format("invalid image reference \"{}\": {}", b.input, b.why));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReferenceInvalid,
    testing::Values(Bad{"", "empty name"}, Bad{"@" + kD, "empty name"},
                    Bad{":justtag", "empty path component in the repository name"},
                    Bad{"foo//bar", "empty path component in the repository name"},
                    Bad{"foo/", "empty path component in the repository name"},
                    Bad{"Uppercase:tag", "repository name must be lowercase"},
                    Bad{"test:5000/Uppercase/lowercase:tag", "repository name must be lowercase"},
                    Bad{"aa/asdf$$^/aa", "invalid repository path component \"asdf$$^\""},
                    Bad{"a b", "invalid repository path component \"a b\""},
                    Bad{"-foo/bar", "invalid repository path component \"-foo\""},
                    Bad{"foo/bar-/baz", "invalid repository path component \"bar-\""},
                    Bad{"foo/__bar", "invalid repository path component \"__bar\""},
                    Bad{"foo/a___b", "invalid repository path component \"a___b\""},
                    Bad{"foo/a..b", "invalid repository path component \"a..b\""},
                    Bad{"a/b:tag!", "invalid tag \"tag!\""}, Bad{"a/b:-tag", "invalid tag \"-tag\""},
                    Bad{"a/b:.tag", "invalid tag \".tag\""}, Bad{"a/b:", "invalid tag \"\""},
                    Bad{"foo:bar:baz", "invalid tag \"bar:baz\""},
                    Bad{"a/b:" + std::string(129, 't'), "invalid tag \"" + std::string(129, 't') + "\""},
                    Bad{"localhost:/foo", "invalid registry \"localhost:\""},
                    Bad{"localhost:50a0/foo", "invalid registry \"localhost:50a0\""},
                    Bad{"-example.com/foo", "invalid registry \"-example.com\""},
                    Bad{"example..com/foo", "invalid registry \"example..com\""},
                    Bad{"exa_mple.com/foo", "invalid registry \"exa_mple.com\""},
                    Bad{"[fe80::1%eth0]:5000/foo", "invalid registry \"[fe80::1%eth0]:5000\""},
                    Bad{"[2001:db8::1]:abc/foo", "invalid registry \"[2001:db8::1]:abc\""},
                    Bad{"[]:5000/foo", "invalid registry \"[]:5000\""},
                    Bad{"example.com/" + std::string(244, 'a'), "name longer than 255 characters"},
                    Bad{std::string(127, 'a') + "/" + std::string(127, 'a'), "name longer than 255 characters"},
                    Bad{kHex64, "cannot specify 64-byte hexadecimal strings as a name"}, Bad{"repo@", "empty digest"},
                    Bad{"repo@sha256:ffffffffffffffffffffffffffffffffff",
                        "invalid digest \"sha256:ffffffffffffffffffffffffffffffffff\": sha256 needs 64 hex characters"},
                    Bad{"validname@invalidalgo:" + kHex64,
                        "invalid digest \"invalidalgo:" + kHex64 + "\": unsupported algorithm \"invalidalgo\""},
                    Bad{"a/b@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                        "invalid digest \"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\": "
                        "not lower-case hex"}));

TEST(Reference, DigestWinsForManifestRef) {
  Reference r = Reference::parse("quay.io/a/b:42@" + kD);
  EXPECT_EQ(r.manifest_ref(), kD);
  EXPECT_EQ(r.tag, "42");
}

TEST(Reference, TagIsManifestRefWithoutDigest) { EXPECT_EQ(Reference::parse("quay.io/a/b:42").manifest_ref(), "42"); }

TEST(Reference, NameHasNoTagOrDigest) {
  EXPECT_EQ(Reference::parse("localhost:5000/x/y:1@" + kD).name(), "localhost:5000/x/y");
}

struct Host {
  std::string input;
  std::string api_host;
  bool local;
};

void PrintTo(const Host& h, std::ostream* os) { *os << h.input; }

class ReferenceHost : public testing::TestWithParam<Host> {};

TEST_P(ReferenceHost, ApiHostAndLocality) {
  Reference r = Reference::parse(GetParam().input);
  EXPECT_EQ(r.api_host(), GetParam().api_host);
  EXPECT_EQ(r.is_local(), GetParam().local);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReferenceHost,
    testing::Values(Host{"debian", "registry-1.docker.io", false},
                    Host{"docker.io/library/debian", "registry-1.docker.io", false},
                    Host{"quay.io/a/b", "quay.io", false}, Host{"localhost/a", "localhost", true},
                    Host{"localhost:5000/a", "localhost:5000", true}, Host{"LOCALHOST:5000/a", "LOCALHOST:5000", true},
                    Host{"127.0.0.1/a", "127.0.0.1", true}, Host{"127.1.2.3:5000/a", "127.1.2.3:5000", true},
                    Host{"128.0.0.1:5000/a", "128.0.0.1:5000", false}, Host{"192.168.1.1/a", "192.168.1.1", false},
                    Host{"[::1]/a", "[::1]", true}, Host{"[::1]:5000/a", "[::1]:5000", true},
                    Host{"[0:0:0:0:0:0:0:1]:5000/a", "[0:0:0:0:0:0:0:1]:5000", true},
                    Host{"[2001:db8::1]:5000/a", "[2001:db8::1]:5000", false},
                    Host{"localhost.example.com/a", "localhost.example.com", false}));

}  // namespace
}  // namespace hull::oci
