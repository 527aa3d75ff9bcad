#include "cli/flags.h"

#include <fmt/format.h>

namespace hull::cli {

void RegistryFlags::add(CLI::App& app) {
  app.add_option("--authfile", authfile, "registry credentials file");
  app.add_flag("--tls-verify", tls_verify, "verify the registry's TLS certificate (default true)");
}

registry::Options RegistryFlags::options() const {
  registry::Options o;
  o.authfile = authfile;
  o.tls_verify = tls_verify;
  return o;
}

void SourceDestFlags::add(CLI::App& app) {
  app.add_option("--authfile", authfile, "credentials file for both sides");
  app.add_option("--src-authfile", src_authfile, "credentials file for the source registry");
  app.add_option("--dest-authfile", dst_authfile, "credentials file for the destination registry");
  app.add_flag("--src-tls-verify", src_tls, "verify the source registry's TLS certificate (default true)");
  app.add_flag("--dest-tls-verify", dst_tls, "verify the destination registry's TLS certificate (default true)");
}

registry::Options SourceDestFlags::source() const {
  return RegistryFlags{src_authfile.empty() ? authfile : src_authfile, src_tls}.options();
}

registry::Options SourceDestFlags::dest() const {
  return RegistryFlags{dst_authfile.empty() ? authfile : dst_authfile, dst_tls}.options();
}

void PolicyFlags::add(CLI::App& app) {
  app.add_option("--policy", trust.policy_path,
                 "signature policy (default: ~/.config/containers/policy.json, else /etc/containers/policy.json)");
  app.add_option("--registries.d", trust.registries_d,
                 "where signatures are found (default: ~/.config/containers/registries.d, else "
                 "/etc/containers/registries.d)");
}

void PolicyFlags::add_enforce(CLI::App& app) {
  app.add_flag("--enforce-container-sigpolicy", trust.enforce,
               "refuse images the signature policy would accept unsigned (insecureAcceptAnything); "
               "later upgrades of the host enforce it too");
}

void HostFlags::add(CLI::App& app) {
  app.add_option("--sysroot", sysroot, "operate on the ostree sysroot in this directory (default: the booted host)");
  registry.add(app);
  policy.add(app);
  app.add_flag("-q,--quiet", quiet, "no progress output");
}

sysroot::Context HostFlags::context(Progress& progress) const {
  sysroot::Context c;
  c.sysroot = sysroot;
  c.registry = registry.options();
  c.trust = policy.trust;
  c.progress = &progress;
  c.quiet = quiet;
  return c;
}

void InstallFlags::add(CLI::App& app, sysroot::InstallOptions& o) {
  app.add_option("--source-imgref", source, "the image to install (docker://, oci:, oci-archive:)")->required();
  app.add_option("--target-imgref", target, "the image upgrades follow afterwards (default: the source)");
  app.add_option("--stateroot", o.stateroot, "the ostree stateroot (default: default)");
  app.add_option("--karg", o.kargs, "a kernel argument (repeatable)");
  app.add_option("--root-ssh-authorized-keys", o.root_ssh_authorized_keys, "authorized_keys for root");
  app.add_option("--boot-tries", o.boot_tries,
                 "boots a new default deployment gets before GRUB falls back (written to /etc/hull/boot.toml; 0: off; default 3)")
      ->check(CLI::Range(0, 10));
}

void InstallFlags::apply(sysroot::InstallOptions& o) const {
  o.source = image::ImageName::parse(source);
  if (!target.empty()) o.target = image::ImageName::parse(target);
}

void print_phases(const PhaseTimes& phases) {
  for (const auto& [name, secs] : phases) fmt::print("  {:<36} {:7.2f} s\n", name, secs);
}

}  // namespace hull::cli
