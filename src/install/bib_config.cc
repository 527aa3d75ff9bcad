#include "install/bib_config.h"

#include <crypt.h>
#include <sys/stat.h>

#include <cmath>
#include <sstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <toml++/toml.h>

#include "util/error.h"

namespace hull::install {
namespace {

using nlohmann::json;

// TOML to the JSON data model, so that both formats are walked by one
// checker. Dates and times become strings (no key of ours takes one).
json to_json(const toml::node& n) {
  if (auto* t = n.as_table()) {
    json j = json::object();
    for (auto&& [k, v] : *t) j[std::string(k.str())] = to_json(v);
    return j;
  }
  if (auto* a = n.as_array()) {
    json j = json::array();
    for (auto&& v : *a) j.push_back(to_json(v));
    return j;
  }
  if (auto* v = n.as_string()) return v->get();
  if (auto* v = n.as_integer()) return v->get();
  if (auto* v = n.as_floating_point()) return v->get();
  if (auto* v = n.as_boolean()) return v->get();
  std::ostringstream os;
  n.visit([&](auto&& x) { os << x; });
  return os.str();
}

// Walks one object, refusing keys not in `known`.
class Walker {
 public:
  Walker(const std::string& file) : file_(file) {}

  [[noreturn]] void bad(const std::string& key, const std::string& what) const {
    fail("{}: {}: {}", file_, key, what);
  }

  const json& object(const json& j, const std::string& key) const {
    if (!j.is_object()) bad(key, "expected a table");
    return j;
  }
  void only(const json& j, const std::string& key, std::initializer_list<std::string_view> known,
            std::string_view hint = {}) const {
    for (auto& [k, v] : j.items()) {
      bool ok = false;
      for (auto kn : known) ok = ok || kn == k;
      if (!ok)
        fail("{}: unknown key \"{}\"{}", file_, key.empty() ? k : key + "." + k,
             hint.empty() ? std::string() : fmt::format(" ({})", hint));
    }
  }
  std::string str(const json& j, const std::string& key) const {
    if (!j.is_string()) bad(key, "expected a string");
    return j.get<std::string>();
  }
  int64_t integer(const json& j, const std::string& key) const {
    if (!j.is_number_integer()) bad(key, "expected an integer");
    int64_t v = j.get<int64_t>();
    if (v < 0) bad(key, "must not be negative");
    return v;
  }
  uint64_t size(const json& j, const std::string& key) const {
    if (j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0)) return j.get<uint64_t>();
    if (j.is_string()) {
      try {
        return parse_bib_size(j.get<std::string>());
      } catch (const Error& e) {
        bad(key, e.message());
      }
    }
    bad(key, "expected a size (bytes, or a string such as \"10 GiB\")");
  }
  std::vector<std::string> strings(const json& j, const std::string& key) const {
    if (!j.is_array()) bad(key, "expected an array of strings");
    std::vector<std::string> out;
    for (size_t i = 0; i < j.size(); i++) out.push_back(str(j[i], fmt::format("{}[{}]", key, i)));
    return out;
  }
  const json& array(const json& j, const std::string& key) const {
    if (!j.is_array()) bad(key, "expected an array of tables ([[" + key + "]])");
    return j;
  }

 private:
  const std::string& file_;
};

constexpr std::string_view kSupported =
    "hull build-disk applies customizations.user, group, kernel, filesystem and disk";

void parse_customizations(const json& c, const Walker& w, BibConfig& out) {
  w.object(c, "customizations");
  w.only(c, "customizations", {"user", "group", "kernel", "filesystem", "disk"}, kSupported);
  if (c.contains("user")) {
    const json& users = w.array(c["user"], "customizations.user");
    for (size_t i = 0; i < users.size(); i++) {
      std::string k = fmt::format("customizations.user[{}]", i);
      const json& u = w.object(users[i], k);
      w.only(u, k, {"name", "password", "key", "groups", "description", "home", "shell", "uid", "gid"});
      BibUser bu;
      if (!u.contains("name")) w.bad(k, "\"name\" is required");
      bu.name = w.str(u["name"], k + ".name");
      if (bu.name.empty()) w.bad(k + ".name", "must not be empty");
      if (u.contains("password")) bu.password = w.str(u["password"], k + ".password");
      if (u.contains("key")) bu.key = w.str(u["key"], k + ".key");
      if (u.contains("groups")) bu.groups = w.strings(u["groups"], k + ".groups");
      if (u.contains("description")) bu.description = w.str(u["description"], k + ".description");
      if (u.contains("home")) bu.home = w.str(u["home"], k + ".home");
      if (u.contains("shell")) bu.shell = w.str(u["shell"], k + ".shell");
      if (u.contains("uid")) bu.uid = w.integer(u["uid"], k + ".uid");
      if (u.contains("gid")) bu.gid = w.integer(u["gid"], k + ".gid");
      out.users.push_back(std::move(bu));
    }
  }
  if (c.contains("group")) {
    const json& groups = w.array(c["group"], "customizations.group");
    for (size_t i = 0; i < groups.size(); i++) {
      std::string k = fmt::format("customizations.group[{}]", i);
      const json& g = w.object(groups[i], k);
      w.only(g, k, {"name", "gid"});
      BibGroup bg;
      if (!g.contains("name")) w.bad(k, "\"name\" is required");
      bg.name = w.str(g["name"], k + ".name");
      if (bg.name.empty()) w.bad(k + ".name", "must not be empty");
      if (g.contains("gid")) bg.gid = w.integer(g["gid"], k + ".gid");
      out.groups.push_back(std::move(bg));
    }
  }
  if (c.contains("kernel")) {
    const json& k = w.object(c["kernel"], "customizations.kernel");
    w.only(k, "customizations.kernel", {"append"},
           "the kernel of a bootc image is the image's own; only \"append\" applies");
    if (k.contains("append")) out.kernel_append = w.str(k["append"], "customizations.kernel.append");
  }
  if (c.contains("filesystem")) {
    const json& fss = w.array(c["filesystem"], "customizations.filesystem");
    for (size_t i = 0; i < fss.size(); i++) {
      std::string k = fmt::format("customizations.filesystem[{}]", i);
      const json& f = w.object(fss[i], k);
      w.only(f, k, {"mountpoint", "minsize"});
      BibFilesystem bf;
      if (!f.contains("mountpoint")) w.bad(k, "\"mountpoint\" is required");
      bf.mountpoint = w.str(f["mountpoint"], k + ".mountpoint");
      if (f.contains("minsize")) bf.minsize = w.size(f["minsize"], k + ".minsize");
      out.filesystems.push_back(std::move(bf));
    }
  }
  if (c.contains("disk")) {
    const json& d = w.object(c["disk"], "customizations.disk");
    w.only(d, "customizations.disk", {"minsize"},
           "hull applies the disk's minsize; bib's advanced partitioning (partitions) is not supported");
    if (d.contains("minsize")) out.disk_minsize = w.size(d["minsize"], "customizations.disk.minsize");
  }
  if (!out.filesystems.empty() && c.contains("disk"))
    fail("{}: customizations.disk cannot be used with customizations.filesystem (as with bootc-image-builder)",
         out.file);
}

// One mountpoint against bib's policy; empty if allowed, else why not.
std::string mountpoint_error(const std::string& mp, bool btrfs) {
  if (mp.empty() || mp[0] != '/') return "path must be absolute";
  // path.Clean: no "//", no "/./", no "/../", no trailing "/" (except "/").
  bool clean = mp == "/" || (mp.back() != '/' && mp.find("//") == std::string::npos &&
                             mp.find("/./") == std::string::npos && mp.find("/../") == std::string::npos &&
                             !mp.ends_with("/.") && !mp.ends_with("/.."));
  if (!clean) return "path must be canonical";
  if (mp == "/" || mp == "/boot") return "";
  std::string refused = fmt::format("path \"{}\" is not allowed", mp);
  if (btrfs) return refused + " (a btrfs root takes only / and /boot)";
  if (mp == "/var") return refused + " (/var is the deployment's state: only directories below it can be mountpoints)";
  if (!mp.starts_with("/var/")) return refused;
  for (std::string_view deny : {"/var/home", "/var/lock", "/var/mail", "/var/mnt", "/var/roothome", "/var/run",
                                "/var/srv", "/var/usrlocal"})
    if (mp == deny || mp.starts_with(std::string(deny) + "/")) return refused;
  return "";
}

}  // namespace

uint64_t BibConfig::minsize_of(std::string_view mountpoint) const {
  uint64_t m = 0;
  for (const auto& f : filesystems)
    if (f.mountpoint == mountpoint) m = std::max(m, f.minsize);
  return m;
}

// What to type instead of an [output] table: its `type` (a string or a list)
// as --type flags and its `rootfs` as --rootfs, the flags bootc-image-builder
// and hull build-disk take. A value that is not a plain word (it came from
// the file, and goes into a one-line message) becomes a placeholder.
std::string output_flags(const json& output) {
  auto word = [](const json& v, const char* placeholder) {
    static const std::regex re("[A-Za-z0-9][A-Za-z0-9._+-]{0,31}");
    return v.is_string() && std::regex_match(v.get<std::string>(), re) ? v.get<std::string>() : std::string(placeholder);
  };
  std::string flags;
  if (output.is_object() && output.contains("type")) {
    const json& t = output["type"];
    if (t.is_array() && !t.empty()) {
      for (const json& v : t) flags += " --type " + word(v, "TYPE");
    } else {
      flags += " --type " + word(t, "TYPE");
    }
  }
  if (output.is_object() && output.contains("rootfs")) flags += " --rootfs " + word(output["rootfs"], "FS");
  if (flags.empty()) flags = " --type TYPE --rootfs FS";
  return flags.substr(1);
}

BibConfig parse_bib_config(std::string_view text, const std::string& file) {
  BibConfig out;
  out.file = file;
  json root;
  bool is_json = file == "-" || file.ends_with(".json");
  if (is_json) {
    try {
      root = json::parse(text);
    } catch (const json::parse_error& e) {
      fail("{}: malformed JSON: {}", file, e.what());
    }
    // bib's legacy form before 2024/05: {"blueprint": {...}}.
    if (root.is_object() && root.size() == 1 && root.contains("blueprint")) root = root["blueprint"];
  } else if (file.ends_with(".toml")) {
    try {
      root = to_json(toml::parse(text, file));
    } catch (const toml::parse_error& e) {
      fail("{}: malformed TOML at line {}, column {}: {}", file, e.source().begin.line, e.source().begin.column,
           e.description());
    }
  } else {
    fail("{}: unsupported file extension (bootc-image-builder reads .toml or .json)", file);
  }
  Walker w(file);
  if (!root.is_object()) fail("{}: expected a table at the top level", file);
  // Some write-ups put the output in the config; bootc-image-builder refuses
  // that (the output is chosen on its command line), and so do we, saying
  // which flags the table meant.
  if (root.contains("output"))
    fail("{}: unknown key \"output\" (the output is chosen on the command line, as with bootc-image-builder: "
         "use {} instead)",
         file, output_flags(root["output"]));
  // Blueprint metadata is accepted and ignored; everything else must be known.
  w.only(root, "", {"customizations", "name", "description", "version"}, kSupported);
  if (root.contains("customizations")) parse_customizations(root["customizations"], w, out);
  return out;
}

std::string to_bib_json(const BibConfig& c) {
  json cust = json::object();
  for (const auto& u : c.users) {
    json j = {{"name", u.name}};
    if (u.password) j["password"] = hash_password(*u.password);
    if (u.key) j["key"] = *u.key;
    if (!u.groups.empty()) j["groups"] = u.groups;
    if (u.description) j["description"] = *u.description;
    if (u.home) j["home"] = *u.home;
    if (u.shell) j["shell"] = *u.shell;
    if (u.uid) j["uid"] = *u.uid;
    if (u.gid) j["gid"] = *u.gid;
    cust["user"].push_back(j);
  }
  for (const auto& g : c.groups) {
    json j = {{"name", g.name}};
    if (g.gid) j["gid"] = *g.gid;
    cust["group"].push_back(j);
  }
  if (!c.kernel_append.empty()) cust["kernel"] = {{"append", c.kernel_append}};
  for (const auto& f : c.filesystems) cust["filesystem"].push_back({{"mountpoint", f.mountpoint}, {"minsize", f.minsize}});
  if (c.disk_minsize) cust["disk"] = {{"minsize", *c.disk_minsize}};
  return json{{"customizations", cust}}.dump(2) + "\n";
}

uint64_t parse_bib_size(std::string_view s) {
  static const std::regex re(R"(^\s*(\d+(\.\d+)?)\s*([A-Za-z]*)\s*$)");
  std::string str(s);
  std::smatch m;
  if (!std::regex_match(str, m, re)) fail("\"{}\" is not a size (a number, then kB, KiB, MB, MiB, GB, GiB, TB or TiB)", str);
  std::string unit = m[3];
  static const std::pair<std::string_view, uint64_t> units[] = {
      {"", 1},
      {"kB", 1000ull},
      {"KiB", 1ull << 10},
      {"MB", 1000ull * 1000},
      {"MiB", 1ull << 20},
      {"GB", 1000ull * 1000 * 1000},
      {"GiB", 1ull << 30},
      {"TB", 1000ull * 1000 * 1000 * 1000},
      {"TiB", 1ull << 40},
  };
  for (auto [name, mult] : units) {
    if (unit != name) continue;
    if (mult == 1 && m[2].matched) fail("\"{}\": a number of bytes must be whole", str);
    long double v = std::stold(m[1].str()) * mult;
    if (v > 1.8e19L) fail("\"{}\" is too large", str);
    return uint64_t(std::llround(v));
  }
  fail("\"{}\": unknown unit \"{}\" (kB, KiB, MB, MiB, GB, GiB, TB or TiB)", str, unit);
}

void check_mountpoints(const BibConfig& c, const std::string& rootfs) {
  std::string errs;
  for (size_t i = 0; i < c.filesystems.size(); i++) {
    std::string e = mountpoint_error(c.filesystems[i].mountpoint, rootfs == "btrfs");
    if (!e.empty()) errs += fmt::format("{}customizations.filesystem[{}].mountpoint: {}", errs.empty() ? "" : "; ", i, e);
  }
  if (!errs.empty()) fail("{}: {}", c.file, errs);
}

std::string find_default_config(const std::string& dir) {
  std::string found;
  for (const char* name : {"config.toml", "config.json"}) {
    std::string p = dir + "/" + name;
    struct stat st;
    if (stat(p.c_str(), &st) != 0) continue;
    if (!found.empty()) fail("found {} and also {}, only a single one is supported", p, found);
    found = p;
  }
  return found;
}

std::vector<std::string> split_kargs(std::string_view append) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, any = false;
  for (char ch : append) {
    if (ch == '"') quoted = !quoted;
    if (!quoted && (ch == ' ' || ch == '\t' || ch == '\n')) {
      if (any) out.push_back(std::move(cur));
      cur.clear();
      any = false;
      continue;
    }
    cur += ch;
    any = true;
  }
  if (quoted) fail("kernel arguments \"{}\": unbalanced double quote", append);
  if (any) out.push_back(std::move(cur));
  return out;
}

bool is_crypted(std::string_view s) {
  static const std::regex re(R"(^\$(1|2[abxy]|5|6|7|y|gy|sha1|md5)\$[./A-Za-z0-9$=,]+$)");
  return std::regex_match(std::string(s), re);
}

std::string hash_password(std::string_view password) {
  if (is_crypted(password)) return std::string(password);
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$6$", 0, nullptr, 0, salt, sizeof salt)) fail_errno("making a password salt");
  struct crypt_data data = {};
  std::string pw(password);
  const char* h = crypt_r(pw.c_str(), salt, &data);
  if (!h || h[0] == '*') fail_errno("hashing the password");
  return h;
}

}  // namespace hull::install
