#include "chunked/toc.h"

#include <zstd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "chunked/base64.h"
#include "util/error.h"

namespace hull::chunked {
namespace {

constexpr std::string_view kSkippableMagic = "\x50\x2a\x4d\x18";
constexpr std::string_view kFooterMagic = "GNUlInUx";
constexpr std::string_view kLegacyFooterMagic = "GnUlInUx";
constexpr size_t kMaxTocEntries = 10'000'000;

uint64_t get_le64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}
void put_le64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; i++) out += static_cast<char>(v >> (8 * i));
}

uint64_t parse_u64(std::string_view s, std::string_view what) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) fail("{}: \"{}\" is not a number", what, s);
  return v;
}

std::vector<std::string_view> split(std::string_view s, char c) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t i = s.find(c);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos) return out;
    s.remove_prefix(i + 1);
  }
}

// "offset:length:uncompressed[:type]".
Position parse_position(std::string_view key, std::string_view value, bool with_type, uint64_t max_len,
                        uint64_t max_uncompressed, int64_t blob_size) {
  auto parts = split(value, ':');
  if (parts.size() != (with_type ? 4u : 3u)) fail("annotation {}: \"{}\" is malformed", key, value);
  Position p;
  p.offset = parse_u64(parts[0], key);
  p.length = parse_u64(parts[1], key);
  p.uncompressed = parse_u64(parts[2], key);
  if (with_type && parse_u64(parts[3], key) != 1) fail("annotation {}: manifest type {} is not 1", key, parts[3]);
  if (p.length > max_len) fail("annotation {}: {} compressed bytes is over the cap of {}", key, p.length, max_len);
  if (p.uncompressed > max_uncompressed)
    fail("annotation {}: {} uncompressed bytes is over the cap of {}", key, p.uncompressed, max_uncompressed);
  if (p.offset < 8 || p.offset > static_cast<uint64_t>(blob_size) || p.length > static_cast<uint64_t>(blob_size) - p.offset)
    fail("annotation {}: [{}, +{}) is outside the blob of {} bytes", key, p.offset, p.length, blob_size);
  return p;
}

std::string position_str(const Position& p) { return fmt::format("{}:{}:{}", p.offset, p.length, p.uncompressed); }

bool is_sha256(std::string_view d) {
  if (d.size() != 71 || !d.starts_with("sha256:")) return false;
  for (char c : d.substr(7))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Days since 1970-01-01 of a civil date and back (Howard Hinnant's algorithms).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = static_cast<unsigned>(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

}  // namespace

// As Go's time.Time.MarshalJSON in UTC: RFC 3339 with trailing zeros of
// the fraction dropped ("2006-01-02T15:04:05.999999999Z07:00").
std::string rfc3339(int64_t sec, uint32_t nsec) {
  int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
  int64_t rem = sec - days * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  if (y < 0 || y > 9999) fail("time {} is outside the years 0-9999 that RFC 3339 can write", sec);
  std::string s = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, rem / 3600, rem / 60 % 60, rem % 60);
  if (nsec) {
    std::string frac = fmt::format("{:09}", nsec);
    while (frac.back() == '0') frac.pop_back();
    s += "." + frac;
  }
  return s + "Z";
}

// RFC 3339 ("2006-01-02T15:04:05[.frac](Z|+hh:mm|-hh:mm)") to seconds and nanoseconds.
std::pair<int64_t, uint32_t> parse_rfc3339(std::string_view s) {
  auto bad = [&]() -> Error { return Error(fmt::format("time \"{}\" is not RFC 3339", s)); };
  auto num = [&](size_t off, size_t len) {
    if (off + len > s.size()) throw bad();
    unsigned v = 0;
    for (size_t i = off; i < off + len; i++) {
      if (s[i] < '0' || s[i] > '9') throw bad();
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
    throw bad();
  unsigned y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) throw bad();
  size_t i = 19;
  uint32_t nsec = 0;
  if (s[i] == '.') {
    i++;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (i - start < 9) nsec = nsec * 10 + (s[i] - '0');
      i++;
    }
    if (i == start) throw bad();
    for (size_t k = i - start; k < 9; k++) nsec *= 10;
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    if (i + 6 != s.size() || s[i + 3] != ':') throw bad();
    offset = (num(i + 1, 2) * 3600 + num(i + 4, 2) * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    throw bad();
  }
  if (i != s.size()) throw bad();
  int64_t sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
  return {sec, nsec};
}

std::optional<LayerInfo> layer_info(const oci::Descriptor& d) {
  const auto& a = d.annotations;
  auto get = [&](std::string_view k) -> const std::string* {
    auto it = a.find(std::string(k));
    return it == a.end() ? nullptr : &it->second;
  };
  LayerInfo info;
  const std::string* checksum = get(kManifestChecksumKey);
  const std::string* position = get(kManifestPositionKey);
  const std::string* tar_split = get(kTarSplitPositionKey);
  std::string_view checksum_key = kManifestChecksumKey, position_key = kManifestPositionKey;
  if (!checksum && !position) {
    if (tar_split) fail("layer {}: {} without a manifest position", d.digest.short_str(), kTarSplitPositionKey);
    checksum = get(kLegacyManifestChecksumKey);
    position = get(kLegacyManifestPositionKey);
    checksum_key = kLegacyManifestChecksumKey;
    position_key = kLegacyManifestPositionKey;
    info.legacy = true;
    if (!checksum && !position) return std::nullopt;
  }
  return with_context(fmt::format("zstd:chunked layer {}", d.digest.short_str()), [&] {
    if (!checksum) fail("{} without {}", position_key, checksum_key);
    if (!position) fail("{} without {}", checksum_key, position_key);
    if (d.media_type != oci::media::kOciLayerZstd && d.media_type != oci::media::kOciLayerNdZstd)
      fail("media type {} is not zstd", d.media_type);
    info.toc_digest = oci::Digest::parse(*checksum);
    info.toc = parse_position(position_key, *position, true, kMaxTocCompressed, kMaxTocUncompressed, d.size);
    if (tar_split) {
      info.tar_split = parse_position(kTarSplitPositionKey, *tar_split, false, kMaxTarSplitCompressed,
                                      kMaxTarSplitUncompressed, d.size);
    }
    return std::optional<LayerInfo>(std::move(info));
  });
}

std::vector<std::pair<std::string, std::string>> annotations(const oci::Digest& toc_digest, const Position& toc,
                                                             const Position& tar_split) {
  return {
      {std::string(kManifestChecksumKey), toc_digest.str()},
      {std::string(kManifestPositionKey), position_str(toc) + ":1"},
      {std::string(kTarSplitPositionKey), position_str(tar_split)},
  };
}

Footer parse_footer(std::span<const std::byte> tail) {
  if (tail.size() < 8) fail("zstd:chunked footer: only {} bytes", tail.size());
  std::string_view magic(reinterpret_cast<const char*>(tail.data() + tail.size() - 8), 8);
  Footer f;
  size_t size;
  if (magic == kFooterMagic) {
    size = kFooterSize;
  } else if (magic == kLegacyFooterMagic) {
    size = kLegacyFooterSize;
    f.legacy = true;
  } else {
    fail("zstd:chunked footer: no magic at the end of the blob");
  }
  if (tail.size() < size) fail("zstd:chunked footer: {} bytes, want {}", tail.size(), size);
  const std::byte* p = tail.data() + tail.size() - size;
  f.toc = {get_le64(p), get_le64(p + 8), get_le64(p + 16)};
  uint64_t type = get_le64(p + 24);
  if (type != 1) fail("zstd:chunked footer: manifest type {} is not 1", type);
  if (!f.legacy) f.tar_split = Position{get_le64(p + 32), get_le64(p + 40), get_le64(p + 48)};
  return f;
}

std::string footer_bytes(const Footer& f) {
  std::string out;
  put_le64(out, f.toc.offset);
  put_le64(out, f.toc.length);
  put_le64(out, f.toc.uncompressed);
  put_le64(out, 1);
  Position ts = f.tar_split.value_or(Position{});
  put_le64(out, ts.offset);
  put_le64(out, ts.length);
  put_le64(out, ts.uncompressed);
  out += kFooterMagic;
  return out;
}

std::string skippable_frame_header(uint32_t len) {
  std::string out(kSkippableMagic);
  for (int i = 0; i < 4; i++) out += static_cast<char>(len >> (8 * i));
  return out;
}

Toc parse_toc(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) fail("TOC: not a JSON object");
  Toc toc;
  auto v = j.find("version");
  if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() != 1) fail("TOC: version is not 1");
  if (auto t = j.find("tarSplitDigest"); t != j.end() && !t->is_null()) {
    if (!t->is_string() || !is_sha256(t->get_ref<const std::string&>())) fail("TOC: tarSplitDigest is not a sha256 digest");
    toc.tar_split_digest = t->get<std::string>();
  }
  auto es = j.find("entries");
  if (es == j.end() || es->is_null()) return toc;
  if (!es->is_array()) fail("TOC: entries is not an array");
  if (es->size() > kMaxTocEntries) fail("TOC: {} entries, over the cap of {}", es->size(), kMaxTocEntries);
  toc.entries.reserve(es->size());
  for (size_t i = 0; i < es->size(); i++) {
    const auto& e = (*es)[i];
    TocEntry out;
    auto bad = [&](std::string_view why) -> Error {
      return Error(fmt::format("TOC entry {} (\"{}\"): {}", i, out.name, why));
    };
    if (!e.is_object()) throw bad("not an object");
    auto str = [&](const char* k) -> std::string {
      auto it = e.find(k);
      if (it == e.end() || it->is_null()) return {};
      if (!it->is_string()) throw bad(fmt::format("{} is not a string", k));
      return it->get<std::string>();
    };
    auto num = [&](const char* k, int64_t max) -> int64_t {
      auto it = e.find(k);
      if (it == e.end() || it->is_null()) return 0;
      if (!it->is_number_integer()) throw bad(fmt::format("{} is not an integer", k));
      int64_t x = it->get<int64_t>();
      if (x < 0 || x > max) throw bad(fmt::format("{} {} is out of range", k, x));
      return x;
    };
    auto time = [&](const char* k, std::optional<int64_t>& sec, uint32_t& nsec) {
      std::string t = str(k);
      if (t.empty()) return;
      try {
        auto [s, n] = parse_rfc3339(t);
        sec = s;
        nsec = n;
      } catch (const Error& err) {
        throw bad(fmt::format("{}: {}", k, err.message()));
      }
    };
    out.name = str("name");
    out.type = str("type");
    static const char* kTypes[] = {"reg", "hardlink", "symlink", "dir", "char", "block", "fifo", "chunk"};
    if (std::find(std::begin(kTypes), std::end(kTypes), out.type) == std::end(kTypes))
      throw bad(fmt::format("unknown type \"{}\"", out.type));
    out.link_name = str("linkName");
    out.mode = static_cast<uint32_t>(num("mode", UINT32_MAX));
    out.size = static_cast<uint64_t>(num("size", INT64_MAX));
    out.uid = static_cast<uint32_t>(num("uid", UINT32_MAX));
    out.gid = static_cast<uint32_t>(num("gid", UINT32_MAX));
    time("modtime", out.mtime, out.mtime_nsec);
    time("accesstime", out.atime, out.atime_nsec);
    time("changetime", out.ctime, out.ctime_nsec);
    out.dev_major = static_cast<uint32_t>(num("devMajor", UINT32_MAX));
    out.dev_minor = static_cast<uint32_t>(num("devMinor", UINT32_MAX));
    if (auto x = e.find("xattrs"); x != e.end() && !x->is_null()) {
      if (!x->is_object()) throw bad("xattrs is not an object");
      for (auto it = x->begin(); it != x->end(); ++it) {
        if (!it.value().is_string()) throw bad(fmt::format("xattr {} is not a string", it.key()));
        auto val = base64_decode(it.value().get_ref<const std::string&>());
        if (!val) throw bad(fmt::format("xattr {} is not base64", it.key()));
        out.xattrs.emplace_back(it.key(), std::move(*val));
      }
    }
    out.digest = str("digest");
    if (!out.digest.empty() && !is_sha256(out.digest)) throw bad(fmt::format("digest \"{}\" is not sha256", out.digest));
    if (out.type == "reg" && out.size > 0 && out.digest.empty()) throw bad("a regular file with content has no digest");
    out.offset = static_cast<uint64_t>(num("offset", INT64_MAX));
    out.end_offset = static_cast<uint64_t>(num("endOffset", INT64_MAX));
    if (out.end_offset != 0 && out.end_offset < out.offset)
      throw bad(fmt::format("endOffset {} is before offset {}", out.end_offset, out.offset));
    if (out.type == "reg" && out.size > 0 && out.end_offset <= out.offset)
      throw bad("a regular file with content has no frames (endOffset <= offset)");
    out.chunk_size = static_cast<uint64_t>(num("chunkSize", INT64_MAX));
    out.chunk_offset = static_cast<uint64_t>(num("chunkOffset", INT64_MAX));
    out.chunk_digest = str("chunkDigest");
    if (!out.chunk_digest.empty() && !is_sha256(out.chunk_digest))
      throw bad(fmt::format("chunkDigest \"{}\" is not sha256", out.chunk_digest));
    out.chunk_type = str("chunkType");
    if (!out.chunk_type.empty() && out.chunk_type != "zeros") throw bad(fmt::format("unknown chunkType \"{}\"", out.chunk_type));
    if (out.type == "chunk") {
      if (toc.entries.empty() || (toc.entries.back().type != "reg" && toc.entries.back().type != "chunk") ||
          toc.entries.back().name != out.name)
        throw bad("a chunk that does not follow a regular file or chunk of the same name");
    }
    toc.entries.push_back(std::move(out));
  }
  return toc;
}

std::string toc_json(const Toc& toc) {
  using ojson = nlohmann::ordered_json;
  ojson j = ojson::object();
  j["version"] = toc.version;
  ojson entries = ojson::array();
  for (const auto& e : toc.entries) {
    ojson o = ojson::object();
    o["type"] = e.type;
    o["name"] = e.name;
    if (!e.link_name.empty()) o["linkName"] = e.link_name;
    if (e.mode) o["mode"] = e.mode;
    if (e.size) o["size"] = e.size;
    if (e.uid) o["uid"] = e.uid;
    if (e.gid) o["gid"] = e.gid;
    if (e.mtime) o["modtime"] = rfc3339(*e.mtime, e.mtime_nsec);
    if (e.atime) o["accesstime"] = rfc3339(*e.atime, e.atime_nsec);
    if (e.ctime) o["changetime"] = rfc3339(*e.ctime, e.ctime_nsec);
    if (e.dev_major) o["devMajor"] = e.dev_major;
    if (e.dev_minor) o["devMinor"] = e.dev_minor;
    if (!e.xattrs.empty()) {
      ojson x = ojson::object();
      for (const auto& [k, v] : e.xattrs) x[k] = base64_encode(v);
      o["xattrs"] = std::move(x);
    }
    if (!e.digest.empty()) o["digest"] = e.digest;
    if (e.offset) o["offset"] = e.offset;
    if (e.end_offset) o["endOffset"] = e.end_offset;
    if (e.chunk_size) o["chunkSize"] = e.chunk_size;
    if (e.chunk_offset) o["chunkOffset"] = e.chunk_offset;
    if (!e.chunk_digest.empty()) o["chunkDigest"] = e.chunk_digest;
    if (!e.chunk_type.empty()) o["chunkType"] = e.chunk_type;
    entries.push_back(std::move(o));
  }
  j["entries"] = std::move(entries);
  if (!toc.tar_split_digest.empty()) j["tarSplitDigest"] = toc.tar_split_digest;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string zstd_decompress(std::span<const std::byte> data, uint64_t max_out, std::string_view what) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!d) fail("decompressing {}: out of memory", what);
  std::string out;
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t ret = 1;
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  while (in.pos < in.size) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    ret = ZSTD_decompressStream(d.get(), &ob, &in);
    if (ZSTD_isError(ret)) fail("decompressing {}: {}", what, ZSTD_getErrorName(ret));
    if (out.size() + ob.pos > max_out) fail("decompressing {}: more than {} bytes", what, max_out);
    out.append(buf.data(), ob.pos);
    if (ob.pos == 0 && in.pos == in.size) break;
  }
  // Flush what the decoder still holds.
  while (ret != 0) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    ret = ZSTD_decompressStream(d.get(), &ob, &in);
    if (ZSTD_isError(ret)) fail("decompressing {}: {}", what, ZSTD_getErrorName(ret));
    if (out.size() + ob.pos > max_out) fail("decompressing {}: more than {} bytes", what, max_out);
    out.append(buf.data(), ob.pos);
    if (ob.pos == 0) break;
  }
  if (ret != 0 || data.empty()) fail("decompressing {}: the zstd stream is truncated", what);
  return out;
}

}  // namespace hull::chunked
