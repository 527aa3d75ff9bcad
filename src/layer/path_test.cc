#include "layer/path.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace hull::layer {
namespace {

TEST(NormalizePath, Normalizes) {
  struct Case {
    const char* raw;
    const char* want;
  } cases[] = {
      {"a", "a"},
      {"./a/b", "a/b"},
      {"a//b/./c/", "a/b/c"},
      {"/etc/passwd", "etc/passwd"},  // leading "/" stripped, documented
      {"//etc", "etc"},
      {"./", ""},
      {".", ""},
      {"/", ""},
      {"a/.wh.b", "a/.wh.b"},
      {"...", "..."},  // not ".."
      {"..a/b..", "..a/b.."},
  };
  for (const auto& c : cases) EXPECT_EQ(normalize_path(c.raw), c.want) << c.raw;
}

TEST(NormalizePath, Refuses) {
  struct Case {
    std::string raw;
    std::string why;
  } cases[] = {
      {"", "empty name"},
      {"..", "\"..\" component"},
      {"../etc/passwd", "\"..\" component"},
      {"a/../../b", "\"..\" component"},
      {"a/../b", "\"..\" component"},  // even when it would stay inside
      {"/../x", "\"..\" component"},
      {"a/" + std::string(256, 'n'), "256 bytes (limit 255)"},
  };
  for (const auto& c : cases) {
    try {
      normalize_path(c.raw);
      ADD_FAILURE() << c.raw;
    } catch (const Error& e) {
      EXPECT_NE(e.message().find(c.why), std::string::npos) << e.message();
      if (!c.raw.empty() && c.raw.size() <= kQuoteMaxBytes) {  // longer ones are shortened
        EXPECT_NE(e.message().find(c.raw), std::string::npos) << e.message();
      }
    }
  }
}

TEST(NormalizePath, Limits) {
  EXPECT_EQ(normalize_path("a/" + std::string(255, 'n')).size(), 257u);
  std::string deep;
  while (deep.size() < 4095 - 4) deep += "abc/";
  deep.resize(4095);
  if (deep.back() == '/') deep.back() = 'x';
  EXPECT_EQ(normalize_path(deep).size(), 4095u);
  EXPECT_THROW(normalize_path(deep + "y"), Error);
  std::string out;
  EXPECT_THROW(normalize_path("abcdef", out, 5, 100), Error);
  EXPECT_THROW(normalize_path("ab/cd", out, 5, 4), Error);
}

TEST(LinkEscapes, Table) {
  struct Case {
    const char* path;
    const char* target;
    bool escapes;
  } cases[] = {
      {"usr/bin/sh", "dash", false},
      {"bin", "usr/bin", false},
      {"lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", false},
      {"etc/alternatives/x", "/etc/alternatives/y", false},
      {"usr/lib/x/libfoo.so", "../../../lib/libfoo.so", false},  // reaches exactly the root
      {"a/b", "../x", false},
      {"a/b", "./c/../d", false},
      {"a/b", "../../x", true},
      {"a", "../x", true},
      {"a/b/c", "../../../../etc/passwd", true},
      {"a/b", "c/../../..", true},
      {"x", "/../etc", true},  // absolute, then above the root
      {"x", "/", false},
      {"x", ".", false},
  };
  for (const auto& c : cases) EXPECT_EQ(link_escapes(c.path, c.target), c.escapes) << c.path << " -> " << c.target;
}

TEST(Quote, EscapesWhatWouldBreakALine) {
  EXPECT_EQ(quote("a/b"), "\"a/b\"");
  EXPECT_EQ(quote(std::string_view("a\nb\0\"\\\xff", 7)), "\"a\\x0ab\\x00\\x22\\x5c\\xff\"");
}

TEST(Quote, ShortensLongNamesAndSaysTheirLength) {
  // Up to kQuoteMaxBytes: whole.
  std::string edge(kQuoteMaxBytes, 'a');
  EXPECT_EQ(quote(edge), "\"" + edge + "\"");
  // One more: start…end and the length.
  std::string over = std::string(kQuoteHeadBytes, 'h') + std::string(kQuoteMaxBytes + 1 - kQuoteHeadBytes, 't');
  EXPECT_EQ(quote(over), "\"" + std::string(kQuoteHeadBytes, 'h') + "\u2026" + std::string(kQuoteTailBytes, 't') +
                             "\" (97 bytes)");
  // Escaping still applies to both ends, and bounds the worst case.
  std::string hostile(5000, '\n');
  std::string q = quote(hostile);
  EXPECT_EQ(q.find('\n'), std::string::npos);
  EXPECT_LE(q.size(), 4 * (kQuoteHeadBytes + kQuoteTailBytes) + 24) << q;
  EXPECT_NE(q.find("(5000 bytes)"), std::string::npos) << q;
}

TEST(NormalizePath, ErrorForAHugeNameIsShortAndSaysItsLength) {
  std::string name = "usr/" + std::string(5000, 'n');
  std::string err;
  try {
    normalize_path(name);
  } catch (const Error& e) {
    err = e.message();
  }
  EXPECT_LT(err.size(), 300u) << err;
  EXPECT_NE(err.find("\"usr/nnnn"), std::string::npos) << err;
  EXPECT_NE(err.find("(5004 bytes)"), std::string::npos) << err;
  EXPECT_NE(err.find("a component is 5000 bytes (limit 255)"), std::string::npos) << err;
  // The path-length rule shortens the same way (many short components).
  std::string deep;
  for (int i = 0; i < 1000; i++) deep += "abcdefgh/";
  err.clear();
  try {
    normalize_path(deep);
  } catch (const Error& e) {
    err = e.message();
  }
  EXPECT_LT(err.size(), 300u) << err;
  EXPECT_NE(err.find("(9000 bytes): path longer than 4095 bytes"), std::string::npos) << err;
}

}  // namespace
}  // namespace hull::layer
