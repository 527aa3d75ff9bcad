// Shared by the libFuzzer harnesses: each feeds outside bytes to one parser.
// A parser may refuse its input only by throwing (hull::Error or another
// std::exception); anything else (a crash, a sanitizer report, a leak, a
// hang past libFuzzer's -timeout) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

namespace hull::fuzz {

inline std::string_view text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `parse`; a thrown exception is a refusal, not a finding.
template <typename F>
void refuse_ok(F&& parse) {
  try {
    parse();
  } catch (const std::exception&) {
  }
}

}  // namespace hull::fuzz
