#include "image/transport.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace hull::image {
namespace {

struct Case {
  const char* in;
  Transport transport;
  const char* str;   // canonical form
  const char* path;
  const char* name;
};

TEST(ImageName, ParsesTransports) {
  const Case cases[] = {
      {"docker://quay.io/fedora/fedora-bootc:42", Transport::kDocker, "docker://quay.io/fedora/fedora-bootc:42", "", ""},
      {"localhost:5000/x/y:v1", Transport::kDocker, "docker://localhost:5000/x/y:v1", "", ""},
      {"debian", Transport::kDocker, "docker://docker.io/library/debian:latest", "", ""},
      {"oci:/tmp/layout", Transport::kOci, "oci:/tmp/layout", "/tmp/layout", ""},
      {"oci:/tmp/layout:v1", Transport::kOci, "oci:/tmp/layout:v1", "/tmp/layout", "v1"},
      {"oci:rel/dir:a:b", Transport::kOci, "oci:rel/dir:a:b", "rel/dir", "a:b"},
      {"oci-archive:/tmp/x.tar:latest", Transport::kOciArchive, "oci-archive:/tmp/x.tar:latest", "/tmp/x.tar", "latest"},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.in);
    ImageName n = ImageName::parse(c.in);
    EXPECT_EQ(n.transport, c.transport);
    EXPECT_EQ(n.str(), c.str);
    EXPECT_EQ(n.path, c.path);
    EXPECT_EQ(n.name, c.name);
  }
}

TEST(ImageName, RefusesWithAReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"containers-storage:localhost/x", "buildah push"},
      {"oci:", "missing path"},
      {"oci-archive::tag", "missing path"},
      {"docker://UPPER/case", "invalid image reference"},
      {"docker:x", "docker://"},
  };
  for (auto& [in, why] : cases) {
    SCOPED_TRACE(in);
    try {
      ImageName::parse(in);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(in), std::string::npos) << e.what();
    }
  }
}

TEST(ImageName, BootcTransportNames) {
  EXPECT_EQ(transport_from_bootc("registry"), Transport::kDocker);
  EXPECT_EQ(transport_from_bootc("oci-archive"), Transport::kOciArchive);
  EXPECT_EQ(bootc_transport_name(Transport::kOci), "oci");
  EXPECT_THROW(transport_from_bootc("containers-storage"), Error);
}

}  // namespace
}  // namespace hull::image
