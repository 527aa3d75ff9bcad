// The command table of the `hull` (alias `bootc`) binary. Each command gets
// its arguments (without the command name) and returns the exit status;
// errors are thrown as hull::Error and printed by main.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hull::cli {

struct Context {
  std::string prog;  // "hull" or "bootc", for messages
};

struct Command {
  std::string_view name;
  std::string_view help;
  int (*run)(Context& ctx, std::vector<std::string> args);
};

// All top-level commands, in help order.
std::span<const Command> commands();

// The closest name in `names` to `word`, or empty if none is close.
std::string did_you_mean(std::string_view word, std::span<const std::string_view> names);

// Parses `args` with a CLI11 app built by the caller; returns -1 to go on,
// else the exit status to return (help printed: 0, bad usage: 2).
int run_cli11(void* app, std::string_view full_name, std::vector<std::string>& args);

// Runs the command of `table` named by args[0]; prints the table for
// --help (and for no command, then returns 2), "did you mean" for a typo.
int dispatch(Context& ctx, const std::string& usage_name, std::span<const Command> table,
             std::vector<std::string> args);

int cmd_image(Context& ctx, std::vector<std::string> args);
int cmd_status(Context& ctx, std::vector<std::string> args);
int cmd_upgrade(Context& ctx, std::vector<std::string> args);
int cmd_switch(Context& ctx, std::vector<std::string> args);
int cmd_rollback(Context& ctx, std::vector<std::string> args);
int cmd_install(Context& ctx, std::vector<std::string> args);
int cmd_build_disk(Context& ctx, std::vector<std::string> args);
int cmd_internals(Context& ctx, std::vector<std::string> args);

}  // namespace hull::cli
