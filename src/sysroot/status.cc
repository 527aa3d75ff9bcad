#include "sysroot/status.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <regex>

#include "sysroot/yaml.h"
#include "util/error.h"

namespace hull::sysroot {
namespace {

using Tree = nlohmann::ordered_json;

constexpr const char* kApiVersion = "org.containers.bootc/v1";
constexpr const char* kKind = "BootcHost";
constexpr const char* kOfflineAnnotation = "hull/offline";

// ---- the document as a tree, in bootc's field order ----

Tree to_tree(const ImageReference& r);
Tree to_tree(const ImageStatus& s);
Tree to_tree(const BootEntry& e);
Tree to_tree(const UsrOverlay& u);

template <typename T>
Tree optional_tree(const std::optional<T>& v) {
  return v ? to_tree(*v) : Tree(nullptr);
}

Tree null_or(const std::string& s) { return s.empty() ? Tree(nullptr) : Tree(s); }

Tree to_tree(const ImageReference& r) {
  Tree t{{"image", r.image}, {"transport", r.transport}};
  if (!r.signature.empty()) t["signature"] = r.signature;
  return t;
}

Tree to_tree(const ImageStatus& s) {
  return Tree{{"image", to_tree(s.image)},
              {"version", null_or(s.version)},
              {"timestamp", null_or(s.timestamp)},
              {"imageDigest", s.image_digest},
              {"architecture", s.architecture}};
}

Tree to_tree(const OstreeStatus& o) {
  return Tree{{"stateroot", o.stateroot}, {"checksum", o.checksum}, {"deploySerial", o.deploy_serial}};
}

Tree to_tree(const BootEntry& e) {
  return Tree{{"image", optional_tree(e.image)},
              {"cachedUpdate", optional_tree(e.cached_update)},
              {"incompatible", e.incompatible},
              {"pinned", e.pinned},
              {"softRebootCapable", e.soft_reboot_capable},
              {"downloadOnly", e.download_only},
              {"store", "ostreeContainer"},
              {"ostree", to_tree(e.ostree)},
              {"composefs", nullptr}};
}

Tree to_tree(const UsrOverlay& u) {
  if (u.access_mode != "readOnly" && u.access_mode != "readWrite")
    fail("invalid usrOverlay.accessMode \"{}\" (expected readOnly or readWrite)", u.access_mode);
  if (u.persistence != "transient" && u.persistence != "persistent")
    fail("invalid usrOverlay.persistence \"{}\" (expected transient or persistent)", u.persistence);
  return Tree{{"accessMode", u.access_mode}, {"persistence", u.persistence}};
}

Tree to_tree(const TrialStatus& t) {
  return Tree{{"checksum", t.ostree.checksum},
              {"deploySerial", t.ostree.deploy_serial},
              {"tries", t.tries},
              {"left", t.left},
              {"armedAt", t.armed_at}};
}

Tree to_tree(const FailedUpdate& f) {
  Tree reasons = Tree::array();
  for (const std::string& r : f.reasons) reasons.push_back(r);
  return Tree{{"image", optional_tree(f.image)},
              {"checksum", f.ostree.checksum},
              {"deploySerial", f.ostree.deploy_serial},
              {"failedAt", f.failed_at},
              {"boots", f.boots},
              {"reasons", std::move(reasons)}};
}

bool is_bootc_host(const HostStatus& st) { return st.booted && st.booted->image; }

Tree status_tree(const HostStatus& st) {
  Tree t{{"staged", optional_tree(st.staged)},
         {"booted", optional_tree(st.booted)},
         {"rollback", optional_tree(st.rollback)}};
  if (!st.other_deployments.empty()) {
    Tree others = Tree::array();
    for (const BootEntry& e : st.other_deployments) others.push_back(to_tree(e));
    t["otherDeployments"] = std::move(others);
  }
  t["rollbackQueued"] = st.rollback_queued;
  t["type"] = is_bootc_host(st) ? Tree("bootcHost") : Tree(nullptr);
  t["usrOverlay"] = optional_tree(st.usr_overlay);
  t["readOnly"] = st.read_only;
  if (st.trial) t["trial"] = to_tree(*st.trial);
  if (st.failed_update) t["failedUpdate"] = to_tree(*st.failed_update);
  return t;
}

Tree document_tree(const HostStatus& st) {
  if (st.boot_order != "default" && st.boot_order != "rollback")
    fail("invalid bootOrder \"{}\" (expected default or rollback)", st.boot_order);
  Tree metadata = Tree::object();
  if (st.offline) metadata["annotations"] = Tree{{kOfflineAnnotation, "true"}};
  metadata["name"] = "host";
  return Tree{{"apiVersion", kApiVersion},
              {"kind", kKind},
              {"metadata", std::move(metadata)},
              {"spec", Tree{{"image", optional_tree(st.spec_image)}, {"bootOrder", st.boot_order}}},
              {"status", status_tree(st)}};
}

// ---- human readable, as bootc's status.rs ----

enum class Slot { kStaged, kBooted, kRollback, kOther };

size_t utf8_chars(std::string_view s) {
  return std::count_if(s.begin(), s.end(), [](unsigned char c) { return (c & 0xC0) != 0x80; });
}

// "      Name: " right-aligned to `width` characters.
void row(std::string& out, std::string_view name, size_t width, std::string_view value) {
  size_t n = utf8_chars(name);
  out += std::string(width > n ? width - n : 0, ' ');
  out += name;
  out += ": ";
  out += value;
  out += "\n";
}

// bootc shows build timestamps without fractional seconds.
std::string human_timestamp(const std::string& ts) {
  static const std::regex kRfc3339(R"((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]00:00))");
  std::smatch m;
  if (std::regex_match(ts, m, kRfc3339)) return m[1].str() + "Z";
  return ts;
}

std::string display_ref(const ImageReference& r) {
  return r.transport == "registry" ? r.image : r.transport + ":" + r.image;
}

void render_cached_update(std::string& out, const ImageStatus& cached, const ImageStatus& current, size_t width) {
  if (cached.image_digest == current.image_digest) return;
  if (!cached.version.empty()) {
    std::string ts = cached.timestamp.empty() ? "" : " (" + human_timestamp(cached.timestamp) + ")";
    row(out, "UpdateVersion", width, cached.version + ts);
  } else {
    row(out, "Update", width, "Available");
  }
  row(out, "UpdateDigest", width, cached.image_digest);
}

void render_usr_overlay(std::string& out, Slot slot, const HostStatus& st, size_t width) {
  if (slot != Slot::kBooted || !st.usr_overlay) return;
  std::string persistence = st.usr_overlay->persistence;
  std::string access = st.usr_overlay->access_mode == "readWrite" ? "read/write" : "read-only";
  row(out, "/usr overlay", width, persistence + ", " + access);
}

void render_verbose_ostree(std::string& out, const BootEntry& e, Slot slot, size_t width) {
  row(out, "StateRoot", width, e.ostree.stateroot);
  row(out, "Deploy serial", width, std::to_string(e.ostree.deploy_serial));
  row(out, "Staged", width, slot == Slot::kStaged ? "yes" : "no");
}

void render_verbose_tail(std::string& out, const BootEntry& e, Slot slot, size_t width) {
  row(out, "Soft-reboot", width, e.soft_reboot_capable ? "yes" : "no");
  if (slot == Slot::kStaged) row(out, "Download-only", width, e.download_only ? "yes" : "no");
}

void render_image_slot(std::string& out, Slot slot, const BootEntry& e, const HostStatus& st, bool verbose) {
  const ImageStatus& img = *e.image;
  std::string prefix = slot == Slot::kStaged   ? "  Staged image"
                       : slot == Slot::kBooted ? "● Booted image"
                       : slot == Slot::kRollback ? "  Rollback image"
                                                 : "   Other image";
  size_t width = utf8_chars(prefix);
  out += prefix + ": " + display_ref(img.image) + "\n";
  row(out, "Digest", width, img.image_digest + " (" + img.architecture + ")");
  std::string ts = img.timestamp.empty() ? "" : human_timestamp(img.timestamp);
  if (!img.version.empty())
    row(out, "Version", width, ts.empty() ? img.version : img.version + " (" + ts + ")");
  else if (!ts.empty())
    row(out, "Timestamp", width, ts);
  if (e.pinned) row(out, "Pinned", width, "yes");
  if (e.cached_update) render_cached_update(out, *e.cached_update, img, width);
  if (st.trial && st.trial->ostree == e.ostree)
    row(out, "Trial", width, fmt::format("{} of {} boots left (since {})", st.trial->left, st.trial->tries,
                                         human_timestamp(st.trial->armed_at)));
  render_usr_overlay(out, slot, st, width);
  if (!verbose) return;
  render_verbose_ostree(out, e, slot, width);
  row(out, "Commit", width, e.ostree.checksum);
  render_verbose_tail(out, e, slot, width);
}

// An entry not deployed from a container image. bootc aligns these rows
// to the prefix's length in bytes ("●" counts three); kept for
// byte-identical output.
void render_ostree_slot(std::string& out, Slot slot, const BootEntry& e, const HostStatus& st, bool verbose) {
  std::string prefix = slot == Slot::kStaged   ? "  Staged ostree"
                       : slot == Slot::kBooted ? "● Booted ostree"
                       : slot == Slot::kRollback ? "  Rollback ostree"
                                                 : " Other ostree";
  size_t width = prefix.size();
  out += prefix + "\n";
  row(out, "Commit", width, e.ostree.checksum);
  if (e.pinned) row(out, "Pinned", width, "yes");
  render_usr_overlay(out, slot, st, width);
  if (!verbose) return;
  render_verbose_ostree(out, e, slot, width);
  render_verbose_tail(out, e, slot, width);
}

void render_slot(std::string& out, Slot slot, const BootEntry& e, const HostStatus& st, bool verbose) {
  if (e.image)
    render_image_slot(out, slot, e, st, verbose);
  else
    render_ostree_slot(out, slot, e, st, verbose);
}

// ---- parsing ----

// A JSON value with its path, for error messages.
struct Node {
  const nlohmann::json& v;
  std::string path;

  [[noreturn]] void wrong(std::string_view expected) const {
    fail("{}: expected {}", path.empty() ? "the document" : path, expected);
  }
  bool present(std::string_view key) const { return v.contains(key) && !v.at(std::string(key)).is_null(); }
  Node at(std::string_view key) const {
    std::string sub = path.empty() ? std::string(key) : path + "." + std::string(key);
    if (!v.contains(key)) fail("{}: missing", sub);
    return Node{v.at(std::string(key)), sub};
  }
  std::string str() const {
    if (!v.is_string()) wrong("a string");
    return v.get<std::string>();
  }
  bool boolean() const {
    if (!v.is_boolean()) wrong("true or false");
    return v.get<bool>();
  }
  int integer() const {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX) wrong("an integer");
    return static_cast<int>(v.get<int64_t>());
  }
  void object() const {
    if (!v.is_object()) wrong("an object");
  }
  // Optional fields: absent or null give the default.
  std::string str_or_empty(std::string_view key) const { return present(key) ? at(key).str() : ""; }
  bool bool_or_false(std::string_view key) const { return present(key) ? at(key).boolean() : false; }
};

ImageReference parse_ref(const Node& n) {
  n.object();
  ImageReference r{n.at("image").str(), n.at("transport").str(), ""};
  if (n.present("signature")) {
    const nlohmann::json& sig = n.v.at("signature");
    if (sig.is_string() && sig.get<std::string>() == "containerPolicy")
      r.signature = "containerPolicy";
    else if (!(sig.is_string() && sig.get<std::string>() == "insecure"))
      fail("{}.signature: {}: hull verifies signatures by the container policy only (\"containerPolicy\")", n.path,
           sig.dump());
  }
  return r;
}

ImageStatus parse_image_status(const Node& n) {
  n.object();
  ImageStatus s;
  s.image = parse_ref(n.at("image"));
  s.version = n.str_or_empty("version");
  s.timestamp = n.str_or_empty("timestamp");
  s.image_digest = n.at("imageDigest").str();
  s.architecture = n.at("architecture").str();
  return s;
}

template <typename T, typename F>
std::optional<T> optional_field(const Node& n, std::string_view key, F parse) {
  if (!n.present(key)) return std::nullopt;
  return parse(n.at(key));
}

OstreeStatus parse_ostree(const Node& n) {
  n.object();
  return OstreeStatus{n.at("checksum").str(), n.at("deploySerial").integer(), n.at("stateroot").str()};
}

BootEntry parse_entry(const Node& n) {
  n.object();
  BootEntry e;
  e.image = optional_field<ImageStatus>(n, "image", parse_image_status);
  e.cached_update = optional_field<ImageStatus>(n, "cachedUpdate", parse_image_status);
  e.incompatible = n.at("incompatible").boolean();
  e.pinned = n.at("pinned").boolean();
  e.soft_reboot_capable = n.bool_or_false("softRebootCapable");
  e.download_only = n.bool_or_false("downloadOnly");
  if (n.present("store") && n.at("store").str() != "ostreeContainer")
    fail("{}.store: unsupported store \"{}\"", n.path, n.at("store").str());
  if (n.present("composefs")) fail("{}.composefs: composefs deployments are not supported by hull", n.path);
  if (!n.present("ostree")) fail("{}.ostree: missing (hull only knows ostree deployments)", n.path);
  e.ostree = parse_ostree(n.at("ostree"));
  return e;
}

TrialStatus parse_trial(const Node& n) {
  n.object();
  TrialStatus t;
  t.ostree.checksum = n.at("checksum").str();
  t.ostree.deploy_serial = n.at("deploySerial").integer();
  t.tries = n.at("tries").integer();
  t.left = n.at("left").integer();
  t.armed_at = n.str_or_empty("armedAt");
  return t;
}

FailedUpdate parse_failed(const Node& n) {
  n.object();
  FailedUpdate f;
  f.image = optional_field<ImageStatus>(n, "image", parse_image_status);
  f.ostree.checksum = n.at("checksum").str();
  f.ostree.deploy_serial = n.at("deploySerial").integer();
  f.failed_at = n.str_or_empty("failedAt");
  f.boots = n.at("boots").integer();
  if (n.present("reasons")) {
    Node rs = n.at("reasons");
    if (!rs.v.is_array()) rs.wrong("an array");
    for (size_t i = 0; i < rs.v.size(); ++i) f.reasons.push_back(Node{rs.v[i], fmt::format("{}[{}]", rs.path, i)}.str());
  }
  return f;
}

UsrOverlay parse_usr_overlay(const Node& n) {
  n.object();
  return UsrOverlay{n.at("accessMode").str(), n.at("persistence").str()};
}

void parse_header(const Node& doc, HostStatus& st) {
  doc.object();
  std::string api = doc.at("apiVersion").str();
  if (api != kApiVersion && api != "org.containers.bootc/v1alpha1")
    fail("apiVersion: unsupported \"{}\" (expected {})", api, kApiVersion);
  if (doc.at("kind").str() != kKind) fail("kind: expected {}, got \"{}\"", kKind, doc.at("kind").str());
  if (!doc.present("metadata")) return;
  Node meta = doc.at("metadata");
  meta.object();
  if (meta.present("annotations")) {
    Node ann = meta.at("annotations");
    ann.object();
    st.offline = ann.str_or_empty(kOfflineAnnotation) == "true";
  }
}

void parse_spec(const Node& doc, HostStatus& st) {
  if (!doc.present("spec")) return;
  Node spec = doc.at("spec");
  spec.object();
  st.spec_image = optional_field<ImageReference>(spec, "image", parse_ref);
  if (spec.present("bootOrder")) st.boot_order = spec.at("bootOrder").str();
  if (st.boot_order != "default" && st.boot_order != "rollback")
    fail("spec.bootOrder: expected default or rollback, got \"{}\"", st.boot_order);
}

void parse_status(const Node& doc, HostStatus& st) {
  if (!doc.present("status")) return;
  Node s = doc.at("status");
  s.object();
  st.staged = optional_field<BootEntry>(s, "staged", parse_entry);
  st.booted = optional_field<BootEntry>(s, "booted", parse_entry);
  st.rollback = optional_field<BootEntry>(s, "rollback", parse_entry);
  if (s.present("otherDeployments")) {
    Node others = s.at("otherDeployments");
    if (!others.v.is_array()) others.wrong("an array");
    for (size_t i = 0; i < others.v.size(); ++i)
      st.other_deployments.push_back(parse_entry(Node{others.v[i], fmt::format("{}[{}]", others.path, i)}));
  }
  st.rollback_queued = s.bool_or_false("rollbackQueued");
  st.usr_overlay = optional_field<UsrOverlay>(s, "usrOverlay", parse_usr_overlay);
  st.read_only = s.bool_or_false("readOnly");
  st.trial = optional_field<TrialStatus>(s, "trial", parse_trial);
  st.failed_update = optional_field<FailedUpdate>(s, "failedUpdate", parse_failed);
  if (s.present("type") && s.at("type").str() != "bootcHost")
    fail("status.type: unknown host type \"{}\"", s.at("type").str());
}

}  // namespace

ImageReference bootc_image_reference(const image::ImageName& name, bool enforce_signatures) {
  std::string transport(image::bootc_transport_name(name.transport));
  std::string sig = enforce_signatures ? "containerPolicy" : "";
  if (name.transport == image::Transport::kDocker) return {name.ref.str(), transport, sig};
  return {name.path + (name.name.empty() ? "" : ":" + name.name), transport, sig};
}

std::string rfc3339(time_t t) {
  char buf[32];
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void derive_spec(HostStatus& st) {
  const std::optional<BootEntry>& from = st.staged ? st.staged : st.booted;
  st.spec_image = from && from->image ? std::optional(from->image->image) : std::nullopt;
  st.boot_order = st.rollback_queued ? "rollback" : "default";
}

std::string render_json(const HostStatus& st, JsonStyle style) {
  Tree doc = document_tree(st);
  auto replace = nlohmann::json::error_handler_t::replace;
  if (style == JsonStyle::kPretty) return doc.dump(2, ' ', false, replace) + "\n";
  // nlohmann::json keeps its keys sorted.
  return nlohmann::json::parse(doc.dump(-1, ' ', false, replace)).dump(-1, ' ', false, replace);
}

std::string render_yaml(const HostStatus& st) {
  return to_yaml(document_tree(st));
}

std::string render_human(const HostStatus& st, bool verbose) {
  if (!st.booted) return "System is not deployed via bootc.\n";
  std::string out;
  if (st.offline) out += "Offline sysroot: nothing is booted; the deployment that would boot is shown as booted.\n\n";
  bool first = true;
  auto separate = [&] {
    if (!first) out += "\n";
    first = false;
  };
  const std::pair<Slot, const std::optional<BootEntry>*> slots[] = {
      {Slot::kStaged, &st.staged}, {Slot::kBooted, &st.booted}, {Slot::kRollback, &st.rollback}};
  for (const auto& [slot, entry] : slots) {
    if (!*entry) continue;
    separate();
    render_slot(out, slot, **entry, st, verbose);
  }
  for (const BootEntry& e : st.other_deployments) {
    separate();
    render_slot(out, Slot::kOther, e, st, verbose);
  }
  if (st.failed_update) {
    const FailedUpdate& f = *st.failed_update;
    std::string what = f.image ? display_ref(f.image->image) +
                                     (f.image->version.empty() ? "" : " (" + f.image->version + ")")
                               : f.ostree.checksum.substr(0, 12);
    out += fmt::format("\nFailed update: {} did not pass its trial ({} boots, fell back at {}); not retried\n", what,
                       f.boots, human_timestamp(f.failed_at));
    for (const std::string& r : f.reasons) out += "  " + r + "\n";
  }
  return out;
}

std::string render_failed_update(const FailedUpdate& f) { return to_tree(f).dump(2) + "\n"; }

FailedUpdate parse_failed_update(std::string_view text) {
  return with_context("parsing the failed-update record", [&] {
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) fail("not valid JSON");
    return parse_failed(Node{doc, ""});
  });
}

HostStatus parse_json(std::string_view text) {
  return with_context("parsing BootcHost status JSON", [&] {
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) fail("not valid JSON");
    Node root{doc, ""};
    HostStatus st;
    parse_header(root, st);
    parse_spec(root, st);
    parse_status(root, st);
    return st;
  });
}

}  // namespace hull::sysroot
