// registry::Client against the real docker-registry (push, pull, auth,
// mounts), against the faulty registry (resume, retry, refusal), and with
// skopeo reading what it pushed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "oci/manifest.h"
#include "oci/reference.h"
#include "registry/client.h"
#include "support/faulty_registry.h"
#include "support/process.h"
#include "support/registry.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::registry {
namespace {

using json = nlohmann::json;
using test::BlobFaults;
using test::FaultyRegistry;
using test::LocalRegistry;

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

oci::Descriptor descriptor(const std::string& data, std::string_view media_type = oci::media::kOciLayerGzip) {
  oci::Descriptor d;
  d.media_type = std::string(media_type);
  d.digest = oci::Digest::of(data);
  d.size = static_cast<int64_t>(data.size());
  return d;
}

oci::Reference ref(const std::string& host, const std::string& repo) {
  return oci::Reference::parse(host + "/" + repo + ":latest");
}

// Options for tests: an auth file of our own (never the machine's), quick
// stall detection.
Options options(const std::string& authfile) {
  Options o;
  o.authfile = authfile;
  o.stall_timeout_seconds = 2;
  o.max_attempts = 5;
  return o;
}

// A scratch directory with files to write blobs into and read them from.
class Scratch {
 public:
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }
  UniqueFd create(const std::string& name) { return open_file(path(name), O_RDWR | O_CREAT | O_TRUNC, 0644); }
  UniqueFd with(const std::string& name, const std::string& data) {
    UniqueFd fd = create(name);
    write_all(fd.get(), data, name);
    return fd;
  }
  std::string read(const std::string& name) const { return read_file(path(name), 1u << 30); }
  // An auth file with no entries: keeps the machine's credentials out.
  std::string empty_authfile() {
    write_file_atomic(path("empty-auth.json"), R"({"auths": {}})");
    return path("empty-auth.json");
  }

 private:
  TempDir dir_{"hull-registry-test"};
};

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.message();
  }
  return "(no error)";
}

// An OCI manifest for `config` and `layers`.
std::string manifest_json(const oci::Descriptor& config, const std::vector<oci::Descriptor>& layers) {
  json m = {{"schemaVersion", 2}, {"mediaType", oci::media::kOciManifest}};
  m["config"] = {{"mediaType", config.media_type}, {"digest", config.digest.str()}, {"size", config.size}};
  m["layers"] = json::array();
  for (const auto& l : layers) m["layers"].push_back({{"mediaType", l.media_type}, {"digest", l.digest.str()}, {"size", l.size}});
  return m.dump();
}

struct PushedImage {
  std::string manifest;
  oci::Digest manifest_digest;
  std::vector<std::string> blobs;  // config first
};

// Pushes a config and `layers` (arbitrary bytes) and a manifest under `tag`.
PushedImage push_image(Client& c, Scratch& s, const std::vector<std::string>& layers, const std::string& tag) {
  PushedImage img;
  std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
  oci::Descriptor cd = descriptor(config, oci::media::kOciConfig);
  c.push_blob_bytes(cd, config);
  img.blobs.push_back(config);
  std::vector<oci::Descriptor> lds;
  for (size_t i = 0; i < layers.size(); i++) {
    oci::Descriptor d = descriptor(layers[i]);
    UniqueFd fd = s.with("layer" + std::to_string(i), layers[i]);
    c.push_blob(d, fd.get());
    lds.push_back(d);
    img.blobs.push_back(layers[i]);
  }
  img.manifest = manifest_json(cd, lds);
  img.manifest_digest = oci::Digest::of(img.manifest);
  c.put_manifest(tag, img.manifest, oci::media::kOciManifest);
  return img;
}

// Pulls everything of `img` back and compares it byte for byte.
void expect_pulls_back(Client& c, Scratch& s, const PushedImage& img, const std::string& tag) {
  FetchedManifest m = c.get_manifest(tag);
  EXPECT_EQ(m.bytes, img.manifest);
  EXPECT_EQ(m.digest, img.manifest_digest);
  EXPECT_EQ(m.media_type, oci::media::kOciManifest);
  FetchedManifest by_digest = c.get_manifest(img.manifest_digest.str());
  EXPECT_EQ(by_digest.bytes, img.manifest);
  for (size_t i = 0; i < img.blobs.size(); i++) {
    oci::Descriptor d = descriptor(img.blobs[i]);
    EXPECT_TRUE(c.has_blob(d.digest));
    UniqueFd fd = s.create("pulled" + std::to_string(i));
    c.fetch_blob(d, fd.get());
    EXPECT_EQ(s.read("pulled" + std::to_string(i)), img.blobs[i]) << "blob " << i;
  }
}

// ---- against the real registry ---------------------------------------------

TEST(RegistryClient, PushThenPullMonolithic) {
  LocalRegistry reg;
  Scratch s;
  Client c(ref(reg.host(), "hull/mono"), options(s.empty_authfile()), /*push=*/true);
  PushedImage img = push_image(c, s, {random_bytes(1 << 20, 1), random_bytes(12345, 2), ""}, "v1");
  expect_pulls_back(c, s, img, "v1");
}

TEST(RegistryClient, PushThenPullChunked) {
  LocalRegistry reg;
  Scratch s;
  Options o = options(s.empty_authfile());
  o.chunk_size = 64 << 10;
  Client c(ref(reg.host(), "hull/chunked"), o, true);
  // Sizes: several chunks plus a tail, exactly one chunk, less than one.
  PushedImage img = push_image(c, s, {random_bytes(300000, 3), random_bytes(64 << 10, 4), random_bytes(10, 5)}, "v1");
  Client reader(ref(reg.host(), "hull/chunked"), options(s.empty_authfile()));
  expect_pulls_back(reader, s, img, "v1");
}

TEST(RegistryClient, ExistingBlobIsNotUploadedAgain) {
  LocalRegistry reg;
  Scratch s;
  Client c(ref(reg.host(), "hull/skip"), options(s.empty_authfile()), true);
  std::string data = random_bytes(5000, 6);
  oci::Descriptor d = descriptor(data);
  EXPECT_FALSE(c.has_blob(d.digest));
  UniqueFd fd = s.with("blob", data);
  c.push_blob(d, fd.get());
  EXPECT_TRUE(c.has_blob(d.digest));
  // An empty file as the source: any attempt to upload would fail reading it.
  UniqueFd empty = s.create("empty");
  EXPECT_NO_THROW(c.push_blob(d, empty.get()));
  // ...as it does for a blob that is not there yet.
  std::string other = random_bytes(100, 7);
  EXPECT_NE(message_of([&] { c.push_blob(descriptor(other), empty.get()); }).find("shorter than expected"),
            std::string::npos);
}

TEST(RegistryClient, CrossRepositoryMount) {
  LocalRegistry reg;
  Scratch s;
  std::string data = random_bytes(70000, 8);
  oci::Descriptor d = descriptor(data);
  Client a(ref(reg.host(), "hull/source"), options(s.empty_authfile()), true);
  UniqueFd fd = s.with("blob", data);
  a.push_blob(d, fd.get());
  Client b(ref(reg.host(), "hull/target"), options(s.empty_authfile()), true);
  EXPECT_FALSE(b.has_blob(d.digest));
  EXPECT_TRUE(b.mount_blob(d.digest, "hull/source"));
  EXPECT_TRUE(b.has_blob(d.digest));
  // A blob the source does not have: the registry offers an upload instead.
  EXPECT_FALSE(b.mount_blob(oci::Digest::of("not there"), "hull/source"));
}

TEST(RegistryClient, MissingTagNamesTheImage) {
  LocalRegistry reg;
  Scratch s;
  Client c(ref(reg.host(), "x/y"), options(s.empty_authfile()));
  EXPECT_EQ(message_of([&] { c.get_manifest("v1"); }),
            "fetching manifest " + reg.host() + "/x/y:v1: 404 Not Found: MANIFEST_UNKNOWN: manifest unknown");
}

TEST(RegistryClient, BasicAuth) {
  LocalRegistry reg(LocalRegistry::Options{LocalRegistry::Auth::kBasic, {}});
  Scratch s;
  Client c(ref(reg.host(), "hull/basic"), options(reg.write_authfile()), true);
  PushedImage img = push_image(c, s, {random_bytes(100000, 9)}, "v1");
  expect_pulls_back(c, s, img, "v1");
}

TEST(RegistryClient, BasicAuthWithoutCredentialsSaysWhereItLooked) {
  LocalRegistry reg(LocalRegistry::Options{LocalRegistry::Auth::kBasic, {}});
  Scratch s;
  std::string authfile = s.empty_authfile();
  Client c(ref(reg.host(), "hull/basic"), options(authfile));
  std::string msg = message_of([&] { c.get_manifest("v1"); });
  EXPECT_EQ(msg.find("fetching manifest " + reg.host() + "/hull/basic:v1: 401 Unauthorized: no credentials for " +
                     reg.host() + " (looked in: " + authfile + ")"),
            0u)
      << msg;
}

TEST(RegistryClient, BasicAuthWithWrongPasswordIsRejected) {
  LocalRegistry reg(LocalRegistry::Options{LocalRegistry::Auth::kBasic, {}});
  Scratch s;
  std::string authfile = s.path("wrong.json");
  write_file_atomic(authfile, R"({"auths": {")" + reg.host() + R"(": {"auth": "aHVsbDp3cm9uZw=="}}})");  // hull:wrong
  Client c(ref(reg.host(), "hull/basic"), options(authfile));
  std::string msg = message_of([&] { c.get_manifest("v1"); });
  EXPECT_NE(msg.find("401 Unauthorized: credentials for " + reg.host() + " from " + authfile + " were rejected"),
            std::string::npos)
      << msg;
}

TEST(RegistryClient, TokenAuth) {
  LocalRegistry reg(LocalRegistry::Options{LocalRegistry::Auth::kToken, {}});
  Scratch s;
  Options o = options(reg.write_authfile());
  Client c(ref(reg.host(), "hull/token"), o, true);
  PushedImage img = push_image(c, s, {random_bytes(200000, 10)}, "v1");
  expect_pulls_back(c, s, img, "v1");
  EXPECT_GE(reg.token_requests(), 1);
  // Tokens are reused: far fewer token requests than registry requests.
  EXPECT_LE(reg.token_requests(), 2);

  // A mount needs pull rights on the source: a token with that scope too.
  Client other(ref(reg.host(), "hull/token-copy"), o, true);
  EXPECT_TRUE(other.mount_blob(descriptor(img.blobs[1]).digest, "hull/token"));

  // Anonymous: the token service grants nothing, the registry says 401.
  Client anon(ref(reg.host(), "hull/token"), options(s.empty_authfile()));
  std::string msg = message_of([&] { anon.get_manifest("v1"); });
  EXPECT_NE(msg.find(": 401 Unauthorized: no credentials for " + reg.host()), std::string::npos) << msg;
}

TEST(RegistryClient, TokenAuthWithWrongPassword) {
  LocalRegistry reg(LocalRegistry::Options{LocalRegistry::Auth::kToken, {}});
  Scratch s;
  std::string authfile = s.path("wrong.json");
  write_file_atomic(authfile, R"({"auths": {")" + reg.host() + R"(": {"auth": "aHVsbDp3cm9uZw=="}}})");
  Client c(ref(reg.host(), "hull/token"), options(authfile));
  std::string msg = message_of([&] { c.get_manifest("v1"); });
  EXPECT_NE(msg.find("401 Unauthorized: credentials for " + reg.host() + " from " + authfile + " were rejected"),
            std::string::npos)
      << msg;
}

// ---- against the faulty registry -------------------------------------------

struct Faulty {
  FaultyRegistry reg;
  Scratch s;
  Options o;
  explicit Faulty(bool bearer = false) : reg(bearer), o(options(s.empty_authfile())) {}
  Client client() { return Client(ref(reg.host(), "x/y"), o); }
  // Fetches `data` (served with `faults`) and returns what landed in the file.
  std::string fetch(const std::string& data, const BlobFaults& faults) {
    reg.add_blob(data, faults);
    Client c = client();
    UniqueFd fd = s.create("out");
    c.fetch_blob(descriptor(data), fd.get());
    return s.read("out");
  }
  int gets(const oci::Digest& d) { return reg.count("GET", "/blobs/" + d.str()); }
  bool had_range(const oci::Digest& d, const std::string& range) {
    for (const auto& r : reg.requests())
      if (r.path.find(d.str()) != std::string::npos && r.range == range) return true;
    return false;
  }
};

TEST(RegistryClientFaults, ResumesAfterTruncation) {
  Faulty f;
  std::string data = random_bytes(1 << 20, 20);
  EXPECT_EQ(f.fetch(data, {.truncate_after = 300000, .truncate_times = 1}), data);
  EXPECT_TRUE(f.had_range(oci::Digest::of(data), "bytes=300000-"));
  EXPECT_EQ(f.gets(oci::Digest::of(data)), 2);
}

TEST(RegistryClientFaults, ResumesThroughARedirect) {
  Faulty f;
  std::string data = random_bytes(400000, 21);
  EXPECT_EQ(f.fetch(data, {.truncate_after = 100000, .truncate_times = 1, .redirect = true}), data);
  EXPECT_EQ(f.reg.count("GET", "/storage/"), 2);
  EXPECT_TRUE(f.had_range(oci::Digest::of(data), "bytes=100000-"));
}

TEST(RegistryClientFaults, CorruptionIsRefusedAndNothingIsKept) {
  Faulty f;
  std::string data = random_bytes(100000, 22);
  oci::Digest d = f.reg.add_blob(data, {.corrupt_times = 100});
  Client c = f.client();
  UniqueFd fd = f.s.create("out");
  std::string msg = message_of([&] { c.fetch_blob(descriptor(data), fd.get()); });
  EXPECT_NE(msg.find("blob " + d.short_str() + ": digest mismatch: expected " + d.str() + ", got sha256:"),
            std::string::npos)
      << msg;
  EXPECT_EQ(msg.find(f.reg.host() + "/x/y"), std::string("fetching ").size()) << msg;
  EXPECT_EQ(f.gets(d), 2);  // one retry from zero, no more
  struct stat st {};
  ASSERT_EQ(::fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
}

TEST(RegistryClientFaults, CorruptionOnceIsRetriedFromZero) {
  Faulty f;
  std::string data = random_bytes(100000, 23);
  EXPECT_EQ(f.fetch(data, {.corrupt_times = 1}), data);
}

TEST(RegistryClientFaults, ServerErrorsAreRetried) {
  Faulty f;
  std::string data = random_bytes(50000, 24);
  EXPECT_EQ(f.fetch(data, {.fail_500_times = 2}), data);
  EXPECT_EQ(f.gets(oci::Digest::of(data)), 3);
}

TEST(RegistryClientFaults, PersistentServerErrorsGiveUp) {
  Faulty f;
  f.o.max_attempts = 3;
  std::string data = random_bytes(100, 25);
  oci::Digest d = f.reg.add_blob(data, {.fail_500_times = 100});
  Client c = f.client();
  UniqueFd fd = f.s.create("out");
  std::string msg = message_of([&] { c.fetch_blob(descriptor(data), fd.get()); });
  EXPECT_NE(msg.find("500 Internal Server Error: UNKNOWN: injected failure"), std::string::npos) << msg;
  EXPECT_EQ(f.gets(d), 3);
}

TEST(RegistryClientFaults, StallIsRetried) {
  Faulty f;
  f.o.stall_timeout_seconds = 1;
  std::string data = random_bytes(300000, 26);
  EXPECT_EQ(f.fetch(data, {.stall_after = 100000, .stall_seconds = 6, .stall_times = 1}), data);
  EXPECT_TRUE(f.had_range(oci::Digest::of(data), "bytes=100000-"));
}

TEST(RegistryClientFaults, TooManyRequestsHonoursRetryAfter) {
  Faulty f;
  std::string data = random_bytes(1000, 27);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(f.fetch(data, {.too_many_times = 1, .retry_after_seconds = 2}), data);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1900));
}

TEST(RegistryClientFaults, IgnoredRangeStartsOver) {
  Faulty f;
  std::string data = random_bytes(500000, 28);
  EXPECT_EQ(f.fetch(data, {.truncate_after = 200000, .truncate_times = 1, .ignore_range = true}), data);
  EXPECT_TRUE(f.had_range(oci::Digest::of(data), "bytes=200000-"));
}

TEST(RegistryClientFaults, WrongContentLengthIsRefused) {
  for (int64_t delta : {int64_t{10}, int64_t{-10}}) {
    SCOPED_TRACE(delta);
    Faulty f;
    std::string data = random_bytes(20000, 29);
    f.reg.add_blob(data, {.content_length_delta = delta});
    Client c = f.client();
    UniqueFd fd = f.s.create("out");
    std::string msg = message_of([&] { c.fetch_blob(descriptor(data), fd.get()); });
    EXPECT_NE(msg.find("the registry announced"), std::string::npos) << msg;
    struct stat st {};
    ASSERT_EQ(::fstat(fd.get(), &st), 0);
    EXPECT_EQ(st.st_size, 0);
  }
}

TEST(RegistryClientFaults, OversizedManifestIsRefused) {
  for (bool chunked : {false, true}) {
    SCOPED_TRACE(chunked);
    Faulty f;
    std::string big = R"({"schemaVersion":2,"annotations":{"pad":")" + std::string(oci::kMaxManifestSize, 'a') + "\"}}";
    f.reg.add_manifest("big", big, std::string(oci::media::kOciManifest), chunked);
    Client c = f.client();
    std::string msg = message_of([&] { c.get_manifest("big"); });
    EXPECT_NE(msg.find("fetching manifest " + f.reg.host() + "/x/y:big: manifest too large"), std::string::npos) << msg;
    EXPECT_EQ(f.reg.count("GET", "/manifests/big"), 1);  // not retried
  }
}

TEST(RegistryClientFaults, ManifestByDigestIsVerified) {
  Faulty f;
  std::string m = manifest_json(descriptor("{}", oci::media::kOciConfig), {});
  oci::Digest d = f.reg.add_manifest("v1", m, std::string(oci::media::kOciManifest));
  Client c = f.client();
  FetchedManifest got = c.get_manifest(d.str());
  EXPECT_EQ(got.bytes, m);
  EXPECT_EQ(got.digest, d);
  EXPECT_EQ(got.media_type, oci::media::kOciManifest);
  // Served under a digest that is not its own: refused.
  oci::Digest wrong = oci::Digest::of("something else");
  f.reg.add_manifest(wrong.str(), m, std::string(oci::media::kOciManifest));
  std::string msg = message_of([&] { c.get_manifest(wrong.str()); });
  EXPECT_NE(msg.find("digest mismatch"), std::string::npos) << msg;
}

TEST(RegistryClientFaults, BearerChallengeFlow) {
  Faulty f(/*bearer=*/true);
  std::string data = random_bytes(200000, 30);
  f.reg.add_manifest("v1", manifest_json(descriptor("{}", oci::media::kOciConfig), {}),
                     std::string(oci::media::kOciManifest));
  f.reg.add_blob(data, {.truncate_after = 50000, .truncate_times = 1, .fail_500_times = 1});
  Client c = f.client();
  c.get_manifest("v1");
  UniqueFd fd = f.s.create("out");
  c.fetch_blob(descriptor(data), fd.get());
  EXPECT_EQ(f.s.read("out"), data);
  EXPECT_EQ(f.reg.token_requests(), 1);
}

TEST(RegistryClientFaults, SmallBlobLimit) {
  Faulty f;
  std::string data = random_bytes(1000, 31);
  f.reg.add_blob(data);
  Client c = f.client();
  EXPECT_EQ(c.fetch_blob_bytes(descriptor(data), 1000), data);
  EXPECT_NE(message_of([&] { c.fetch_blob_bytes(descriptor(data), 999); }).find("over the limit"), std::string::npos);
}

TEST(RegistryClientFaults, UnreachableRegistry) {
  Scratch s;
  int port = test::free_port();
  Options o = options(s.empty_authfile());
  o.max_attempts = 2;
  std::string host = "127.0.0.1:" + std::to_string(port);
  Client c(ref(host, "x/y"), o);
  EXPECT_EQ(message_of([&] { c.get_manifest("v1"); }),
            "fetching manifest " + host + "/x/y:v1: cannot connect to " + host + ": Connection refused");
}

// ---- interoperability ------------------------------------------------------

TEST(RegistryClientInterop, SkopeoReadsWhatWePushed) {
  LocalRegistry reg;
  Scratch s;
  make_dirs(s.path("rootfs/etc"));
  write_file_atomic(s.path("rootfs/etc/hello"), "hello from hull\n");
  test::sh("tar -C " + s.path("rootfs") + " -cf " + s.path("layer.tar") + " . && gzip -n -c " + s.path("layer.tar") +
           " > " + s.path("layer.tar.gz"));
  std::string tar = s.read("layer.tar");
  std::string gz = s.read("layer.tar.gz");
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", json::object()},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {oci::Digest::of(tar).str()}}}}};
  std::string config_bytes = config.dump();
  oci::Descriptor cd = descriptor(config_bytes, oci::media::kOciConfig);
  oci::Descriptor ld = descriptor(gz, oci::media::kOciLayerGzip);

  Client c(ref(reg.host(), "hull/interop"), options(s.empty_authfile()), true);
  c.push_blob_bytes(cd, config_bytes);
  UniqueFd fd = s.with("layer-src", gz);
  c.push_blob(ld, fd.get());
  std::string manifest = manifest_json(cd, {ld});
  c.put_manifest("v1", manifest, oci::media::kOciManifest);
  oci::Digest md = oci::Digest::of(manifest);

  std::string image = "docker://" + reg.host() + "/hull/interop:v1";
  json inspect = json::parse(test::run_ok({"skopeo", "inspect", "--tls-verify=false", image}));
  EXPECT_EQ(inspect.value("Digest", ""), md.str());
  test::run_ok({"skopeo", "copy", "--quiet", "--src-tls-verify=false", image, "oci:" + s.path("layout") + ":v1"});
  json index = json::parse(s.read("layout/index.json"));
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(index["manifests"][0]["digest"], md.str());
  EXPECT_EQ(s.read("layout/blobs/sha256/" + ld.digest.encoded()), gz);
}

}  // namespace
}  // namespace hull::registry
