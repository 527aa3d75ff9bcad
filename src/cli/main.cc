// hull: bootc and bootc-image-builder in C++. main() is a straight line:
// pick the command from the table, run it, turn an error into one line on
// stderr and a non-zero exit.
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "cli/commands.h"
#include "util/error.h"
#include "util/file.h"

#ifndef HULL_VERSION
#define HULL_VERSION "0.0.0"
#endif

namespace hull::cli {
namespace {

std::string basename_of(const char* argv0) {
  const char* slash = std::strrchr(argv0, '/');
  return slash ? slash + 1 : argv0;
}

int run(int argc, char** argv) {
  Context ctx;
  ctx.prog = basename_of(argv[0]) == "bootc" ? "bootc" : "hull";
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--version" || args[0] == "-V" || args[0] == "version")) {
    fmt::print("{} {}\n", ctx.prog, HULL_VERSION);
    return 0;
  }
  if (args.empty() || args[0] == "--help" || args[0] == "-h")
    fmt::print("{} {}: bootable container images (bootc) for Debian, in C++\n\n", ctx.prog, HULL_VERSION);
  return dispatch(ctx, ctx.prog, commands(), std::move(args));
}

}  // namespace
}  // namespace hull::cli

int main(int argc, char** argv) {
  hull::install_cleanup_handlers();
  std::string prog = hull::cli::basename_of(argv[0]) == "bootc" ? "bootc" : "hull";
  try {
    return hull::cli::run(argc, argv);
  } catch (const hull::Error& e) {
    fmt::print(stderr, "{}: {}\n", prog, e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: internal error: {}\n", prog, e.what());
  }
  return 1;
}
