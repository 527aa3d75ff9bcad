#include "oci/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "util/error.h"
#include "util/fd.h"

namespace hull::oci {
namespace {

using json = nlohmann::json;
using testing::HasSubstr;
using testing::StartsWith;

std::string fixture(const std::string& name) { return read_file(std::string(HULL_OCI_TESTDATA) + "/" + name); }

// The fixture `name` after `edit` was applied to its JSON.
std::string edited(const std::string& name, const std::function<void(json&)>& edit) {
  json j = json::parse(fixture(name));
  edit(j);
  return j.dump();
}

// The message of the Error that fn() throws ("" if none).
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

// A valid document padded with trailing spaces to `size` bytes.
std::string padded(const std::string& doc, size_t size) { return doc + std::string(size - doc.size(), ' '); }

// Digests in the fixtures are sha256 of short labels ("m-amd64").
std::string digest_of(std::string_view label) { return Digest::of(label).str(); }

// ---- Platform ----------------------------------------------------------------

TEST(Platform, ParsesOsArch) { EXPECT_EQ(Platform::parse("linux/amd64"), (Platform{"amd64", "linux", "", ""})); }

TEST(Platform, ParsesVariant) { EXPECT_EQ(Platform::parse("linux/arm64/v8"), (Platform{"arm64", "linux", "v8", ""})); }

TEST(Platform, StrRoundTrips) {
  EXPECT_EQ(Platform::parse("linux/arm/v7").str(), "linux/arm/v7");
  EXPECT_EQ(Platform::parse("linux/amd64").str(), "linux/amd64");
}

class PlatformInvalid : public testing::TestWithParam<std::string> {};

TEST_P(PlatformInvalid, IsRefused) {
  EXPECT_EQ(error_of([] { Platform::parse(GetParam()); }),
            "invalid platform \"" + GetParam() + "\": expected os/arch[/variant]");
}

INSTANTIATE_TEST_SUITE_P(Table, PlatformInvalid,
                         testing::Values("", "linux", "linux/", "/amd64", "linux//v8", "linux/arm/v7/x"));

TEST(Platform, HostUsesGoArchNames) {
  utsname u{};
  ASSERT_EQ(uname(&u), 0);
  Platform p = Platform::host();
  EXPECT_EQ(p.os, "linux");
  std::string machine = u.machine;
  if (machine == "x86_64") {
    EXPECT_EQ(p.architecture, "amd64");
  }
  if (machine == "aarch64") {
    EXPECT_EQ(p.architecture, "arm64");
  }
  EXPECT_FALSE(p.architecture.empty());
}

// ---- Manifest: valid documents ---------------------------------------------------

TEST(Manifest, ParsesOciFixture) {
  Manifest m = Manifest::parse(fixture("oci-manifest.json"));
  EXPECT_EQ(m.media_type, media::kOciManifest);
  EXPECT_EQ(m.config.media_type, media::kOciConfig);
  EXPECT_EQ(m.config.digest, Digest::of(fixture("config-buildah.json")));
  EXPECT_EQ(m.config.size, static_cast<int64_t>(fixture("config-buildah.json").size()));
  ASSERT_EQ(m.layers.size(), 3u);
  EXPECT_EQ(m.layers[0].digest.str(), digest_of("layer0"));
  EXPECT_EQ(m.layers[0].size, 29124563);
  EXPECT_EQ(layer_compression(m.layers[0].media_type), Compression::kGzip);
  EXPECT_EQ(layer_compression(m.layers[1].media_type), Compression::kZstd);
  EXPECT_EQ(layer_compression(m.layers[2].media_type), Compression::kNone);
  EXPECT_EQ(m.layers[2].annotations.at("org.opencontainers.image.title"), "extra.tar");
  EXPECT_EQ(m.annotations.at("org.opencontainers.image.base.name"), "localhost/hull-debian:12");
}

TEST(Manifest, ParsesDockerSchema2Fixture) {
  Manifest m = Manifest::parse(fixture("docker-manifest.json"), media::kDockerManifest);
  EXPECT_EQ(m.media_type, media::kDockerManifest);
  EXPECT_EQ(m.config.media_type, media::kDockerConfig);
  ASSERT_EQ(m.layers.size(), 3u);
  EXPECT_EQ(m.layers[2].media_type, media::kDockerLayerForeign);
  ASSERT_EQ(m.layers[2].urls.size(), 1u);
  EXPECT_THAT(m.layers[2].urls[0], StartsWith("https://mcr.microsoft.com/"));
}

TEST(Manifest, InfersOciWithoutMediaTypeOrContentType) {
  std::string doc = edited("oci-manifest.json", [](json& j) { j.erase("mediaType"); });
  EXPECT_EQ(Manifest::parse(doc).media_type, media::kOciManifest);
}

TEST(Manifest, TakesMediaTypeFromContentType) {
  std::string doc = edited("docker-manifest.json", [](json& j) { j.erase("mediaType"); });
  EXPECT_EQ(Manifest::parse(doc, media::kDockerManifest).media_type, media::kDockerManifest);
}

TEST(Manifest, IgnoresContentTypeParameters) {
  std::string ct = std::string(media::kOciManifest) + "; charset=utf-8";
  EXPECT_EQ(Manifest::parse(fixture("oci-manifest.json"), ct).media_type, media::kOciManifest);
}

TEST(Manifest, IgnoresGenericContentType) {
  EXPECT_EQ(Manifest::parse(fixture("oci-manifest.json"), "application/json").media_type, media::kOciManifest);
}

TEST(Manifest, AcceptsEmptyLayerList) {
  std::string doc = edited("oci-manifest.json", [](json& j) { j["layers"] = json::array(); });
  EXPECT_TRUE(Manifest::parse(doc).layers.empty());
}

TEST(Manifest, AcceptsNullAnnotations) {
  std::string doc = edited("oci-manifest.json", [](json& j) { j["annotations"] = nullptr; });
  EXPECT_TRUE(Manifest::parse(doc).annotations.empty());
}

TEST(Manifest, AcceptsExactlyTheSizeLimit) {
  EXPECT_NO_THROW(Manifest::parse(padded(fixture("oci-manifest.json"), kMaxManifestSize)));
}

// ---- Manifest: refusals -------------------------------------------------------------

struct BadDoc {
  std::string name;
  std::function<std::string()> bytes;
  std::string content_type;
  std::string message;
};

void PrintTo(const BadDoc& b, std::ostream* os) { *os << b.name; }

class ManifestInvalid : public testing::TestWithParam<BadDoc> {};

TEST_P(ManifestInvalid, IsRefusedWithCause) {
  const BadDoc& b = GetParam();
  std::string bytes = b.bytes();
  EXPECT_EQ(error_of([&] { Manifest::parse(bytes, b.content_type); }), b.message);
}

std::function<std::string()> file(std::string name) {
  return [name] { return fixture(name); };
}
std::function<std::string()> edit(std::string name, std::function<void(json&)> fn) {
  return [name, fn] { return edited(name, fn); };
}
std::function<std::string()> text(std::string s) {
  return [s] { return s; };
}

const std::string kLz4 = "application/vnd.example.layer.v1.tar+lz4";

INSTANTIATE_TEST_SUITE_P(
    Table, ManifestInvalid,
    testing::Values(
        BadDoc{"schema_version_1", file("invalid-schema-version.json"), "",
               "invalid manifest: schemaVersion is 1, must be 2"},
        BadDoc{"schema_version_missing", edit("oci-manifest.json", [](json& j) { j.erase("schemaVersion"); }), "",
               "invalid manifest: schemaVersion is missing (must be 2)"},
        BadDoc{"schema_version_string", edit("oci-manifest.json", [](json& j) { j["schemaVersion"] = "2"; }), "",
               "invalid manifest: schemaVersion is \"2\", must be 2"},
        BadDoc{"unknown_layer_type", file("invalid-layer-type.json"), "",
               "invalid manifest: layers[1]: unsupported layer media type \"" + kLz4 + "\""},
        BadDoc{"bad_digest", file("invalid-digest.json"), "",
               "invalid manifest: layers[0]: invalid digest \"sha256:" + std::string("0123456789abcdef") +
                   "0123456789abcdef0123456789abcdef\": sha256 needs 64 hex characters"},
        BadDoc{"missing_config", file("invalid-missing-config.json"), "", "invalid manifest: config is missing"},
        BadDoc{"artifact_config", file("invalid-artifact.json"), "",
               "invalid manifest: config: media type \"application/vnd.cncf.helm.config.v1+json\" is not an image "
               "config (an OCI artifact, not a container image?)"},
        BadDoc{"missing_layers", edit("oci-manifest.json", [](json& j) { j.erase("layers"); }), "",
               "invalid manifest: layers is missing"},
        BadDoc{"layers_not_array", edit("oci-manifest.json", [](json& j) { j["layers"] = json::object(); }), "",
               "invalid manifest: layers must be an array, not object"},
        BadDoc{"negative_size", edit("oci-manifest.json", [](json& j) { j["layers"][0]["size"] = -1; }), "",
               "invalid manifest: layers[0]: size must not be negative, got -1"},
        BadDoc{"fractional_size", edit("oci-manifest.json", [](json& j) { j["layers"][0]["size"] = 1.5; }), "",
               "invalid manifest: layers[0]: size must be a non-negative integer, not 1.5"},
        BadDoc{"string_size", edit("oci-manifest.json", [](json& j) { j["config"]["size"] = "12"; }), "",
               "invalid manifest: config: size must be a non-negative integer, not \"12\""},
        BadDoc{"missing_size", edit("oci-manifest.json", [](json& j) { j["layers"][2].erase("size"); }), "",
               "invalid manifest: layers[2]: size is missing"},
        BadDoc{"missing_layer_media_type",
               edit("oci-manifest.json", [](json& j) { j["layers"][0].erase("mediaType"); }), "",
               "invalid manifest: layers[0]: mediaType is missing"},
        BadDoc{"media_type_not_string", edit("oci-manifest.json", [](json& j) { j["mediaType"] = 5; }), "",
               "invalid manifest: mediaType must be a string, not number"},
        BadDoc{"annotation_not_string",
               edit("oci-manifest.json", [](json& j) { j["annotations"]["x"] = json::array(); }), "",
               "invalid manifest: annotations[\"x\"] must be a string, not array"},
        BadDoc{"content_type_disagrees", file("oci-manifest.json"), std::string(media::kDockerManifest),
               "invalid manifest: the document says mediaType \"" + std::string(media::kOciManifest) +
                   "\" but was served as \"" + std::string(media::kDockerManifest) + "\""},
        BadDoc{"index_as_manifest", file("oci-index.json"), "",
               "invalid manifest: media type \"" + std::string(media::kOciIndex) + "\" is not an image manifest"},
        BadDoc{"ambiguous_manifests_field", edit("oci-manifest.json", [](json& j) { j["manifests"] = json::array(); }),
               "", "invalid manifest: has \"manifests\": an index, not an image manifest"},
        BadDoc{"schema1_content_type", edit("oci-manifest.json", [](json& j) { j.erase("mediaType"); }),
               std::string(media::kDockerSchema1Signed),
               "invalid manifest: media type \"" + std::string(media::kDockerSchema1Signed) +
                   "\" is not an image manifest"},
        BadDoc{"not_an_object", text("[1, 2]"), "", "malformed manifest: not a JSON object"},
        BadDoc{"oversized", [] { return padded(fixture("oci-manifest.json"), kMaxManifestSize + 1); }, "",
               "manifest too large: 4194305 bytes, the limit is 4194304"}));

TEST(Manifest, MalformedJsonGetsShortMessage) {
  std::string msg = error_of([] { Manifest::parse("{\"schemaVersion\": 2,"); });
  EXPECT_THAT(msg, StartsWith("malformed manifest: "));
  EXPECT_THAT(msg, Not(HasSubstr("json.exception")));
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(Manifest, DeepNestingIsRefusedWithoutCrashing) {
  size_t depth = kMaxManifestSize / 2 - 2048;
  std::string doc = edited("oci-manifest.json", [](json& j) { j["annotations"] = "NEST"; });
  doc.replace(doc.find("\"NEST\""), 6, std::string(depth, '[') + std::string(depth, ']'));
  EXPECT_EQ(error_of([&] { Manifest::parse(doc); }), "invalid manifest: annotations must be an object, not array");
}

TEST(Manifest, EmptyBodyIsMalformed) {
  EXPECT_THAT(error_of([] { Manifest::parse(""); }), StartsWith("malformed manifest: "));
}

// ---- Index ---------------------------------------------------------------------------

TEST(Index, ParsesOciFixture) {
  Index x = Index::parse(fixture("oci-index.json"));
  EXPECT_EQ(x.media_type, media::kOciIndex);
  ASSERT_EQ(x.manifests.size(), 5u);
  EXPECT_EQ(x.manifests[2].platform->str(), "linux/arm/v7");
  EXPECT_EQ(x.manifests[4].annotations.at("vnd.docker.reference.type"), "attestation-manifest");
  EXPECT_EQ(x.annotations.at("org.opencontainers.image.ref.name"), "12");
}

TEST(Index, ParsesDockerListFixture) {
  Index x = Index::parse(fixture("docker-list.json"), media::kDockerList);
  EXPECT_EQ(x.media_type, media::kDockerList);
  ASSERT_EQ(x.manifests.size(), 4u);
  EXPECT_EQ(x.manifests[0].media_type, media::kDockerManifest);
}

TEST(Index, InfersOciIndexWithoutMediaType) {
  std::string doc = edited("oci-index.json", [](json& j) { j.erase("mediaType"); });
  EXPECT_EQ(Index::parse(doc).media_type, media::kOciIndex);
}

class IndexInvalid : public testing::TestWithParam<BadDoc> {};

TEST_P(IndexInvalid, IsRefusedWithCause) {
  const BadDoc& b = GetParam();
  std::string bytes = b.bytes();
  EXPECT_EQ(error_of([&] { Index::parse(bytes, b.content_type); }), b.message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, IndexInvalid,
    testing::Values(
        BadDoc{"manifest_as_index", file("oci-manifest.json"), "",
               "invalid index: media type \"" + std::string(media::kOciManifest) + "\" is not an index"},
        BadDoc{"missing_manifests", edit("oci-index.json", [](json& j) { j.erase("manifests"); }), "",
               "invalid index: manifests is missing"},
        BadDoc{"schema_version_3", edit("oci-index.json", [](json& j) { j["schemaVersion"] = 3; }), "",
               "invalid index: schemaVersion is 3, must be 2"},
        BadDoc{"platform_without_os",
               edit("oci-index.json", [](json& j) { j["manifests"][1]["platform"].erase("os"); }), "",
               "invalid index: manifests[1]: platform: os is missing"},
        BadDoc{"entry_bad_digest", edit("oci-index.json", [](json& j) { j["manifests"][0]["digest"] = "sha256:xyz"; }),
               "", "invalid index: manifests[0]: invalid digest \"sha256:xyz\": sha256 needs 64 hex characters"},
        BadDoc{"ambiguous_layers", edit("oci-index.json", [](json& j) { j["layers"] = json::array(); }), "",
               "invalid index: has \"config\" or \"layers\": an image manifest, not an index"},
        BadDoc{"content_type_disagrees", file("docker-list.json"), std::string(media::kOciIndex),
               "invalid index: the document says mediaType \"" + std::string(media::kDockerList) +
                   "\" but was served as \"" + std::string(media::kOciIndex) + "\""},
        BadDoc{"oversized", [] { return padded(fixture("oci-index.json"), kMaxManifestSize + 1); }, "",
               "manifest too large: 4194305 bytes, the limit is 4194304"}));

struct Pick {
  std::string index;
  std::string want;
  std::string label;  // of the expected digest
};

void PrintTo(const Pick& p, std::ostream* os) { *os << p.index << " " << p.want; }

class IndexSelect : public testing::TestWithParam<Pick> {};

TEST_P(IndexSelect, PicksThePlatform) {
  Index x = Index::parse(fixture(GetParam().index));
  EXPECT_EQ(x.select(Platform::parse(GetParam().want)).digest.str(), digest_of(GetParam().label));
}

INSTANTIATE_TEST_SUITE_P(Table, IndexSelect,
                         testing::Values(Pick{"oci-index.json", "linux/amd64", "m-amd64"},
                                         Pick{"oci-index.json", "linux/arm64", "m-arm64"},
                                         // arm64 without a variant is v8.
                                         Pick{"oci-index.json", "linux/arm64/v8", "m-arm64"},
                                         Pick{"oci-index.json", "linux/arm/v7", "m-armv7"},
                                         // No variant wanted: any variant matches.
                                         Pick{"oci-index.json", "linux/arm", "m-armv7"},
                                         Pick{"oci-index.json", "linux/ppc64le", "m-ppc64le"},
                                         Pick{"docker-list.json", "linux/amd64", "l-amd64"},
                                         Pick{"docker-list.json", "linux/arm64", "l-arm64"},
                                         Pick{"docker-list.json", "linux/arm64/v8", "l-arm64"},
                                         Pick{"docker-list.json", "linux/arm/v6", "l-armv6"}));

struct Miss {
  std::string index;
  std::string want;
  std::string message;
};

void PrintTo(const Miss& m, std::ostream* os) { *os << m.index << " " << m.want; }

class IndexSelectMiss : public testing::TestWithParam<Miss> {};

TEST_P(IndexSelectMiss, ListsWhatIsThere) {
  Index x = Index::parse(fixture(GetParam().index));
  EXPECT_EQ(error_of([&] { x.select(Platform::parse(GetParam().want)); }), GetParam().message);
}

const std::string kOciHas = "(has: linux/amd64, linux/arm64, linux/arm/v7, linux/ppc64le, unknown/unknown)";

INSTANTIATE_TEST_SUITE_P(
    Table, IndexSelectMiss,
    testing::Values(Miss{"oci-index.json", "linux/arm/v6", "no image for linux/arm/v6 in the index " + kOciHas},
                    Miss{"oci-index.json", "linux/riscv64", "no image for linux/riscv64 in the index " + kOciHas},
                    Miss{"oci-index.json", "windows/amd64", "no image for windows/amd64 in the index " + kOciHas},
                    Miss{"oci-index.json", "linux/arm64/v9", "no image for linux/arm64/v9 in the index " + kOciHas},
                    Miss{"docker-list.json", "linux/arm/v7",
                         "no image for linux/arm/v7 in the index (has: linux/amd64, linux/arm64/v8, linux/arm/v6, "
                         "linux/s390x)"}));

TEST(Index, SelectWithoutPlatformsSaysSo) {
  Index x = Index::parse(edited("oci-index.json", [](json& j) {
    j["manifests"] = json::array({j["manifests"][0]});
    j["manifests"][0].erase("platform");
  }));
  EXPECT_EQ(error_of([&] { x.select(Platform::parse("linux/amd64")); }),
            "no image for linux/amd64 in the index (has: no platforms)");
}

// ---- classify / media_type_of ------------------------------------------------------------

struct Kind {
  std::string name;
  std::function<std::string()> bytes;
  std::string content_type;
  std::string media_type;
  DocKind kind;
};

void PrintTo(const Kind& k, std::ostream* os) { *os << k.name; }

class Classify : public testing::TestWithParam<Kind> {};

TEST_P(Classify, DecidesKindAndType) {
  const Kind& k = GetParam();
  std::string bytes = k.bytes();
  EXPECT_EQ(media_type_of(bytes, k.content_type), k.media_type);
  EXPECT_EQ(classify(bytes, k.content_type), k.kind);
}

INSTANTIATE_TEST_SUITE_P(
    Table, Classify,
    testing::Values(Kind{"oci_manifest", file("oci-manifest.json"), "", std::string(media::kOciManifest),
                         DocKind::kManifest},
                    Kind{"oci_index", file("oci-index.json"), "", std::string(media::kOciIndex), DocKind::kIndex},
                    Kind{"docker_manifest", file("docker-manifest.json"), "", std::string(media::kDockerManifest),
                         DocKind::kManifest},
                    Kind{"docker_list", file("docker-list.json"), "", std::string(media::kDockerList), DocKind::kIndex},
                    Kind{"declared_wins_over_content_type", file("docker-list.json"), std::string(media::kOciIndex),
                         std::string(media::kDockerList), DocKind::kIndex},
                    Kind{"from_content_type", text(R"({"schemaVersion": 2})"),
                         std::string(media::kDockerManifest) + "; charset=utf-8", std::string(media::kDockerManifest),
                         DocKind::kManifest},
                    Kind{"inferred_index", text(R"({"schemaVersion": 2, "manifests": []})"), "",
                         std::string(media::kOciIndex), DocKind::kIndex},
                    Kind{"inferred_index_generic_content_type", text(R"({"schemaVersion": 2, "manifests": []})"),
                         "application/json", std::string(media::kOciIndex), DocKind::kIndex},
                    Kind{"inferred_manifest_from_config", text(R"({"schemaVersion": 2, "config": {}})"), "",
                         std::string(media::kOciManifest), DocKind::kManifest},
                    Kind{"inferred_manifest_from_layers", text(R"({"schemaVersion": 2, "layers": []})"), "",
                         std::string(media::kOciManifest), DocKind::kManifest}));

TEST(Classify, RefusesSchema1NamingIt) {
  EXPECT_EQ(error_of([] { classify(R"({"schemaVersion": 1, "name": "x", "fsLayers": []})"); }),
            "unsupported manifest media type \"" + std::string(media::kDockerSchema1) + "\"");
}

TEST(Classify, RefusesUnknownDeclaredType) {
  EXPECT_EQ(error_of([] { classify(R"({"mediaType": "text/html"})"); }),
            "unsupported manifest media type \"text/html\"");
}

TEST(Classify, RefusesDocumentWithNoClue) {
  EXPECT_EQ(error_of([] { classify("{}"); }),
            "invalid manifest: cannot tell its media type (no mediaType, config, layers or manifests)");
}

TEST(Classify, RefusesOversizedNamingSize) {
  std::string big = padded(fixture("oci-index.json"), kMaxManifestSize + 10);
  EXPECT_EQ(error_of([&] { classify(big); }), "manifest too large: 4194314 bytes, the limit is 4194304");
}

TEST(Classify, RefusesMalformed) {
  EXPECT_THAT(error_of([] { classify("not json"); }), StartsWith("malformed manifest: "));
}

// ---- ImageConfig ------------------------------------------------------------------------------

TEST(ImageConfig, ParsesBuildahFixture) {
  ImageConfig c = ImageConfig::parse(fixture("config-buildah.json"));
  EXPECT_EQ(c.architecture, "amd64");
  EXPECT_EQ(c.os, "linux");
  EXPECT_EQ(c.created, "2024-05-14T09:21:37.512094233Z");
  EXPECT_EQ(c.labels.at("containers.bootc"), "1");
  EXPECT_EQ(c.labels.size(), 3u);
  ASSERT_EQ(c.diff_ids.size(), 3u);
  EXPECT_EQ(c.diff_ids[1].str(), digest_of("diff1"));
  ASSERT_EQ(c.history.size(), 4u);
  EXPECT_TRUE(c.history[1].empty_layer);
  EXPECT_FALSE(c.history[2].empty_layer);
  EXPECT_EQ(c.history[2].created_by, "/bin/sh -c apt-get install -y openssh-server");
  EXPECT_EQ(c.history[0].comment, "debootstrap");
  EXPECT_EQ(c.platform(), Platform::parse("linux/amd64"));
}

TEST(ImageConfig, NullLabelsAreEmpty) {
  std::string doc = edited("config-buildah.json", [](json& j) { j["config"]["Labels"] = nullptr; });
  EXPECT_TRUE(ImageConfig::parse(doc).labels.empty());
}

TEST(ImageConfig, MissingConfigSectionIsFine) {
  std::string doc = edited("config-buildah.json", [](json& j) {
    j.erase("config");
    j.erase("history");
  });
  ImageConfig c = ImageConfig::parse(doc);
  EXPECT_TRUE(c.labels.empty());
  EXPECT_TRUE(c.history.empty());
}

TEST(ImageConfig, KeepsVariant) {
  std::string doc = edited("config-buildah.json", [](json& j) {
    j["architecture"] = "arm";
    j["variant"] = "v7";
  });
  EXPECT_EQ(ImageConfig::parse(doc).platform().str(), "linux/arm/v7");
}

class ImageConfigInvalid : public testing::TestWithParam<BadDoc> {};

TEST_P(ImageConfigInvalid, IsRefusedWithCause) {
  std::string bytes = GetParam().bytes();
  EXPECT_EQ(error_of([&] { ImageConfig::parse(bytes); }), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ImageConfigInvalid,
    testing::Values(
        BadDoc{"rootfs_type", edit("config-buildah.json", [](json& j) { j["rootfs"]["type"] = "tarballs"; }), "",
               "invalid image config: rootfs: type is \"tarballs\", must be \"layers\""},
        BadDoc{"rootfs_missing", edit("config-buildah.json", [](json& j) { j.erase("rootfs"); }), "",
               "invalid image config: rootfs is missing"},
        BadDoc{"diff_ids_missing", edit("config-buildah.json", [](json& j) { j["rootfs"].erase("diff_ids"); }), "",
               "invalid image config: rootfs: diff_ids is missing"},
        BadDoc{
            "diff_id_bad", edit("config-buildah.json", [](json& j) { j["rootfs"]["diff_ids"][2] = "sha256:1"; }), "",
            "invalid image config: rootfs: diff_ids[2]: invalid digest \"sha256:1\": sha256 needs 64 hex characters"},
        BadDoc{"architecture_missing", edit("config-buildah.json", [](json& j) { j.erase("architecture"); }), "",
               "invalid image config: architecture is missing"},
        BadDoc{"os_not_string", edit("config-buildah.json", [](json& j) { j["os"] = true; }), "",
               "invalid image config: os must be a string, not boolean"},
        BadDoc{"label_not_string", edit("config-buildah.json", [](json& j) { j["config"]["Labels"]["n"] = 1; }), "",
               "invalid image config: config: Labels[\"n\"] must be a string, not number"},
        BadDoc{"empty_layer_not_bool",
               edit("config-buildah.json", [](json& j) { j["history"][1]["empty_layer"] = "yes"; }), "",
               "invalid image config: history[1]: empty_layer must be a boolean, not string"},
        BadDoc{"malformed", text("{\"os\": "), "",
               "malformed image config: parse error at line 1, column 8: syntax error while parsing value - "
               "unexpected end of input; expected '[', '{', or a literal"},
        BadDoc{"oversized", [] { return padded(fixture("config-buildah.json"), kMaxConfigSize + 1); }, "",
               "image config too large: 8388609 bytes, the limit is 8388608"}));

// ---- layers and descriptors ---------------------------------------------------------------------

struct LayerType {
  std::string_view media_type;
  Compression compression;
};

class LayerCompression : public testing::TestWithParam<LayerType> {};

TEST_P(LayerCompression, FollowsMediaType) {
  EXPECT_TRUE(is_layer_media_type(GetParam().media_type));
  EXPECT_EQ(layer_compression(GetParam().media_type), GetParam().compression);
}

INSTANTIATE_TEST_SUITE_P(Table, LayerCompression,
                         testing::Values(LayerType{media::kOciLayer, Compression::kNone},
                                         LayerType{media::kOciLayerGzip, Compression::kGzip},
                                         LayerType{media::kOciLayerZstd, Compression::kZstd},
                                         LayerType{media::kOciLayerNd, Compression::kNone},
                                         LayerType{media::kOciLayerNdGzip, Compression::kGzip},
                                         LayerType{media::kOciLayerNdZstd, Compression::kZstd},
                                         LayerType{media::kDockerLayer, Compression::kNone},
                                         LayerType{media::kDockerLayerGzip, Compression::kGzip},
                                         LayerType{media::kDockerLayerForeign, Compression::kGzip}));

TEST(LayerCompression, RefusesUnknownTypeNamingIt) {
  EXPECT_FALSE(is_layer_media_type(media::kOciConfig));
  EXPECT_EQ(error_of([] { layer_compression("application/vnd.oci.image.layer.v1.tar+bzip2"); }),
            "unsupported layer media type \"application/vnd.oci.image.layer.v1.tar+bzip2\"");
}

TEST(DescriptorJson, MinimalHasSpecOrder) {
  Descriptor d;
  d.media_type = std::string(media::kOciManifest);
  d.digest = Digest::of("x");
  d.size = 7;
  EXPECT_EQ(descriptor_json(d), R"({"mediaType":")" + std::string(media::kOciManifest) + R"(","digest":")" +
                                    d.digest.str() + R"(","size":7})");
}

TEST(DescriptorJson, AllFieldsInSpecOrder) {
  Descriptor d;
  d.media_type = std::string(media::kOciManifest);
  d.digest = Digest::of("x");
  d.size = 7;
  d.urls = {"https://example.com/b"};
  d.annotations = {{"org.opencontainers.image.ref.name", "12"}};
  d.platform = Platform{"arm64", "linux", "v8", ""};
  d.artifact_type = "application/vnd.example";
  EXPECT_EQ(descriptor_json(d), R"({"mediaType":")" + std::string(media::kOciManifest) + R"(","digest":")" +
                                    d.digest.str() +
                                    R"(","size":7,"urls":["https://example.com/b"],)"
                                    R"("annotations":{"org.opencontainers.image.ref.name":"12"},)"
                                    R"("platform":{"architecture":"arm64","os":"linux","variant":"v8"},)"
                                    R"("artifactType":"application/vnd.example"})");
}

TEST(DescriptorJson, RoundTripsThroughIndex) {
  Index x = Index::parse(fixture("oci-index.json"));
  std::string doc = R"({"schemaVersion":2,"manifests":[)" + descriptor_json(x.manifests[4]) + "]}";
  Index y = Index::parse(doc);
  ASSERT_EQ(y.manifests.size(), 1u);
  EXPECT_EQ(y.manifests[0].digest, x.manifests[4].digest);
  EXPECT_EQ(y.manifests[0].annotations, x.manifests[4].annotations);
  EXPECT_EQ(y.manifests[0].platform, x.manifests[4].platform);
}

}  // namespace
}  // namespace hull::oci
