#include "registry/registries_conf.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace hull::registry {
namespace {

TEST(RegistriesConf, InsecureLocations) {
  auto locs = insecure_locations("r.conf", R"(
unqualified-search-registries = ["docker.io"]
[[registry]]
location = "10.0.2.100:5000"
insecure = true
[[registry]]
location = "quay.io"
[[registry]]
prefix = "lab.example/team"
insecure = true
)");
  ASSERT_EQ(locs.size(), 2u);
  EXPECT_EQ(locs[0], "10.0.2.100:5000");
  EXPECT_EQ(locs[1], "lab.example/team");
}

TEST(RegistriesConf, MalformedNamesTheFile) {
  try {
    insecure_locations("/etc/containers/registries.conf", "[[registry]\nlocation=");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/etc/containers/registries.conf"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hull::registry
