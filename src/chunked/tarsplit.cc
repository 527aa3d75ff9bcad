#include "chunked/tarsplit.h"

#include <array>
#include <nlohmann/json.hpp>

#include "chunked/base64.h"
#include "util/error.h"

namespace hull::chunked {
namespace {

constexpr size_t kMaxEntries = 20'000'000;

// Slicing-by-8 tables for the reflected ISO polynomial (x^64 + x^4 + x^3 + x + 1).
struct Crc64Tables {
  std::array<std::array<uint64_t, 256>, 8> t;
  Crc64Tables() {
    constexpr uint64_t kPoly = 0xD800000000000000ull;
    for (uint64_t i = 0; i < 256; i++) {
      uint64_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
      t[0][i] = c;
    }
    for (size_t i = 0; i < 256; i++)
      for (size_t k = 1; k < 8; k++) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
};
const Crc64Tables& tables() {
  static const Crc64Tables t;
  return t;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; k++) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

std::string crc_bytes(uint64_t crc) {
  std::string b(8, '\0');
  for (int i = 0; i < 8; i++) b[i] = static_cast<char>(crc >> (56 - 8 * i));
  return b;
}

}  // namespace

uint64_t crc64_iso_update(uint64_t crc, std::string_view data) {
  const auto& t = tables().t;
  crc = ~crc;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  while (n >= 8) {
    uint64_t v = crc ^ (uint64_t{p[0]} | uint64_t{p[1]} << 8 | uint64_t{p[2]} << 16 | uint64_t{p[3]} << 24 |
                        uint64_t{p[4]} << 32 | uint64_t{p[5]} << 40 | uint64_t{p[6]} << 48 | uint64_t{p[7]} << 56);
    crc = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^ t[4][(v >> 24) & 0xff] ^
          t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^ t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

void TarSplitWriter::segment(std::string_view raw) {
  out_ += R"({"type":2,"payload":)";
  out_ += '"';
  out_ += base64_encode(raw);
  out_ += R"(","position":)";
  out_ += std::to_string(position_++);
  out_ += "}\n";
}

void TarSplitWriter::file(std::string_view name, uint64_t size, uint64_t crc64) {
  out_ += R"({"type":1,)";
  if (!name.empty()) {
    if (valid_utf8(name)) {
      out_ += R"("name":)";
      out_ += nlohmann::json(std::string(name)).dump();
    } else {
      out_ += R"("name_raw":")";
      out_ += base64_encode(name);
      out_ += '"';
    }
    out_ += ',';
  }
  if (size > 0) {
    out_ += R"("size":)";
    out_ += std::to_string(size);
    out_ += R"(,"payload":")";
    out_ += base64_encode(crc_bytes(crc64));
    out_ += R"(",)";
  } else {
    out_ += R"("payload":null,)";
  }
  out_ += R"("position":)";
  out_ += std::to_string(position_++);
  out_ += "}\n";
}

std::vector<TarSplitEntry> parse_tar_split(std::string_view jsonl) {
  std::vector<TarSplitEntry> out;
  size_t line_no = 0;
  while (!jsonl.empty()) {
    size_t nl = jsonl.find('\n');
    std::string_view line = jsonl.substr(0, nl);
    jsonl.remove_prefix(nl == std::string_view::npos ? jsonl.size() : nl + 1);
    line_no++;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (out.size() >= kMaxEntries) fail("tar-split: more than {} entries", kMaxEntries);
    auto bad = [&](std::string_view why) -> Error {
      return Error(fmt::format("tar-split line {}: {}", line_no, why));
    };
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) throw bad("not a JSON object");
    TarSplitEntry e;
    auto type = j.find("type");
    if (type == j.end() || !type->is_number_integer()) throw bad("no type");
    int t = type->get<int>();
    if (t != 1 && t != 2) throw bad(fmt::format("unknown type {}", t));
    e.type = static_cast<TarSplitEntry::Type>(t);
    auto pos = j.find("position");
    if (pos == j.end() || !pos->is_number_integer() || pos->get<int64_t>() != static_cast<int64_t>(out.size()))
      throw bad(fmt::format("position is not {}", out.size()));
    if (auto p = j.find("payload"); p != j.end() && !p->is_null()) {
      if (!p->is_string()) throw bad("payload is not a string");
      auto d = base64_decode(p->get_ref<const std::string&>());
      if (!d) throw bad("payload is not base64");
      e.payload = std::move(*d);
    }
    if (e.type == TarSplitEntry::kFile) {
      if (auto n = j.find("name"); n != j.end() && !n->is_null()) {
        if (!n->is_string()) throw bad("name is not a string");
        e.name = n->get<std::string>();
      }
      if (auto n = j.find("name_raw"); n != j.end() && !n->is_null()) {
        if (!n->is_string()) throw bad("name_raw is not a string");
        auto d = base64_decode(n->get_ref<const std::string&>());
        if (!d) throw bad("name_raw is not base64");
        e.name = std::move(*d);
      }
      if (auto s = j.find("size"); s != j.end()) {
        if (!s->is_number_unsigned() && !(s->is_number_integer() && s->get<int64_t>() >= 0))
          throw bad("size is not a non-negative integer");
        e.size = s->get<uint64_t>();
      }
      if (e.size > 0 && e.payload.size() != 8) throw bad(fmt::format("file \"{}\" has no 8-byte checksum", e.name));
    }
    out.push_back(std::move(e));
  }
  return out;
}

void rebuild_tar(const std::vector<TarSplitEntry>& entries,
                 const std::function<ContentReader(const TarSplitEntry&)>& open,
                 const std::function<void(std::string_view)>& out) {
  std::string buf(1u << 20, '\0');
  for (const auto& e : entries) {
    if (e.type == TarSplitEntry::kSegment) {
      if (!e.payload.empty()) out(e.payload);
      continue;
    }
    if (e.size == 0) continue;
    with_context(fmt::format("rebuilding the tar stream: file \"{}\"", e.name), [&] {
      ContentReader r = open(e);
      uint64_t got = 0, crc = 0;
      for (;;) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), e.size - got + 1));
        size_t n = r(buf.data(), want);
        if (n == 0) break;
        got += n;
        if (got > e.size) fail("content is longer than its {} bytes", e.size);
        std::string_view piece(buf.data(), n);
        crc = crc64_iso_update(crc, piece);
        out(piece);
      }
      if (got != e.size) fail("content is {} bytes, the tar-split says {}", got, e.size);
      if (crc_bytes(crc) != e.payload) fail("content does not match the tar-split's CRC-64");
    });
  }
}

}  // namespace hull::chunked
