#include "signature/policy.h"

#include <gtest/gtest.h>

#include "signature/registries_d.h"
#include "util/error.h"

namespace hull::signature {
namespace {

std::string error_of(std::string_view json) {
  try {
    parse_policy(json);
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

TEST(Policy, ParsesEveryRequirementAndIdentity) {
  Policy p = parse_policy(R"({
    "default": [{"type": "reject"}],
    "transports": {
      "docker": {
        "quay.io/a": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}],
        "quay.io/b": [{"type": "signedBy", "keyType": "GPGKeys", "keyPaths": ["/1", "/2"],
                       "signedIdentity": {"type": "matchRepository"}}],
        "quay.io/c": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "aGVsbG8=",
                       "signedIdentity": {"type": "exactReference", "dockerReference": "quay.io/x/y:1"}}],
        "quay.io/d": [{"type": "sigstoreSigned", "keyPath": "/c.pub",
                       "signedIdentity": {"type": "remapIdentity", "prefix": "mirror.io/x", "signedPrefix": "quay.io/x"}}],
        "quay.io/e": [{"type": "sigstoreSigned", "keyData": "aGVsbG8=",
                       "signedIdentity": {"type": "exactRepository", "dockerRepository": "quay.io/x/y"}}],
        "": [{"type": "insecureAcceptAnything"}]
      },
      "atomic": {"x": [{"type": "reject"}]},
      "oci": {"/srv/os": [{"type": "insecureAcceptAnything"}]}
    }})");
  ASSERT_EQ(p.default_reqs.size(), 1u);
  EXPECT_EQ(p.default_reqs[0].kind, Requirement::kReject);
  ASSERT_EQ(p.transports.size(), 3u);
  auto& ts = p.transports;  // sorted by name, scopes too
  ASSERT_EQ(ts[1].first, "docker");
  std::vector<std::pair<std::string, Requirements>> d(ts[1].second.begin() + 1, ts[1].second.end());
  ASSERT_EQ(ts[1].second[0].first, "");
  EXPECT_EQ(d[0].second[0].kind, Requirement::kSignedBy);
  EXPECT_EQ(d[0].second[0].key_paths, std::vector<std::string>{"/k.gpg"});
  EXPECT_EQ(d[0].second[0].identity.kind, IdentityRule::kMatchRepoDigestOrExact);
  EXPECT_EQ(d[1].second[0].key_paths.size(), 2u);
  EXPECT_EQ(d[1].second[0].identity.kind, IdentityRule::kMatchRepository);
  EXPECT_EQ(*d[2].second[0].key_data, "hello");
  EXPECT_EQ(d[2].second[0].identity.kind, IdentityRule::kExactReference);
  EXPECT_EQ(d[3].second[0].kind, Requirement::kSigstoreSigned);
  EXPECT_EQ(d[3].second[0].identity.signed_prefix, "quay.io/x");
  EXPECT_EQ(d[4].second[0].identity.reference, "quay.io/x/y");
}

TEST(Policy, RefusesWhatContainersImageRefusesAndWhatHullDoesNotDo) {
  struct Case {
    const char* json;
    const char* error;
  } cases[] = {
      {R"({})", "the default policy is missing"},
      {R"({"default": []})", "default: the list of requirements must not be empty"},
      {R"({"default": [{"type": "reject"}], "extra": 1})", "unknown key \"extra\""},
      {R"({"default": [{"type": "reject"}], "default": [{"type": "reject"}]})", "duplicate key \"default\""},
      {R"({"default": [{"type": "acceptEverything"}]})", "unknown policy requirement type \"acceptEverything\""},
      {R"({"default": [{"type": "reject", "why": 1}]})", "default[0]: unknown key \"why\""},
      {R"({"default": [{"type": "signedBy", "keyPath": "/k"}]})", "invalid keyType \"\""},
      {R"({"default": [{"type": "signedBy", "keyType": "X509Certificates", "keyPath": "/k"}]})", "not supported by hull"},
      {R"({"default": [{"type": "signedBy", "keyType": "GPGKeys"}]})", "exactly one of keyPath, keyPaths and keyData"},
      {R"({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "keyData": "aA=="}]})",
       "more than one present"},
      {R"({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "!!"}]})", "default[0].keyData"},
      {R"({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPth": "/k"}]})", "unknown key \"keyPth\""},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": "/k", "fulcio": {}}]})",
       "default[0].fulcio: not supported by hull"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": "/k", "rekorPublicKeyPath": "/r"}]})",
       "rekorPublicKeyPath: not supported by hull"},
      {R"({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "signedIdentity": {"type": "matchAll"}}]})",
       "unknown signedIdentity type \"matchAll\""},
      {R"({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k",
            "signedIdentity": {"type": "exactReference", "dockerReference": "quay.io/x"}}]})",
       "is not a reference with a tag or digest"},
      {R"({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k",
            "signedIdentity": {"type": "matchExact", "x": 1}}]})",
       "signedIdentity: unknown key \"x\""},
      {R"({"default": [{"type": "reject"}], "transports": {"oci": {"relative/dir": [{"type": "reject"}]}}})",
       "must be a clean absolute path"},
      {R"({"default": [{"type": "reject"}], "transports": {"docker": {"quay.io": {"type": "reject"}}}})",
       "transports.docker.\"quay.io\": expected an array"},
      {R"({"default": [{"type": "signedBaseLayer"}]})", "not supported by hull"},
      {R"({"default": [{"type": "reject"}])", "invalid JSON"},
  };
  for (auto& c : cases) {
    std::string e = error_of(c.json);
    EXPECT_NE(e.find(c.error), std::string::npos) << c.json << "\n  got: " << e;
    EXPECT_TRUE(e.starts_with("policy: ")) << e;
  }
}

TEST(Policy, ScopesAreResolvedByLongestMatch) {
  Policy p = parse_policy(R"({
    "default": [{"type": "reject"}],
    "transports": {
      "docker": {
        "": [{"type": "insecureAcceptAnything"}],
        "*.example.com": [{"type": "reject"}],
        "reg.example.com:5000": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/host"}],
        "reg.example.com:5000/ns": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/ns"}],
        "reg.example.com:5000/ns/repo": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/repo"}],
        "reg.example.com:5000/ns/repo:v2": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/tag"}],
        "docker.io/library": [{"type": "sigstoreSigned", "keyPath": "/lib"}]
      },
      "oci": {"/srv/images": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/oci"}]}
    }})");
  struct Case {
    const char* image;
    const char* scope;
  } cases[] = {
      {"docker://reg.example.com:5000/ns/repo:v2", "transports.docker.\"reg.example.com:5000/ns/repo:v2\""},
      {"docker://reg.example.com:5000/ns/repo:v1", "transports.docker.\"reg.example.com:5000/ns/repo\""},
      {"docker://reg.example.com:5000/ns/other:1", "transports.docker.\"reg.example.com:5000/ns\""},
      {"docker://reg.example.com:5000/x/y:1", "transports.docker.\"reg.example.com:5000\""},
      {"docker://reg.example.com/x/y:1", "transports.docker.\"*.example.com\""},
      {"docker://a.b.example.com:443/x:1", "transports.docker.\"*.example.com\""},
      {"docker://debian:12", "transports.docker.\"docker.io/library\""},
      {"docker://quay.io/x/y:1", "transports.docker.\"\""},
      {"oci:/srv/images/os:1", "transports.oci.\"/srv/images\""},
      {"oci:/srv/images:1", "transports.oci.\"/srv/images\""},
      {"oci:/elsewhere/os:1", "default"},
      {"oci-archive:/srv/images/os.tar", "default"},
  };
  for (auto& c : cases) {
    std::string scope;
    requirements_for(p, image::ImageName::parse(c.image), &scope);
    EXPECT_EQ(scope, c.scope) << c.image;
  }
  EXPECT_EQ(policy_scopes(image::ImageName::parse("docker://a.b.example.com:5000/ns/r@sha256:" + std::string(64, 'a'))),
            (std::vector<std::string>{"a.b.example.com:5000/ns/r@sha256:" + std::string(64, 'a'),
                                      "a.b.example.com:5000/ns/r", "a.b.example.com:5000/ns", "a.b.example.com:5000",
                                      "*.b.example.com", "*.example.com", "*.com"}));
}

TEST(Policy, SignedIdentityRules) {
  const std::string dg = "@sha256:" + std::string(64, 'b');
  auto rule = [](IdentityRule::Kind k, std::string ref = "", std::string prefix = "", std::string signed_prefix = "") {
    IdentityRule r;
    r.kind = k;
    r.reference = ref;
    r.prefix = prefix;
    r.signed_prefix = signed_prefix;
    return r;
  };
  IdentityRule repo_digest_or_exact;
  IdentityRule repository = rule(IdentityRule::kMatchRepository);
  IdentityRule exact = rule(IdentityRule::kMatchExact);
  IdentityRule exact_ref = rule(IdentityRule::kExactReference, "quay.io/x/y:1");
  IdentityRule exact_repo = rule(IdentityRule::kExactRepository, "quay.io/x/y");
  IdentityRule remap = rule(IdentityRule::kRemapIdentity, "", "mirror.io/x", "quay.io/x");
  struct Case {
    const IdentityRule* rule;
    const char* intended;  // "" for an oci: image
    std::string signed_ref;
    bool match;
  } cases[] = {
      {&repo_digest_or_exact, "quay.io/x/y:1", "quay.io/x/y:1", true},
      {&repo_digest_or_exact, "quay.io/x/y:1", "quay.io/x/y:2", false},
      {&repo_digest_or_exact, "quay.io/x/y:1", "quay.io/x/y", false},
      {&repo_digest_or_exact, "quay.io/x/y:1", "quay.io/x/z:1", false},
      {&repo_digest_or_exact, "debian:12", "docker.io/library/debian:12", true},
      {&repository, "quay.io/x/y:1", "quay.io/x/y:7", true},
      {&repository, "quay.io/x/y:1", "quay.io/x/y", true},
      {&repository, "quay.io/x/y:1", "quay.io/x/z:1", false},
      {&exact, "quay.io/x/y:1", "quay.io/x/y:1", true},
      {&exact, "quay.io/x/y:1", "quay.io/x/y" + dg, false},
      {&exact_ref, "other.io/a:1", "quay.io/x/y:1", true},
      {&exact_ref, "other.io/a:1", "quay.io/x/y:2", false},
      {&exact_ref, "", "quay.io/x/y:1", true},
      {&exact_repo, "", "quay.io/x/y:9", true},
      {&exact_repo, "", "quay.io/x/z:9", false},
      {&remap, "mirror.io/x/y:1", "quay.io/x/y:1", true},
      {&remap, "mirror.io/x/y:1", "mirror.io/x/y:1", false},
      {&remap, "mirror.io/xy/z:1", "mirror.io/xy/z:1", true},  // prefix matches whole components only
      {&remap, "quay.io/x/y:1", "quay.io/x/y:1", true},
      {&repo_digest_or_exact, "", "quay.io/x/y:1", false},  // no docker identity
      {&repo_digest_or_exact, "quay.io/x/y:1", "Not A Reference", false},
  };
  for (auto& c : cases) {
    std::optional<oci::Reference> intended;
    if (*c.intended) intended = oci::Reference::parse(c.intended);
    EXPECT_EQ(identity_matches(*c.rule, intended, c.signed_ref), c.match)
        << c.rule->kind << " " << c.intended << " vs " << c.signed_ref;
  }
  // A digest reference: the repository must match, the digest is checked elsewhere.
  auto by_digest = oci::Reference::parse("quay.io/x/y" + dg);
  EXPECT_TRUE(identity_matches(repo_digest_or_exact, by_digest, "quay.io/x/y:anything"));
  EXPECT_FALSE(identity_matches(repo_digest_or_exact, by_digest, "quay.io/x/z:1"));
}

TEST(RegistriesD, LookasideAndAttachmentsByLongestNamespace) {
  RegistriesD c;
  parse_registries_d_file(R"(
default-docker:
  lookaside: file:///var/lib/containers/sigstore
  lookaside-staging: file:///ignored
docker:
  127.0.0.1:5000/os:
    lookaside: http://127.0.0.1:8000/sigs/
    use-sigstore-attachments: true
  127.0.0.1:5000/os/special:
    use-sigstore-attachments: false
)",
                          "a.yaml", c);
  auto n = [](const char* s) { return image::ImageName::parse(s); };
  EXPECT_EQ(lookaside_base(c, n("docker://127.0.0.1:5000/os/debian:12")), "http://127.0.0.1:8000/sigs/os/debian");
  EXPECT_EQ(lookaside_base(c, n("docker://127.0.0.1:5000/os/special:1")), "http://127.0.0.1:8000/sigs/os/special");
  EXPECT_EQ(lookaside_base(c, n("docker://quay.io/x/y:1")), "file:///var/lib/containers/sigstore/x/y");
  EXPECT_EQ(lookaside_write_base(c, n("docker://quay.io/x/y:1")), "file:///ignored/x/y");  // lookaside-staging
  EXPECT_EQ(lookaside_write_base(c, n("docker://127.0.0.1:5000/os/debian:12")), "http://127.0.0.1:8000/sigs/os/debian");
  EXPECT_TRUE(use_sigstore_attachments(c, n("docker://127.0.0.1:5000/os/debian:12")));
  EXPECT_FALSE(use_sigstore_attachments(c, n("docker://127.0.0.1:5000/os/special:1")));
  EXPECT_FALSE(use_sigstore_attachments(c, n("docker://quay.io/x/y:1")));
  EXPECT_THROW(parse_registries_d_file("default-docker:\n  lookaside: x\n", "b.yaml", c), Error);
  EXPECT_THROW(parse_registries_d_file("docker:\n  127.0.0.1:5000/os: {}\n", "c.yaml", c), Error);
  RegistriesD bad;
  EXPECT_THROW(parse_registries_d_file("docker: [1, 2", "d.yaml", bad), Error);
  EXPECT_THROW(parse_registries_d_file("docker:\n  x:\n    use-sigstore-attachments: maybe\n", "e.yaml", bad), Error);
}

}  // namespace
}  // namespace hull::signature
