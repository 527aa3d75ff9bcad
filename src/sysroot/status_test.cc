#include "sysroot/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "util/error.h"

namespace hull::sysroot {
namespace {

using json = nlohmann::json;
using testing::HasSubstr;

const char* kDigestA = "sha256:5f0c6a8d2a33e4c1c2b5f6e09b7e4c0d9e2f6a1b3c4d5e6f708192a3b4c5d6e7";
const char* kDigestB = "sha256:9a8b7c6d5e4f30211203948576a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8";
const char* kDigestC = "sha256:0101010101010101010101010101010101010101010101010101010101010101";
const char* kCommitA = "8c4b2f0e9d1a6c3b5e7f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d";
const char* kCommitB = "1f2e3d4c5b6a79880796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const char* kCommitC = "77aa77aa77aa77aa77aa77aa77aa77aa77aa77aa77aa77aa77aa77aa77aa77aa";

// ---- the scenarios ----

ImageStatus image(const char* ref, const char* version, const char* timestamp, const char* digest,
                  const char* transport = "registry") {
  return ImageStatus{ImageReference{ref, transport, ""}, version, timestamp, digest, "amd64"};
}

BootEntry entry(std::optional<ImageStatus> img, const char* commit, int serial) {
  BootEntry e;
  e.image = std::move(img);
  e.ostree = OstreeStatus{commit, serial, "default"};
  return e;
}

HostStatus booted_only() {
  HostStatus st;
  st.booted = entry(image("localhost:5000/hull/os:1", "1.2.3", "2024-08-07T12:00:00Z", kDigestA), kCommitA, 0);
  derive_spec(st);
  return st;
}

// An upgrade staged on top of a booted v1, with an older rollback.
HostStatus staged() {
  HostStatus st;
  st.staged = entry(image("localhost:5000/hull/os:latest", "2", "2024-09-01T08:30:00.123456789Z", kDigestB),
                    kCommitB, 0);
  st.booted = entry(image("localhost:5000/hull/os:latest", "1", "2024-08-07T12:00:00Z", kDigestA), kCommitA, 0);
  st.rollback = entry(image("localhost:5000/hull/os:latest", "", "2024-07-01T00:00:00Z", kDigestC), kCommitC, 1);
  derive_spec(st);
  return st;
}

HostStatus rollback_queued() {
  HostStatus st;
  st.booted = entry(image("localhost:5000/hull/os:latest", "2", "", kDigestB), kCommitB, 0);
  st.rollback = entry(image("localhost:5000/hull/os:latest", "1", "", kDigestA), kCommitA, 0);
  st.rollback_queued = true;
  derive_spec(st);
  return st;
}

// A --sysroot directory: the default deployment shown as booted.
HostStatus offline() {
  HostStatus st;
  st.offline = true;
  st.booted = entry(image("/srv/images/os:v2", "2", "2024-09-01T08:30:00Z", kDigestB, "oci"), kCommitB, 0);
  st.rollback =
      entry(image("/srv/images/os.tar", "1", "2024-08-07T12:00:00Z", kDigestA, "oci-archive"), kCommitA, 0);
  derive_spec(st);
  return st;
}

// Pinned and other deployments, an update fetched by `upgrade --check`,
// an entry not made from a container image, a /usr overlay, a version
// YAML would read as a number.
HostStatus pinned_other() {
  HostStatus st;
  st.booted = entry(image("quay.io/example/os:stable", "42", "2024-08-07T12:00:00Z", kDigestA), kCommitA, 0);
  st.booted->pinned = true;
  st.booted->cached_update = image("quay.io/example/os:stable", "43", "2024-09-01T08:30:00Z", kDigestB);
  st.rollback = entry(std::nullopt, kCommitC, 0);
  st.rollback->incompatible = true;
  BootEntry other = entry(image("quay.io/example/os:stable", "", "", kDigestC), kCommitB, 2);
  other.pinned = true;
  st.other_deployments.push_back(other);
  st.usr_overlay = UsrOverlay{"readWrite", "transient"};
  derive_spec(st);
  return st;
}

HostStatus not_booted() { return HostStatus{}; }

struct Scenario {
  const char* name;
  std::function<HostStatus()> make;
};

const Scenario kScenarios[] = {
    {"booted-only", booted_only},   {"staged", staged},         {"rollback-queued", rollback_queued},
    {"offline", offline},           {"pinned-other", pinned_other}, {"not-booted", not_booted},
};

// ---- golden files ----

std::string golden_path(const std::string& name) { return std::string(HULL_SYSROOT_TESTDATA) + "/" + name; }

std::string read_golden(const std::string& name) {
  std::ifstream in(golden_path(name), std::ios::binary);
  if (!in) return "<missing golden file " + name + ">";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares `got` with testdata/NAME byte for byte; HULL_UPDATE_GOLDEN=1
// rewrites the file instead.
void expect_golden(const std::string& name, const std::string& got) {
  if (std::getenv("HULL_UPDATE_GOLDEN")) {
    std::ofstream(golden_path(name), std::ios::binary) << got;
    return;
  }
  EXPECT_EQ(got, read_golden(name)) << "golden file " << name << " (HULL_UPDATE_GOLDEN=1 rewrites it)";
}

struct Golden {
  const char* file;
  std::function<HostStatus()> make;
  std::function<std::string(const HostStatus&)> render;
};

std::string pretty(const HostStatus& s) { return render_json(s); }
std::string canonical(const HostStatus& s) { return render_json(s, JsonStyle::kCanonical); }
std::string yaml(const HostStatus& s) { return render_yaml(s); }
std::string human(const HostStatus& s) { return render_human(s); }
std::string human_verbose(const HostStatus& s) { return render_human(s, true); }

TEST(StatusJson, SignaturePolicyRoundTrips) {
  HostStatus st;
  BootEntry e;
  e.image = ImageStatus{bootc_image_reference(image::ImageName::parse("quay.io/x/y:1"), true), "1", "", "sha256:" + std::string(64, 'a'), "amd64"};
  e.ostree = {"c0ffee", 0, "default"};
  st.booted = e;
  derive_spec(st);
  std::string j = render_json(st);
  auto doc = nlohmann::json::parse(j);
  EXPECT_EQ(doc["spec"]["image"]["signature"], "containerPolicy");
  // bootc's field order: image, transport, signature.
  EXPECT_NE(j.find("\"image\": \"quay.io/x/y:1\",\n      \"transport\": \"registry\",\n      \"signature\": \"containerPolicy\""),
            std::string::npos)
      << j;
  EXPECT_EQ(parse_json(j), st);
  EXPECT_EQ(parse_json(render_json(st, JsonStyle::kCanonical)), st);
}

TEST(StatusRender, MatchesGoldenFiles) {
  const Golden goldens[] = {
      {"status-booted-only.json", booted_only, pretty},
      {"status-booted-only.yaml", booted_only, yaml},
      {"status-booted-only.txt", booted_only, human},
      {"status-booted-only.canonical.json", booted_only, canonical},
      {"status-staged.json", staged, pretty},
      {"status-staged.yaml", staged, yaml},
      {"status-staged.txt", staged, human},
      {"status-staged-verbose.txt", staged, human_verbose},
      {"status-rollback-queued.yaml", rollback_queued, yaml},
      {"status-rollback-queued.txt", rollback_queued, human},
      {"status-offline.json", offline, pretty},
      {"status-offline.yaml", offline, yaml},
      {"status-offline.txt", offline, human},
      {"status-pinned-other.json", pinned_other, pretty},
      {"status-pinned-other.yaml", pinned_other, yaml},
      {"status-pinned-other.txt", pinned_other, human},
      {"status-pinned-other-verbose.txt", pinned_other, human_verbose},
      {"status-not-booted.json", not_booted, pretty},
      {"status-not-booted.yaml", not_booted, yaml},
      {"status-not-booted.txt", not_booted, human},
  };
  for (const Golden& g : goldens) {
    SCOPED_TRACE(g.file);
    expect_golden(g.file, g.render(g.make()));
  }
}

TEST(StatusJson, RoundTrips) {
  for (const Scenario& s : kScenarios) {
    SCOPED_TRACE(s.name);
    HostStatus st = s.make();
    EXPECT_EQ(parse_json(render_json(st)), st);
    EXPECT_EQ(parse_json(render_json(st, JsonStyle::kCanonical)), st);
  }
}

TEST(StatusJson, CanonicalIsThePrettyDocumentSortedAndCompact) {
  for (const Scenario& s : kScenarios) {
    SCOPED_TRACE(s.name);
    HostStatus st = s.make();
    EXPECT_EQ(render_json(st, JsonStyle::kCanonical), json::parse(render_json(st)).dump());
  }
}

// Which fields bootc writes as null and which it leaves out.
TEST(StatusJson, NullAndAbsentFields) {
  enum Want { kNull, kAbsent, kPresent };
  struct Case {
    const char* scenario;
    const char* pointer;
    Want want;
  };
  const Case cases[] = {
      {"not-booted", "/spec/image", kNull},
      {"not-booted", "/spec/bootOrder", kPresent},
      {"not-booted", "/status/staged", kNull},
      {"not-booted", "/status/booted", kNull},
      {"not-booted", "/status/rollback", kNull},
      {"not-booted", "/status/otherDeployments", kAbsent},
      {"not-booted", "/status/type", kNull},
      {"not-booted", "/status/usrOverlay", kNull},
      {"not-booted", "/status/readOnly", kPresent},
      {"not-booted", "/metadata/annotations", kAbsent},
      {"not-booted", "/metadata/labels", kAbsent},
      {"not-booted", "/metadata/namespace", kAbsent},
      {"booted-only", "/spec/image/signature", kAbsent},
      {"booted-only", "/status/booted/image/image/signature", kAbsent},
      {"booted-only", "/status/booted/cachedUpdate", kNull},
      {"booted-only", "/status/booted/composefs", kNull},
      {"booted-only", "/status/booted/store", kPresent},
      {"booted-only", "/status/booted/softRebootCapable", kPresent},
      {"booted-only", "/status/booted/downloadOnly", kPresent},
      {"booted-only", "/status/booted/ostree/deploySerial", kPresent},
      {"booted-only", "/metadata/annotations", kAbsent},
      {"rollback-queued", "/status/booted/image/timestamp", kNull},
      {"staged", "/status/rollback/image/version", kNull},
      {"pinned-other", "/status/otherDeployments/0/image/version", kNull},
      {"pinned-other", "/status/rollback/image", kNull},
      {"pinned-other", "/status/booted/cachedUpdate/imageDigest", kPresent},
      {"offline", "/metadata/annotations/hull~1offline", kPresent},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.scenario) + " " + c.pointer);
    const Scenario* s = std::find_if(std::begin(kScenarios), std::end(kScenarios),
                                     [&](const Scenario& x) { return std::string(x.name) == c.scenario; });
    json doc = json::parse(render_json(s->make()));
    json::json_pointer p(c.pointer);
    switch (c.want) {
      case kAbsent: EXPECT_FALSE(doc.contains(p)); break;
      case kNull: ASSERT_TRUE(doc.contains(p)); EXPECT_TRUE(doc.at(p).is_null()); break;
      case kPresent: ASSERT_TRUE(doc.contains(p)); EXPECT_FALSE(doc.at(p).is_null()); break;
    }
  }
}

TEST(StatusJson, TypeIsBootcHostOnlyWhenBootedFromAnImage) {
  EXPECT_EQ(json::parse(render_json(booted_only()))["status"]["type"], "bootcHost");
  EXPECT_EQ(json::parse(render_json(offline()))["status"]["type"], "bootcHost");
  HostStatus st = booted_only();
  st.booted->image.reset();
  EXPECT_TRUE(json::parse(render_json(st))["status"]["type"].is_null());
}

TEST(StatusJson, DeriveSpecFollowsStagedThenBooted) {
  HostStatus st = staged();
  EXPECT_EQ(st.spec_image->image, "localhost:5000/hull/os:latest");
  EXPECT_EQ(st.boot_order, "default");
  EXPECT_EQ(rollback_queued().boot_order, "rollback");
  EXPECT_FALSE(not_booted().spec_image);
}

TEST(StatusJson, ReadsBootcsOwnOutput) {
  // Written the way bootc 1.16 writes it (canonical: sorted, compact), with
  // a signature bootc adds for unverified images in older documents.
  const char* doc =
      R"({"apiVersion":"org.containers.bootc/v1","kind":"BootcHost","metadata":{"name":"host"},)"
      R"("spec":{"bootOrder":"default","image":{"image":"quay.io/a/b:1","signature":"insecure","transport":"registry"}},)"
      R"("status":{"booted":{"cachedUpdate":null,"composefs":null,"downloadOnly":false,)"
      R"("image":{"architecture":"arm64","image":{"image":"quay.io/a/b:1","transport":"registry"},)"
      R"("imageDigest":"sha256:aa","timestamp":"2024-01-02T03:04:05.5Z","version":null},)"
      R"("incompatible":false,"ostree":{"checksum":"abc","deploySerial":3,"stateroot":"default"},)"
      R"("pinned":false,"softRebootCapable":true,"store":"ostreeContainer"},)"
      R"("readOnly":false,"rollback":null,"rollbackQueued":false,"staged":null,"type":"bootcHost","usrOverlay":null}})";
  HostStatus st = parse_json(doc);
  ASSERT_TRUE(st.booted && st.booted->image);
  EXPECT_EQ(st.booted->image->architecture, "arm64");
  EXPECT_EQ(st.booted->image->timestamp, "2024-01-02T03:04:05.5Z");
  EXPECT_EQ(st.booted->image->version, "");
  EXPECT_EQ(st.booted->ostree.deploy_serial, 3);
  EXPECT_TRUE(st.booted->soft_reboot_capable);
  EXPECT_EQ(st.spec_image->image, "quay.io/a/b:1");
  EXPECT_FALSE(st.offline);
}

TEST(StatusJson, ParseErrorsNameThePath) {
  auto edited = [](const std::function<void(json&)>& edit) {
    json j = json::parse(render_json(staged()));
    edit(j);
    return j.dump();
  };
  const std::pair<std::string, const char*> cases[] = {
      {"{", "not valid JSON"},
      {"[]", "the document: expected an object"},
      {edited([](json& j) { j["apiVersion"] = "org.containers.bootc/v2"; }), "apiVersion: unsupported"},
      {edited([](json& j) { j["kind"] = "Pod"; }), "kind: expected BootcHost"},
      {edited([](json& j) { j["status"]["booted"]["ostree"]["deploySerial"] = "0"; }),
       "status.booted.ostree.deploySerial: expected an integer"},
      {edited([](json& j) { j["status"]["staged"]["image"].erase("imageDigest"); }),
       "status.staged.image.imageDigest: missing"},
      {edited([](json& j) { j["status"]["rollback"]["pinned"] = 1; }), "status.rollback.pinned: expected true or false"},
      {edited([](json& j) { j["spec"]["bootOrder"] = "sideways"; }), "spec.bootOrder: expected default or rollback"},
      {edited([](json& j) { j["spec"]["image"]["signature"] = json{{"ostreeRemote", "fedora"}}; }),
       "spec.image.signature: {\"ostreeRemote\":\"fedora\"}: hull verifies signatures by the container policy only"},
      {edited([](json& j) { j["status"]["booted"]["composefs"] = json::object(); }),
       "status.booted.composefs: composefs deployments are not supported"},
      {edited([](json& j) { j["status"]["otherDeployments"] = json::array({1}); }),
       "status.otherDeployments[0]: expected an object"},
  };
  for (const auto& [text, why] : cases) {
    SCOPED_TRACE(why);
    try {
      parse_json(text);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("parsing BootcHost status JSON: "));
      EXPECT_THAT(e.what(), HasSubstr(why));
    }
  }
}

TEST(StatusRender, RefusesValuesBootcDoesNotHave) {
  HostStatus st = booted_only();
  st.boot_order = "next";
  EXPECT_THROW(render_json(st), Error);
  st = booted_only();
  st.usr_overlay = UsrOverlay{"rw", "transient"};
  EXPECT_THROW(render_yaml(st), Error);
}

// serde_yaml quotes a string exactly when YAML would read it back as
// something else (or libyaml cannot write it plain).
TEST(StatusYaml, QuotesStringsOnlyWhereNeeded) {
  const std::pair<const char*, const char*> cases[] = {
      {"stream9.20240807.0", "stream9.20240807.0"},
      {"1.2.3", "1.2.3"},
      {"1.0", "'1.0'"},
      {"42", "'42'"},
      {"-7", "'-7'"},
      {"1e3", "'1e3'"},
      {"0x1F", "'0x1F'"},
      {".inf", "'.inf'"},
      {"0123", "'0123'"},
      {"-007", "'-007'"},
      {"0b101", "'0b101'"},
      {"inf", "inf"},
      {"true", "'true'"},
      {"False", "'False'"},
      {"null", "'null'"},
      {"~", "'~'"},
      {"yes", "yes"},
      {"v1: beta", "'v1: beta'"},
      {"v1:beta", "v1:beta"},
      {"release #3", "'release #3'"},
      {"release#3", "release#3"},
      {"- x", "'- x'"},
      {"-x", "-x"},
      {"#1", "'#1'"},
      {"*star", "'*star'"},
      {"[a]", "'[a]'"},
      {"it's", "it's"},
      {"'q'", "'''q'''"},
      {" lead", "' lead'"},
      {"trail ", "'trail '"},
      {"---x", "'---x'"},
      {"ends:", "'ends:'"},
      {"tab\there", "\"tab\\there\""},
      {"ünïcode", "ünïcode"},
  };
  for (const auto& [version, want] : cases) {
    SCOPED_TRACE(version);
    HostStatus st = booted_only();
    st.booted->image->version = version;
    std::string y = render_yaml(st);
    EXPECT_THAT(y, HasSubstr(std::string("\n      version: ") + want + "\n"));
  }
}

TEST(StatusHuman, TimestampsLoseTheirFraction) {
  const std::pair<const char*, const char*> cases[] = {
      {"2024-06-15T10:30:45.123456789Z", "2024-06-15T10:30:45Z"},
      {"2024-06-15T10:30:45Z", "2024-06-15T10:30:45Z"},
      {"2024-06-15T10:30:45+00:00", "2024-06-15T10:30:45Z"},
      {"2024-06-15T10:30:45.5+02:00", "2024-06-15T10:30:45.5+02:00"},  // not UTC: shown as given
  };
  for (const auto& [ts, want] : cases) {
    SCOPED_TRACE(ts);
    HostStatus st = booted_only();
    st.booted->image->timestamp = ts;
    EXPECT_THAT(render_human(st), HasSubstr(std::string("Version: 1.2.3 (") + want + ")\n"));
    st.booted->image->version = "";
    EXPECT_THAT(render_human(st), HasSubstr(std::string("Timestamp: ") + want + "\n"));
  }
}

TEST(StatusHuman, CachedUpdateWithTheSameDigestIsHidden) {
  HostStatus st = pinned_other();
  st.booted->cached_update->image_digest = st.booted->image->image_digest;
  EXPECT_THAT(render_human(st), testing::Not(HasSubstr("Update")));
  st.booted->cached_update->image_digest = kDigestC;
  st.booted->cached_update->version = "";
  EXPECT_THAT(render_human(st), HasSubstr("\n        Update: Available\n"));
}

TEST(StatusBootcRef, FromImageNames) {
  const std::tuple<const char*, const char*, const char*> cases[] = {
      {"quay.io/x/y:1", "quay.io/x/y:1", "registry"},
      {"debian", "docker.io/library/debian:latest", "registry"},
      {"oci:/var/img:v2", "/var/img:v2", "oci"},
      {"oci:/var/img", "/var/img", "oci"},
      {"oci-archive:/tmp/os.tar:latest", "/tmp/os.tar:latest", "oci-archive"},
  };
  for (const auto& [in, img, transport] : cases) {
    SCOPED_TRACE(in);
    ImageReference r = bootc_image_reference(image::ImageName::parse(in));
    EXPECT_EQ(r.image, img);
    EXPECT_EQ(r.transport, transport);
  }
}

}  // namespace
}  // namespace hull::sysroot
