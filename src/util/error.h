// One error model for all of hull: an exception carrying a one-line message
// to which every layer prepends its context ("pulling x: layer sha256:ab..:
// digest mismatch"). Errors are thrown where they happen and caught only at
// the top (cli/main.cc), which prints the line and exits non-zero. Code that
// must not throw (destructors, threads) catches and stores an Error.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace hull {

class Error : public std::runtime_error {
 public:
  explicit Error(std::string msg) : std::runtime_error(msg), msg_(std::move(msg)) {}
  const char* what() const noexcept override { return msg_.c_str(); }
  const std::string& message() const { return msg_; }
  // Prepends "ctx: " to the message.
  void add_context(std::string_view ctx) { msg_ = std::string(ctx) + ": " + msg_; }

 private:
  std::string msg_;
};

// An error from the OS: message is "what: strerror(errno)".
class SystemError : public Error {
 public:
  SystemError(std::string_view what, int err);
  int code() const { return code_; }

 private:
  int code_;
};

// Throws Error with a formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

// Throws SystemError for the current errno.
[[noreturn]] void fail_errno(std::string_view what);

// Runs fn(); an Error escaping it gets `ctx` prepended.
template <typename F>
auto with_context(std::string_view ctx, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (Error& e) {
    e.add_context(ctx);
    throw;
  }
}

}  // namespace hull
