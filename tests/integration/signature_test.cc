// Signed images end to end, with real signers and the real docker-registry:
// GPG simple signing (gpg + skopeo standalone-sign, lookaside file://) and
// cosign 2.5 (Debian 13's binary, scripts/get-cosign.sh; sigstore
// attachments), checked by `hull image copy` (the source is checked against
// the policy before anything but its manifest is read) and by the host
// commands on a sysroot directory with --enforce-container-sigpolicy.
// Every refusal must be one line naming the image and the rule, with no
// layer blob requested from the registry and nothing written.
#include <chrono>
#include <filesystem>
#include <iostream>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <thread>

#include "oci/manifest.h"
#include "registry/client.h"
#include "signature/verify.h"
#include "support/images.h"
#include "support/process.h"
#include "support/registry.h"
#include "util/file.h"

namespace hull::test {
namespace {

namespace fs = std::filesystem;
const std::string kHull = HULL_BIN;

ProcessResult hull(std::vector<std::string> args) {
  args.insert(args.begin(), kHull);
  return run(args);
}

std::string cosign_bin() {
  static std::string bin = [] {
    auto r = run({"sh", std::string(HULL_SOURCE_DIR) + "/scripts/get-cosign.sh"});
    std::string p = r.out.substr(0, r.out.find('\n'));
    return r.ok() && path_exists(p) ? p : std::string();
  }();
  return bin;
}

// A GPG key made by gpg itself in a keyring of its own.
struct GpgKey {
  TempDir home{"hull-test-gnupg"};
  std::string fpr, pub;
  explicit GpgKey(const std::string& who) {
    ::chmod(home.path().c_str(), 0700);
    gpg({"--batch", "--passphrase", "", "--quick-gen-key", who + " <" + who + "@hull.test>", "default", "default",
         "never"});
    std::string colons = gpg({"--with-colons", "--list-keys"});
    auto p = colons.find("\nfpr:");
    fpr = colons.substr(p + 1).substr(0, colons.substr(p + 1).find('\n'));
    fpr = fpr.substr(0, fpr.rfind(':'));
    fpr = fpr.substr(fpr.rfind(':') + 1);
    pub = home.path() + "/pub.asc";
    write_file_atomic(pub, gpg({"--armor", "--export", fpr}));
  }
  ~GpgKey() { run({"env", "GNUPGHOME=" + home.path(), "gpgconf", "--kill", "all"}); }
  std::string gpg(std::vector<std::string> args) {
    args.insert(args.begin(), {"env", "GNUPGHOME=" + home.path(), "gpg"});
    return run_ok(args);
  }
  // skopeo standalone-sign of `manifest` for `identity` into `out`.
  void sign(const std::string& manifest, const std::string& identity, const std::string& out) {
    TempDir t("hull-test-manifest");
    write_file_atomic(t.path() + "/m.json", manifest);
    make_dirs(fs::path(out).parent_path().string());
    run_ok({"env", "GNUPGHOME=" + home.path(), "skopeo", "standalone-sign", t.path() + "/m.json", identity, fpr,
            "--output", out});
  }
};

// A cosign key pair made by `cosign generate-key-pair` (empty password).
struct CosignKey {
  TempDir dir{"hull-test-cosign"};
  std::string key() const { return dir.path() + "/k.key"; }
  std::string pub() const { return dir.path() + "/k.pub"; }
  CosignKey() {
    RunOptions o;
    o.cwd = dir.path();
    run_ok({"env", "COSIGN_PASSWORD=", "HOME=" + dir.path(), cosign_bin(), "generate-key-pair", "--output-key-prefix",
            "k"},
           o);
  }
  void sign(const std::string& ref_at_digest) const {
    run_ok({"env", "COSIGN_PASSWORD=", "HOME=" + dir.path(), cosign_bin(), "sign", "--key", key(),
            "--tlog-upload=false", "--allow-insecure-registry", "--allow-http-registry", "-y", ref_at_digest});
  }
};

registry::Client client(const std::string& ref) {
  registry::Options o;
  o.tls_verify = false;
  return registry::Client(oci::Reference::parse(ref), o);
}

std::string json_escape(const std::string& s) { return nlohmann::json(s).dump(); }

class Signatures : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_FALSE(cosign_bin().empty()) << "cosign not available (scripts/get-cosign.sh)";
    s_ = new Shared;
  }
  static void TearDownTestSuite() {
    delete s_;
    s_ = nullptr;
  }

  static LocalRegistry::Options logged() {
    LocalRegistry::Options o;
    o.access_log = true;
    return o;
  }
  struct Shared {
    LocalRegistry reg{logged()};
    TestImageBuilder b;
    TempDir dir{"hull-test-sigs"};
    GpgKey good{"good"}, wrong{"wrong"};
    CosignKey cosign, cosign_wrong;
    std::string v1, v2;  // local image names
    Shared() {
      TestImageSpec s1;
      s1.version = "1";
      v1 = b.build("v1", s1);
      TestImageSpec s2;
      s2.version = "2";
      s2.files = {{"/usr/share/v", "2\n"}};
      v2 = b.build("v2", s2);
      make_dirs(lookaside());
      make_dirs(dir.path() + "/registries.d");
      write_file_atomic(dir.path() + "/registries.d/test.yaml",
                        "default-docker:\n  lookaside: file://" + lookaside() + "\n"
                        "docker:\n  " + reg.host() + "/cosign:\n    use-sigstore-attachments: true\n");
    }
    std::string lookaside() const { return dir.path() + "/lookaside"; }
  };
  static Shared* s_;

  const std::string& host() { return s_->reg.host(); }
  // Pushes local image `local` to HOST/REPO:1; returns the manifest bytes.
  std::string push(const std::string& local, const std::string& repo) {
    s_->b.push(local, "docker://" + host() + "/" + repo + ":1");
    return client(host() + "/" + repo).get_manifest("1").bytes;
  }
  static std::string hex(const std::string& manifest) { return oci::Digest::of(manifest).encoded(); }
  std::string lookaside_sig(const std::string& repo, const std::string& manifest, int n = 1) {
    return s_->lookaside() + "/" + repo + "@sha256=" + hex(manifest) + "/signature-" + std::to_string(n);
  }

  std::string write_policy(const std::string& name, const std::string& docker_scopes,
                           const std::string& def = R"([{"type": "reject"}])") {
    std::string p = s_->dir.path() + "/" + name + ".json";
    write_file_atomic(p, R"({"default": )" + def + R"(, "transports": {"docker": {)" + docker_scopes + "}}}");
    return p;
  }
  std::string gpg_scope(const std::string& repo, const std::string& key) {
    return json_escape(host() + "/" + repo) + R"(: [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": )" +
           json_escape(key) + "}]";
  }
  std::string cosign_scope(const std::string& repo, const std::string& key) {
    return json_escape(host() + "/" + repo) + R"(: [{"type": "sigstoreSigned", "keyPath": )" + json_escape(key) +
           R"(, "signedIdentity": {"type": "matchRepository"}}])";
  }

  // `hull image copy` of HOST/REPO:1 into a fresh layout under the policy.
  ProcessResult copy(const std::string& repo, const std::string& policy, std::vector<std::string> extra = {}) {
    std::string out = s_->dir.path() + "/out-" + repo.substr(repo.rfind('/') + 1);
    fs::remove_all(out);
    std::vector<std::string> args = {"image", "copy", "--quiet", "--policy", policy, "--registries.d",
                                     s_->dir.path() + "/registries.d"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("docker://" + host() + "/" + repo + ":1");
    args.push_back("oci:" + out + ":x");
    log_pos_ = s_->reg.log().size();
    return hull(args);
  }

  // The refusal is one line naming the image and `rule`, no layer blob of
  // `repo` was requested, and no blob was written.
  void expect_refused(const ProcessResult& r, const std::string& repo, const std::string& manifest,
                      const std::string& rule, const std::string& why) {
    SCOPED_TRACE(repo);
    EXPECT_NE(r.exit_code, 0);
    std::string line = r.err.substr(0, r.err.find_last_not_of('\n') + 1);
    EXPECT_EQ(line.find('\n'), std::string::npos) << r.err;
    EXPECT_NE(line.find(host() + "/" + repo + ":1"), std::string::npos) << line;
    EXPECT_NE(line.find(rule), std::string::npos) << line;
    EXPECT_NE(line.find(why), std::string::npos) << line;
    std::string log = s_->reg.log().substr(log_pos_);  // what this copy asked for
    oci::Manifest m = oci::Manifest::parse(manifest);
    for (auto& l : m.layers) EXPECT_EQ(log.find("/v2/" + repo + "/blobs/" + l.digest.str()), std::string::npos);
    EXPECT_EQ(log.find("/v2/" + repo + "/blobs/" + m.config.digest.str()), std::string::npos);
    std::string out = s_->dir.path() + "/out-" + repo.substr(repo.rfind('/') + 1);
    std::error_code ec;
    int blobs = 0;
    for (auto& e : fs::recursive_directory_iterator(out, ec)) blobs += e.is_regular_file() ? 1 : 0;
    EXPECT_EQ(blobs, 0) << out;
    refused_++;
  }
  static int refused_;
  size_t log_pos_ = 0;
};
Signatures::Shared* Signatures::s_ = nullptr;
int Signatures::refused_ = 0;

TEST_F(Signatures, GpgSignedBySkopeoIsAcceptedAndEveryBadCaseRefused) {
  GpgKey& good = s_->good;
  std::string signed_m = push(s_->v1, "gpg/signed");
  good.sign(signed_m, host() + "/gpg/signed:1", lookaside_sig("gpg/signed", signed_m));
  std::string unsigned_m = push(s_->v1, "gpg/unsigned");
  std::string wrongkey_m = push(s_->v1, "gpg/wrongkey");
  s_->wrong.sign(wrongkey_m, host() + "/gpg/wrongkey:1", lookaside_sig("gpg/wrongkey", wrongkey_m));
  // Signed, then a manifest one byte longer pushed over the same tag.
  std::string tampered_m = push(s_->v2, "gpg/tampered");
  good.sign(tampered_m, host() + "/gpg/tampered:1", lookaside_sig("gpg/tampered", tampered_m));
  std::string tampered2 = tampered_m + " ";
  client(host() + "/gpg/tampered").put_manifest("1", tampered2, oci::Manifest::parse(tampered_m).media_type);
  // A valid signature of another image's digest, in this image's place.
  std::string other_m = push(s_->v2, "gpg/otherdigest");
  make_dirs(fs::path(lookaside_sig("gpg/otherdigest", other_m)).parent_path().string());
  fs::copy_file(lookaside_sig("gpg/signed", signed_m), lookaside_sig("gpg/otherdigest", other_m));
  std::string identity_m = push(s_->v1, "gpg/identity");
  good.sign(identity_m, host() + "/gpg/elsewhere:1", lookaside_sig("gpg/identity", identity_m));
  std::string huge_m = push(s_->v1, "gpg/huge");
  make_dirs(fs::path(lookaside_sig("gpg/huge", huge_m)).parent_path().string());
  write_file_atomic(lookaside_sig("gpg/huge", huge_m), std::string(5u << 20, 'x'));
  std::string garbage_m = push(s_->v1, "gpg/garbage");
  make_dirs(fs::path(lookaside_sig("gpg/garbage", garbage_m)).parent_path().string());
  write_file_atomic(lookaside_sig("gpg/garbage", garbage_m), "\x89PNG not a signature");

  std::string scopes;
  for (const char* r : {"gpg/signed", "gpg/unsigned", "gpg/wrongkey", "gpg/tampered", "gpg/otherdigest",
                        "gpg/identity", "gpg/huge", "gpg/garbage"})
    scopes += (scopes.empty() ? "" : ", ") + gpg_scope(r, good.pub);
  scopes += ", " + json_escape(host() + "/gpg/badkey") + R"(: [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/nonexistent/key.asc"}])";
  std::string policy = write_policy("gpg", scopes);

  auto ok = copy("gpg/signed", policy);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  // The request log is real: the accepted copy did fetch the layers.
  EXPECT_NE(s_->reg.log().substr(log_pos_).find("GET /v2/gpg/signed/blobs/" +
                                                oci::Manifest::parse(signed_m).layers[0].digest.str()),
            std::string::npos);
  EXPECT_TRUE(path_exists(s_->dir.path() + "/out-signed/index.json"));

  expect_refused(copy("gpg/unsigned", policy), "gpg/unsigned", unsigned_m, "signedBy", "no signature exists");
  expect_refused(copy("gpg/wrongkey", policy), "gpg/wrongkey", wrongkey_m, "signedBy", "invalid GPG signature");
  expect_refused(copy("gpg/tampered", policy), "gpg/tampered", tampered_m, "signedBy", "no signature exists");
  expect_refused(copy("gpg/otherdigest", policy), "gpg/otherdigest", other_m, "signedBy",
                 "signature for digest sha256:" + hex(signed_m) + " does not match");
  expect_refused(copy("gpg/identity", policy), "gpg/identity", identity_m, "signedBy",
                 "signature for identity \"" + host() + "/gpg/elsewhere:1\" is not accepted");
  expect_refused(copy("gpg/huge", policy), "gpg/huge", huge_m, "signedBy", "over the limit");
  expect_refused(copy("gpg/garbage", policy), "gpg/garbage", garbage_m, "signedBy", "invalid GPG signature");
  std::string badkey_m = push(s_->v1, "gpg/badkey");
  expect_refused(copy("gpg/badkey", policy), "gpg/badkey", badkey_m, "signedBy", "key file /nonexistent/key.asc");
  // An image with no scope of its own: the default, reject.
  std::string other_repo_m = push(s_->v1, "gpg/noscope");
  expect_refused(copy("gpg/noscope", policy), "gpg/noscope", other_repo_m, "default[0] reject", "rejected");
}

TEST_F(Signatures, CosignSignedIsAcceptedAndEveryBadCaseRefused) {
  std::string signed_m = push(s_->v1, "cosign/signed");
  s_->cosign.sign(host() + "/cosign/signed@sha256:" + hex(signed_m));
  std::string unsigned_m = push(s_->v1, "cosign/unsigned");
  std::string wrongkey_m = push(s_->v1, "cosign/wrongkey");
  s_->cosign_wrong.sign(host() + "/cosign/wrongkey@sha256:" + hex(wrongkey_m));
  std::string tampered_m = push(s_->v2, "cosign/tampered");
  s_->cosign.sign(host() + "/cosign/tampered@sha256:" + hex(tampered_m));
  client(host() + "/cosign/tampered").put_manifest("1", tampered_m + "\n", oci::Manifest::parse(tampered_m).media_type);

  // Hand-made attachments: the real signature's manifest, changed.
  registry::Client sc = client(host() + "/cosign/signed");
  registry::FetchedManifest sig = sc.get_manifest("sha256-" + hex(signed_m) + ".sig");
  nlohmann::json sigj = nlohmann::json::parse(sig.bytes);
  ASSERT_EQ(sigj["layers"][0]["mediaType"], "application/vnd.dev.cosign.simplesigning.v1+json") << sig.bytes;
  auto descriptor = [](const nlohmann::json& j) {
    oci::Descriptor d;
    d.media_type = j["mediaType"];
    d.digest = oci::Digest::parse(j["digest"].get<std::string>());
    d.size = j["size"];
    return d;
  };
  oci::Descriptor payload_d = descriptor(sigj["layers"][0]);
  std::string payload = sc.fetch_blob_bytes(payload_d, 1 << 20);
  auto attach = [&](const std::string& repo, const std::string& manifest, const std::string& layer_bytes,
                    const std::string& annotation) {
    registry::Client c = client(host() + "/" + repo);
    oci::Descriptor cfg = descriptor(sigj["config"]);
    c.push_blob_bytes(cfg, sc.fetch_blob_bytes(cfg, 1 << 20));
    oci::Descriptor d;
    d.digest = oci::Digest::of(layer_bytes);
    d.size = static_cast<int64_t>(layer_bytes.size());
    c.push_blob_bytes(d, layer_bytes);
    nlohmann::json j = sigj;
    j["layers"][0]["digest"] = d.digest.str();
    j["layers"][0]["size"] = d.size;
    j["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] = annotation;
    c.put_manifest("sha256-" + hex(manifest) + ".sig", j.dump(), sig.media_type);
  };
  std::string annotation = sigj["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"];
  std::string huge_m = push(s_->v1, "cosign/huge");
  attach("cosign/huge", huge_m, std::string(5u << 20, '{'), annotation);
  std::string malformed_m = push(s_->v1, "cosign/malformed");
  attach("cosign/malformed", malformed_m, payload, "!!! not base64 !!!");
  std::string forged_m = push(s_->v1, "cosign/forged");
  std::string forged = payload;
  forged.replace(forged.find("cosign/signed"), 13, "cosign/forged");  // the payload names this repository now
  attach("cosign/forged", forged_m, forged, annotation);
  // The real signature of cosign/signed, copied as is into another repository.
  std::string identity_m = push(s_->v1, "cosign/identity");
  attach("cosign/identity", identity_m, payload, annotation);

  std::string scopes;
  for (const char* r : {"cosign/signed", "cosign/unsigned", "cosign/wrongkey", "cosign/tampered", "cosign/huge",
                        "cosign/malformed", "cosign/forged", "cosign/identity"})
    scopes += (scopes.empty() ? "" : ", ") + cosign_scope(r, s_->cosign.pub());
  std::string policy = write_policy("cosign", scopes);

  auto ok = copy("cosign/signed", policy);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(path_exists(s_->dir.path() + "/out-signed/index.json"));

  expect_refused(copy("cosign/unsigned", policy), "cosign/unsigned", unsigned_m, "sigstoreSigned", "no signature exists");
  expect_refused(copy("cosign/wrongkey", policy), "cosign/wrongkey", wrongkey_m, "sigstoreSigned",
                 "cryptographic signature verification failed");
  expect_refused(copy("cosign/tampered", policy), "cosign/tampered", tampered_m, "sigstoreSigned", "no signature exists");
  expect_refused(copy("cosign/huge", policy), "cosign/huge", huge_m, "sigstoreSigned", "over the limit");
  expect_refused(copy("cosign/malformed", policy), "cosign/malformed", malformed_m, "sigstoreSigned", "base64");
  expect_refused(copy("cosign/forged", policy), "cosign/forged", forged_m, "sigstoreSigned",
                 "cryptographic signature verification failed");
  expect_refused(copy("cosign/identity", policy), "cosign/identity", identity_m, "sigstoreSigned",
                 "signature for identity \"" + host() + "/cosign/signed\" is not accepted");
}

TEST_F(Signatures, PolicyFilesAndEnforcementRefusedBeforeAnyFetch) {
  std::string m = push(s_->v1, "pol/x");
  std::string bad_type = write_policy("bad-type", json_escape(host() + "/pol") + R"(: [{"type": "signedByAnyone"}])");
  expect_refused(copy("pol/x", bad_type), "pol/x", m, "policy", "unknown policy requirement type \"signedByAnyone\"");
  std::string bad_key = write_policy("bad-key", json_escape(host() + "/pol") +
                                                    R"(: [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "keyPth": "/k"}])");
  expect_refused(copy("pol/x", bad_key), "pol/x", m, "policy", "unknown key \"keyPth\"");
  std::string fulcio = write_policy("fulcio", json_escape(host() + "/pol") +
                                                  R"(: [{"type": "sigstoreSigned", "keyPath": "/k", "fulcio": {}}])");
  expect_refused(copy("pol/x", fulcio), "pol/x", m, "fulcio", "not supported by hull");
  std::string insecure = write_policy("insecure", json_escape(host() + "/pol") + R"(: [{"type": "insecureAcceptAnything"}])");
  auto plain = copy("pol/x", insecure);
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  expect_refused(copy("pol/x", insecure, {"--enforce-container-sigpolicy"}), "pol/x", m,
                 "transports.docker.\"" + host() + "/pol\"", "insecureAcceptAnything");
  auto missing = copy("pol/x", s_->dir.path() + "/no-such-policy.json");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no-such-policy.json"), std::string::npos) << missing.err;
  std::cout << "[ figures ] hostile cases refused: " << refused_ << "\n";
}

TEST_F(Signatures, VerificationTimePerImage) {
  std::string gm = push(s_->v1, "time/gpg");
  s_->good.sign(gm, host() + "/time/gpg:1", lookaside_sig("time/gpg", gm));
  std::string cm = push(s_->v1, "cosign/time");
  s_->cosign.sign(host() + "/cosign/time@sha256:" + hex(cm));
  std::string policy = write_policy("time", gpg_scope("time/gpg", s_->good.pub) + ", " +
                                                cosign_scope("cosign/time", s_->cosign.pub()));
  signature::TrustOptions to;
  to.policy_path = policy;
  to.registries_d = s_->dir.path() + "/registries.d";
  registry::Options ro;
  signature::Trust t = signature::Trust::load(to, ro);
  for (auto [repo, m] : {std::pair{std::string("time/gpg"), gm}, std::pair{std::string("cosign/time"), cm}}) {
    image::ImageName n = image::ImageName::parse("docker://" + host() + "/" + repo + ":1");
    image::Doc d = client(host() + "/" + repo).get_manifest("1");
    const int kRuns = 5;
    double total = 0;
    std::string by;
    for (int i = 0; i < kRuns; i++) {
      auto start = std::chrono::steady_clock::now();
      signature::Verdict v = signature::verify_image(t, n, d);
      total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      by = v.accepted_by;
    }
    EXPECT_EQ(by, repo == "time/gpg" ? "signedBy" : "sigstoreSigned");
    std::cout << "[ figures ] " << by << " verification of " << repo << ": " << total / kRuns * 1000 << " ms per image\n";
  }
}

// The lookaside served over http:// (a static file server, as a web server
// in front of a sigstore directory would be): signature-1 found, the 404 of
// signature-2 ends the list.
TEST_F(Signatures, LookasideOverHttp) {
  std::string m = push(s_->v1, "http/signed");
  s_->good.sign(m, host() + "/http/signed:1", lookaside_sig("http/signed", m));
  httplib::Server srv;
  ASSERT_TRUE(srv.set_mount_point("/sigs", s_->lookaside()));
  int requests = 0;
  srv.set_logger([&](const httplib::Request&, const httplib::Response&) { requests++; });
  int port = free_port();
  std::thread t([&] { srv.listen("127.0.0.1", port); });
  for (int i = 0; i < 500 && !srv.is_running(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string rd = s_->dir.path() + "/registries.d-http";
  make_dirs(rd);
  write_file_atomic(rd + "/http.yaml", "docker:\n  " + host() + "/http:\n    lookaside: http://127.0.0.1:" +
                                           std::to_string(port) + "/sigs\n");
  std::string policy = write_policy("http", gpg_scope("http/signed", s_->good.pub) + ", " +
                                                gpg_scope("http/unsigned", s_->good.pub));
  std::string out = s_->dir.path() + "/out-http";
  auto r = hull({"image", "copy", "--quiet", "--policy", policy, "--registries.d", rd,
                 "docker://" + host() + "/http/signed:1", "oci:" + out + ":x"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(requests, 2);  // signature-1, then signature-2: 404
  std::string um = push(s_->v2, "http/unsigned");
  auto u = hull({"image", "copy", "--quiet", "--policy", policy, "--registries.d", rd,
                 "docker://" + host() + "/http/unsigned:1", "oci:" + out + "-u:x"});
  EXPECT_NE(u.exit_code, 0);
  EXPECT_NE(u.err.find("no signature exists"), std::string::npos) << u.err;
  srv.stop();
  t.join();
}

// image copy registry to registry takes the signatures along: the GPG one
// into the destination's lookaside, the cosign attachment into its
// repository; the copies verify there (under identities that name the
// original, as the signatures do).
TEST_F(Signatures, CopyTakesSignaturesAlong) {
  std::string gm = push(s_->v1, "orig/gpg");
  s_->good.sign(gm, host() + "/orig/gpg:1", lookaside_sig("orig/gpg", gm));
  std::string cm = push(s_->v2, "cosign/orig");
  s_->cosign.sign(host() + "/cosign/orig@sha256:" + hex(cm));
  std::string policy = write_policy(
      "copy", json_escape(host() + "/copied") + R"(: [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": )" +
                  json_escape(s_->good.pub) + R"(, "signedIdentity": {"type": "exactReference", "dockerReference": )" +
                  json_escape(host() + "/orig/gpg:1") + "}}], " + json_escape(host() + "/cosign/copied") +
                  R"(: [{"type": "sigstoreSigned", "keyPath": )" + json_escape(s_->cosign.pub()) +
                  R"(, "signedIdentity": {"type": "exactRepository", "dockerRepository": )" +
                  json_escape(host() + "/cosign/orig") + "}}]",
      R"([{"type": "insecureAcceptAnything"}])");
  std::string rd = s_->dir.path() + "/registries.d";
  for (auto [from, to] : {std::pair{std::string("orig/gpg"), std::string("copied/gpg")},
                          std::pair{std::string("cosign/orig"), std::string("cosign/copied")}}) {
    auto c = hull({"image", "copy", "--policy", policy, "--registries.d", rd, "docker://" + host() + "/" + from + ":1",
                   "docker://" + host() + "/" + to + ":1"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    EXPECT_NE(c.err.find("; 1 signatures"), std::string::npos) << c.err;
    auto v = copy(to, policy, {"--enforce-container-sigpolicy"});
    EXPECT_EQ(v.exit_code, 0) << to << ": " << v.err;
  }
  EXPECT_TRUE(path_exists(lookaside_sig("copied/gpg", gm)));
  EXPECT_TRUE(client(host() + "/cosign/copied").find_manifest("sha256-" + hex(cm) + ".sig").has_value());
}

// The host: installed enforcing, upgrades to a signed v2, refuses an
// unsigned v3 pushed over the same tag and stays on v2.
TEST_F(Signatures, EnforcingHostUpgradesToSignedAndRefusesUnsigned) {
  struct Sysroot {
    TempDir dir{"hull-sysroot"};
    std::string path() const { return dir.path() + "/root"; }
    ~Sysroot() { run({"sh", "-c", "chattr -R -i " + dir.path() + " 2>/dev/null"}); }
  } s;
  make_dirs(s.path());
  const std::string repo = "host/os";
  std::string m1 = push(s_->v1, repo);
  s_->good.sign(m1, host() + "/" + repo + ":1", lookaside_sig(repo, m1));
  std::string policy = write_policy("host", gpg_scope(repo, s_->good.pub), R"([{"type": "insecureAcceptAnything"}])");
  std::vector<std::string> pf = {"--policy", policy, "--registries.d", s_->dir.path() + "/registries.d"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), pf.begin(), pf.end());
    return hull(a);
  };
  auto status = [&] {
    return nlohmann::json::parse(hull({"status", "--format", "json", "--sysroot", s.path()}).out);
  };
  std::string ref = host() + "/" + repo + ":1";

  // Unsigned image from a scope that accepts anything: refused when enforcing.
  std::string insecure_m = push(s_->v1, "host/other");
  auto r0 = with({"install", "to-filesystem", "--quiet", "--enforce-container-sigpolicy", "--sysroot", s.path(),
                  "--source-imgref", "docker://" + host() + "/host/other:1", s.path()});
  EXPECT_NE(r0.exit_code, 0);
  EXPECT_NE(r0.err.find("insecureAcceptAnything"), std::string::npos) << r0.err;
  EXPECT_FALSE(path_exists(s.path() + "/ostree")) << "nothing written";

  auto r1 = with({"install", "to-filesystem", "--quiet", "--enforce-container-sigpolicy", "--sysroot", s.path(),
                  "--source-imgref", "docker://" + ref, s.path()});
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  auto st = status();
  EXPECT_EQ(st["spec"]["image"]["signature"], "containerPolicy");
  EXPECT_EQ(st["status"]["booted"]["image"]["imageDigest"], "sha256:" + hex(m1));

  // v2, signed: the upgrade (no flag: the origin remembers) takes it.
  std::string m2 = push(s_->v2, repo);
  s_->good.sign(m2, ref, lookaside_sig(repo, m2));
  auto r2 = with({"upgrade", "--quiet", "--sysroot", s.path()});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  st = status();
  EXPECT_EQ(st["status"]["booted"]["image"]["imageDigest"], "sha256:" + hex(m2));
  EXPECT_EQ(st["status"]["booted"]["image"]["image"]["signature"], "containerPolicy");

  // v3, unsigned, over the same tag: refused before any layer, still on v2.
  TestImageSpec s3;
  s3.version = "3";
  s3.files = {{"/usr/share/v", "3\n"}};
  std::string m3 = push(s_->b.build("v3", s3), repo);
  size_t log_pos = s_->reg.log().size();
  auto r3 = with({"upgrade", "--quiet", "--sysroot", s.path()});
  EXPECT_NE(r3.exit_code, 0);
  EXPECT_NE(r3.err.find("signedBy"), std::string::npos) << r3.err;
  EXPECT_NE(r3.err.find("no signature exists"), std::string::npos) << r3.err;
  oci::Manifest man3 = oci::Manifest::parse(m3);
  std::string log = s_->reg.log().substr(log_pos);
  EXPECT_NE(log.find("/v2/" + repo + "/manifests/1"), std::string::npos) << log.substr(0, 3000);
  EXPECT_EQ(log.find("/v2/" + repo + "/blobs/"), std::string::npos) << log;  // no config, no layer
  st = status();
  EXPECT_EQ(st["status"]["booted"]["image"]["imageDigest"], "sha256:" + hex(m2));
  // --check says the same.
  auto r4 = with({"upgrade", "--check", "--sysroot", s.path()});
  EXPECT_NE(r4.exit_code, 0);
  EXPECT_NE(r4.err.find("no signature exists"), std::string::npos) << r4.err;
}

}  // namespace
}  // namespace hull::test
