#include "signature/payload.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace hull::signature {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

std::string simple(std::string critical_extra = "", std::string optional = R"({"creator": "skopeo", "timestamp": 1700000000})") {
  return R"({"critical": {"type": "atomic container signature", "image": {"docker-manifest-digest": ")" + kDigest +
         R"("}, "identity": {"docker-reference": "quay.io/x/y:1"})" + critical_extra + R"(}, "optional": )" + optional + "}";
}

TEST(Payload, SimpleSigningAndCosign) {
  Payload p = parse_payload(simple(), kSimpleSigningType);
  EXPECT_EQ(p.manifest_digest.str(), kDigest);
  EXPECT_EQ(p.docker_reference, "quay.io/x/y:1");
  std::string cosign = R"({"critical":{"identity":{"docker-reference":"127.0.0.1:5000/os/debian"},"image":{"docker-manifest-digest":")" +
                       kDigest + R"("},"type":"cosign container image signature"},"optional":null})";
  EXPECT_EQ(parse_payload(cosign, kCosignType).docker_reference, "127.0.0.1:5000/os/debian");
  EXPECT_THROW(parse_payload(cosign, kSimpleSigningType), Error);  // wrong type, and optional null
}

TEST(Payload, RefusesAnythingElse) {
  std::string cases[] = {
      simple(R"(, "extra": 1)"),
      simple("", R"({"timestamp": 1.5})"),
      simple("", R"({"creator": 7})"),
      R"({"critical": {"type": "atomic container signature", "image": {"docker-manifest-digest": "sha256:zz"}, "identity": {"docker-reference": "a/b:1"}}, "optional": {}})",
      R"({"critical": {"type": "atomic container signature", "image": {}, "identity": {"docker-reference": "a/b:1"}}, "optional": {}})",
      R"({"critical": {"type": "atomic container signature", "image": {"docker-manifest-digest": ")" + kDigest + R"(", "x": 1}, "identity": {"docker-reference": "a/b:1"}}, "optional": {}})",
      R"({"critical": {"type": "something else", "image": {"docker-manifest-digest": ")" + kDigest + R"("}, "identity": {"docker-reference": "a/b:1"}}, "optional": {}})",
      R"({"critical": {"type": "atomic container signature", "type": "atomic container signature", "image": {"docker-manifest-digest": ")" + kDigest + R"("}, "identity": {"docker-reference": "a/b:1"}}, "optional": {}})",
      R"({"critical": {}, "optional": {}})",
      R"([1, 2])",
      "\xff\xfe",
      R"({"optional": {}})",
  };
  for (auto& c : cases) {
    try {
      parse_payload(c, kSimpleSigningType);
      ADD_FAILURE() << "accepted: " << c;
    } catch (const Error& e) {
      EXPECT_TRUE(e.message().starts_with("invalid signature payload")) << e.message();
    }
  }
}

}  // namespace
}  // namespace hull::signature
