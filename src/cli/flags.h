// Flags several commands share, each added to a command's CLI11 app by one
// call, so that their names and help read the same everywhere.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "registry/client.h"
#include "signature/verify.h"
#include "sysroot/sysroot.h"
#include "util/phases.h"
#include "util/progress.h"

namespace hull::cli {

// --authfile and --tls-verify, for commands that read images.
struct RegistryFlags {
  std::string authfile;
  bool tls_verify = true;

  void add(CLI::App& app);
  registry::Options options() const;
};

// The flags of commands that read one image and write another (image copy,
// image rechunk): --authfile for both sides, --src-/--dest-authfile and
// --src-/--dest-tls-verify for each.
struct SourceDestFlags {
  std::string authfile, src_authfile, dst_authfile;
  bool src_tls = true, dst_tls = true;

  void add(CLI::App& app);
  registry::Options source() const;
  registry::Options dest() const;
};

// The host commands' flags: the registry's, --sysroot and --quiet.
// The signature policy's files: --policy FILE, --registries.d DIR (as
// skopeo names them); add_enforce() adds --enforce-container-sigpolicy for
// the commands that take it (install, switch, build-disk, image copy).
struct PolicyFlags {
  signature::TrustOptions trust;

  void add(CLI::App& app);
  void add_enforce(CLI::App& app);
};

// The host commands' flags: the registry's, the policy's, --sysroot and --quiet.
struct HostFlags {
  RegistryFlags registry;
  PolicyFlags policy;
  std::string sysroot = "/";
  bool quiet = false;

  void add(CLI::App& app);
  // The context of a sysroot operation reporting to `progress`.
  sysroot::Context context(Progress& progress) const;
};

// The flags of `install to-filesystem` and `install to-disk` that name the
// image and its deployment: --source-imgref (required), --target-imgref,
// --stateroot, --karg, --root-ssh-authorized-keys. apply() puts the image
// names into `o` once the arguments are parsed.
struct InstallFlags {
  std::string source, target;

  void add(CLI::App& app, sysroot::InstallOptions& o);
  void apply(sysroot::InstallOptions& o) const;
};

// Prints each phase's time (for --verbose).
void print_phases(const PhaseTimes& phases);

}  // namespace hull::cli
