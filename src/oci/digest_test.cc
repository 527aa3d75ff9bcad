#include "oci/digest.h"

#include <gtest/gtest.h>

#include <string>

#include "util/error.h"

namespace hull::oci {
namespace {

const std::string kEmpty256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbc512 =
    "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

TEST(Digest, ParsesSha256) {
  Digest d = Digest::parse(kEmpty256);
  EXPECT_EQ(d.algorithm(), "sha256");
  EXPECT_EQ(d.encoded().size(), 64u);
  EXPECT_EQ(d.str(), kEmpty256);
  EXPECT_EQ(d.short_str(), "sha256:e3b0c44298fc");
}

TEST(Digest, ParsesSha512) { EXPECT_EQ(Digest::parse(kAbc512).algorithm(), "sha512"); }

TEST(Digest, OfComputesSha256) { EXPECT_EQ(Digest::of("").str(), kEmpty256); }

TEST(Digest, DefaultIsEmpty) { EXPECT_TRUE(Digest().empty()); }

TEST(Digest, OrdersAndCompares) {
  EXPECT_EQ(Digest::parse(kEmpty256), Digest::of(""));
  EXPECT_NE(Digest::of("a"), Digest::of("b"));
}

struct BadDigest {
  const char* input;
  const char* message;
};

class DigestInvalid : public testing::TestWithParam<BadDigest> {};

TEST_P(DigestInvalid, IsRefusedWithCause) {
  try {
    Digest::parse(GetParam().input);
    FAIL() << "accepted " << GetParam().input;
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), GetParam().message);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DigestInvalid,
    testing::Values(
        BadDigest{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                  "invalid digest \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\": no algorithm"},
        BadDigest{"md5:d41d8cd98f00b204e9800998ecf8427e",
                  "invalid digest \"md5:d41d8cd98f00b204e9800998ecf8427e\": unsupported algorithm \"md5\""},
        BadDigest{"sha256:abc", "invalid digest \"sha256:abc\": sha256 needs 64 hex characters"},
        BadDigest{"sha256:", "invalid digest \"sha256:\": sha256 needs 64 hex characters"},
        BadDigest{"sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                  "invalid digest \"sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\": "
                  "sha512 needs 128 hex characters"},
        BadDigest{"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                  "invalid digest \"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\": "
                  "not lower-case hex"},
        BadDigest{"sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                  "invalid digest \"sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\": "
                  "not lower-case hex"}));

TEST(DigestVerifier, AcceptsMatchingStream) {
  DigestVerifier v(Digest::of("hello world"));
  v.update("hello ", 6);
  v.update("world", 5);
  EXPECT_EQ(v.size(), 11u);
  EXPECT_NO_THROW(v.verify());
}

TEST(DigestVerifier, RefusesMismatchNamingBoth) {
  DigestVerifier v(Digest::of("expected"));
  v.update("got", 3);
  try {
    v.verify();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.message(),
              "digest mismatch: expected " + Digest::of("expected").str() + ", got " + Digest::of("got").str());
  }
}

TEST(DigestVerifier, VerifiesSha512) {
  DigestVerifier v(Digest::parse(kAbc512));
  v.update("abc", 3);
  EXPECT_NO_THROW(v.verify());
}

}  // namespace
}  // namespace hull::oci
