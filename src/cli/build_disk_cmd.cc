// hull build-disk: bootc-image-builder's command line (--type, --rootfs,
// --config, --output, --chown, --progress, --tls-verify, --target-imgref)
// on install/build_disk.h.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "install/build_disk.h"
#include "util/error.h"
#include "util/file.h"

namespace hull::cli {
namespace {

std::pair<uid_t, gid_t> parse_chown(const std::string& s) {
  auto colon = s.find(':');
  try {
    size_t used = 0;
    unsigned long uid = std::stoul(s.substr(0, colon), &used);
    if (used != colon && colon != std::string::npos) throw std::invalid_argument(s);
    unsigned long gid = colon == std::string::npos ? uid : std::stoul(s.substr(colon + 1));
    return {uid_t(uid), gid_t(gid)};
  } catch (const std::exception&) {
    fail("--chown wants UID:GID (numbers), not \"{}\"", s);
  }
}


}  // namespace

int cmd_build_disk(Context& ctx, std::vector<std::string> args) {
  CLI::App app{
      "Build disk images from a bootable container image, as bootc-image-builder does, without a container "
      "runtime, loop devices or mounts: raw, qcow2, vmdk, vhd, gce, iso"};
  std::vector<std::string> types;
  std::string config_file, chown, target_imgref;
  RegistryFlags rf;
  PolicyFlags pf;
  bool progress_flag = false, quiet = false, verbose = false;
  install::BuildDiskOptions o;
  app.add_option("IMAGE", o.image,
                 "the image: docker://REF (or a bare REF), oci:DIR[:NAME], oci-archive:FILE[:NAME], "
                 "containers-storage:NAME")
      ->required();
  app.add_option("--type", types, "output type (repeatable): raw, qcow2 (default), vmdk, vhd, gce, iso");
  app.add_option("--rootfs", o.rootfs, "root filesystem: ext4, xfs or btrfs (default: the image's install config)")
      ->check(CLI::IsMember({"ext4", "xfs", "btrfs"}));
  app.add_option("--config", config_file,
                 "build config, config.toml or config.json (default: one of those in the current directory)");
  app.add_option("--output", o.output, "output directory (default: .)");
  app.add_option("--chown", chown, "give the outputs to UID:GID");
  app.add_option("--target-imgref", target_imgref, "the image the installed system follows (default: IMAGE)");
  rf.add(app);
  pf.add(app);
  pf.add_enforce(app);
  app.add_flag("--progress", progress_flag, "show progress (default on a terminal)");
  app.add_flag("-q,--quiet", quiet, "no progress output");
  app.add_flag("-v,--verbose", verbose, "print the time of each phase");
  app.add_option("--install-to-device", o.install_device,
                 "(the installer ISO's mode) install to this block device, or \"auto\" for the first disk, "
                 "erasing it, instead of building files")
      ->group("");
  if (int rc = run_cli11(&app, ctx.prog + " build-disk", args); rc >= 0) return rc;

  if (types.empty()) types.push_back("qcow2");
  for (const auto& t : types) o.types.push_back(install::parse_disk_type(t));
  if (config_file.empty()) config_file = install::find_default_config(".");
  if (!config_file.empty()) {
    std::string text = config_file == "-" ? std::string(std::istreambuf_iterator<char>(std::cin), {})
                                          : with_context(config_file, [&] { return read_file(config_file, 1 << 20); });
    o.config = install::parse_bib_config(text, config_file);
  }
  if (!chown.empty()) o.chown = parse_chown(chown);
  o.target_imgref = target_imgref;

  Progress progress(quiet, progress_flag && !quiet);
  sysroot::Context c;
  c.registry = rf.options();
  c.trust = pf.trust;
  c.progress = &progress;
  c.quiet = quiet;
  install::BuildDiskResult r = install::build_disk(c, o);
  if (verbose) print_phases(r.phases);
  if (!o.install_device.empty()) {
    if (!quiet) fmt::print("Installed {} ({} root, disk {})\n", o.image, r.rootfs, human_bytes(r.disk_size, true));
    return 0;
  }
  if (!quiet) {
    for (const auto& f : r.files)
      fmt::print("{:<6} {}/{}  ({} virtual, {} allocated)\n", install::type_name(f.type), o.output, f.path,
                 human_bytes(f.size, true), human_bytes(f.allocated, true));
    fmt::print("image {} ({} uncompressed){}\n", r.image_digest, human_bytes(r.image_size, true),
               r.disk_size ? fmt::format(", disk {} {}", human_bytes(r.disk_size, true), r.rootfs) : "");
  }
  return 0;
}

}  // namespace hull::cli
