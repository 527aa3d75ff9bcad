#include "image/inspect.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace hull::image {
namespace {

TEST(Inspect, RendersSkopeoKeys) {
  InspectData d;
  d.name = "127.0.0.1:5000/hull/debian";
  d.tag = "12";
  std::string layer_digest = "sha256:" + std::string(64, 'a');
  std::string config_digest = "sha256:" + std::string(64, 'c');
  d.manifest.bytes = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                     R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                     config_digest + R"(","size":10},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
                     layer_digest + R"(","size":1234}]})";
  d.manifest.media_type = "application/vnd.oci.image.manifest.v1+json";
  d.manifest.digest = oci::Digest::of(d.manifest.bytes);
  d.config = R"({"architecture":"amd64","os":"linux","created":"2026-11-22T00:00:00Z",)"
             R"("config":{"Env":["PATH=/usr/bin"],"Labels":{"containers.bootc":"1"}},)"
             R"("rootfs":{"type":"layers","diff_ids":["sha256:)" + std::string(64, 'd') + R"("]}})";
  auto j = nlohmann::json::parse(render_inspect_json(d));
  EXPECT_EQ(j["Name"], "127.0.0.1:5000/hull/debian");
  EXPECT_EQ(j["Digest"], d.manifest.digest.str());
  EXPECT_EQ(j["RepoTags"][0], "12");
  EXPECT_EQ(j["Architecture"], "amd64");
  EXPECT_EQ(j["Os"], "linux");
  EXPECT_EQ(j["Created"], "2026-11-22T00:00:00Z");
  EXPECT_EQ(j["Labels"]["containers.bootc"], "1");
  EXPECT_EQ(j["Layers"][0], layer_digest);
  EXPECT_EQ(j["LayersData"][0]["Size"], 1234);
  EXPECT_EQ(j["LayersData"][0]["MIMEType"], "application/vnd.oci.image.layer.v1.tar+gzip");
  EXPECT_EQ(j["Env"][0], "PATH=/usr/bin");
  EXPECT_EQ(j["MediaType"], "application/vnd.oci.image.manifest.v1+json");
}

}  // namespace
}  // namespace hull::image
