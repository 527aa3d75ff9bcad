#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <algorithm>

#include <fmt/format.h>

namespace hull::cli {

std::span<const Command> commands() {
  static const Command table[] = {
      {"status", "show the booted, staged and rollback images", cmd_status},
      {"upgrade", "fetch and queue the newest version of the image", cmd_upgrade},
      {"switch", "follow another image from now on", cmd_switch},
      {"rollback", "boot the previous deployment next time", cmd_rollback},
      {"install", "install an image to a filesystem (to-filesystem)", cmd_install},
      {"build-disk", "build raw, qcow2, vmdk, vhd, gce or iso disk images (bootc-image-builder)", cmd_build_disk},
      {"image", "copy, inspect and rechunk container images (copy, inspect, rechunk)", cmd_image},
      {"internals", "what hull's systemd units run: health checks, boot assessment", cmd_internals},
  };
  return table;
}

std::string did_you_mean(std::string_view word, std::span<const std::string_view> names) {
  // Edit distance counting a swap of neighbours as one edit (optimal
  // string alignment); suggest when at most a third of the word differs.
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); i++) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); j++) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); i++)
      for (size_t j = 1; j <= b.size(); j++) {
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    return d[a.size()][b.size()];
  };
  for (auto n : names)
    if (!word.empty() && n.starts_with(word)) return std::string(n);
  std::string best;
  size_t limit = std::max<size_t>(1, word.size() / 3);
  for (auto n : names) {
    size_t d = distance(word, n);
    if (d <= limit) {
      limit = d;
      best = std::string(n);
    }
  }
  return best;
}

int run_cli11(void* app_ptr, std::string_view full_name, std::vector<std::string>& args) {
  auto& app = *static_cast<CLI::App*>(app_ptr);
  app.name(std::string(full_name));
  std::vector<std::string> rev(args.rbegin(), args.rend());
  try {
    app.parse(rev);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "{}: {}\n", full_name, e.what());
    return 2;
  }
  return -1;
}

}  // namespace hull::cli

namespace hull::cli {

int dispatch(Context& ctx, const std::string& usage_name, std::span<const Command> table,
             std::vector<std::string> args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fmt::print("Usage: {} COMMAND [OPTIONS]\n\nCommands:\n", usage_name);
    for (auto& c : table) fmt::print("  {:<14} {}\n", c.name, c.help);
    fmt::print("\nRun '{} COMMAND --help' for a command's options.\n", usage_name);
    return args.empty() ? 2 : 0;
  }
  std::string name = args[0];
  args.erase(args.begin());
  std::vector<std::string_view> names;
  for (auto& c : table) {
    if (c.name == name) return c.run(ctx, std::move(args));
    names.push_back(c.name);
  }
  std::string hint = did_you_mean(name, names);
  fmt::print(stderr, "{}: unknown command '{}'{}\n", usage_name, name,
             hint.empty() ? fmt::format("; run '{} --help'", usage_name) : fmt::format("; did you mean '{}'?", hint));
  return 2;
}

}  // namespace hull::cli
