// `hull image copy` and `hull image inspect`.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "image/copy.h"
#include "image/inspect.h"
#include "util/error.h"

namespace hull::cli {
namespace {

std::optional<oci::Platform> platform_flag(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return oci::Platform::parse(s);
}

int image_copy(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Copy an image between transports: docker://REF, oci:DIR[:NAME], oci-archive:FILE[:NAME]"};
  std::string src_name, dst_name, platform, authfile, src_authfile, dst_authfile;
  bool quiet = false, all = false, src_tls = true, dst_tls = true;
  int jobs = 6;
  uint64_t chunk = 0;
  app.add_option("SOURCE", src_name, "image to copy")->required();
  app.add_option("DESTINATION", dst_name, "where to copy it")->required();
  app.add_flag("-q,--quiet", quiet, "no progress output");
  app.add_flag("-a,--all", all, "copy every image of an index, and the index itself");
  app.add_option("--platform", platform, "OS/ARCH[/VARIANT] to copy from an index (default: this host's)");
  app.add_option("--authfile", authfile, "credentials file for both sides");
  app.add_option("--src-authfile", src_authfile, "credentials file for the source registry");
  app.add_option("--dest-authfile", dst_authfile, "credentials file for the destination registry");
  app.add_flag("--src-tls-verify", src_tls, "verify the source registry's TLS certificate (default true)");
  app.add_flag("--dest-tls-verify", dst_tls, "verify the destination registry's TLS certificate (default true)");
  app.add_option("-j,--jobs", jobs, "blobs copied at once")->check(CLI::Range(1, 64));
  app.add_option("--dest-chunk-size", chunk, "push in chunks of this many bytes (default: one request)");
  PolicyFlags pf;
  pf.add(app);
  pf.add_enforce(app);
  if (int rc = run_cli11(&app, ctx.prog + " image copy", args); rc >= 0) return rc;

  RegistryFlags sf{src_authfile.empty() ? authfile : src_authfile, src_tls};
  RegistryFlags df{dst_authfile.empty() ? authfile : dst_authfile, dst_tls};
  registry::Options dst_opts = df.options();
  dst_opts.chunk_size = chunk;

  image::ImageName src_n = image::ImageName::parse(src_name);
  image::ImageName dst_n = image::ImageName::parse(dst_name);
  auto src = image::open_source(src_n, sf.options());
  // The source is checked against the signature policy first, as skopeo
  // copy does, before the destination is opened; then exactly the checked
  // manifest is copied (a registry source pinned by its digest).
  signature::Trust trust;
  with_context(src_n.str(), [&] {
    trust = signature::Trust::load(pf.trust, sf.options());
    image::Doc top = src->top();
    image::Doc m = all && oci::classify(top.bytes, top.media_type) == oci::DocKind::kIndex
                       ? top
                       : image::resolve_manifest(*src, top, platform_flag(platform));
    signature::verify_image(trust, src_n, m);
    if (src_n.transport == image::Transport::kDocker) {
      image::ImageName pinned = src_n;
      pinned.ref.digest = top.digest;
      src = image::open_source(pinned, sf.options());
    }
  });
  auto dst = image::open_dest(dst_n, dst_opts);
  image::CopyOptions opts;
  opts.all = all;
  opts.platform = platform_flag(platform);
  opts.jobs = jobs;
  Progress progress(quiet);
  image::CopyResult r = image::copy_image(*src, *dst, opts, progress);
  // Signatures go along where the destination can hold them (registry to
  // registry), as skopeo copies them.
  int sigs = signature::copy_signatures(trust, src_n, dst_n, r.digest, dst_opts);
  if (!quiet)
    fmt::print(stderr, "Copied {} blobs ({}), {} already present; manifest {}{}\n", r.blobs_copied,
               human_bytes(r.bytes_copied), r.blobs_present, r.digest.str(),
               sigs ? fmt::format("; {} signatures", sigs) : "");
  return 0;
}

int image_inspect(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Show what an image is: digest, platform, labels, layers (JSON)"};
  std::string name, platform;
  RegistryFlags rf;
  bool raw = false, config = false;
  app.add_option("IMAGE", name, "docker://REF (the default), oci:DIR[:NAME], oci-archive:FILE[:NAME]")->required();
  app.add_flag("--raw", raw, "print the manifest (or index) bytes as stored");
  app.add_flag("--config", config, "print the image config");
  app.add_option("--platform", platform, "OS/ARCH[/VARIANT] to pick from an index (default: this host's)");
  rf.add(app);
  if (int rc = run_cli11(&app, ctx.prog + " image inspect", args); rc >= 0) return rc;

  auto src = image::open_source(image::ImageName::parse(name), rf.options());
  if (raw && !config) {
    image::Doc top = with_context(fmt::format("inspecting {}", src->describe()), [&] { return src->top(); });
    fmt::print("{}", top.bytes);
    if (isatty(1)) fmt::print("\n");
    return 0;
  }
  image::InspectData data = image::inspect(*src, platform_flag(platform));
  if (config) {
    fmt::print("{}", data.config);
    if (isatty(1)) fmt::print("\n");
    return 0;
  }
  fmt::print("{}", image::render_inspect_json(data));
  return 0;
}

constexpr Command kImageCommands[] = {
    {"copy", "copy an image between registries, OCI layouts and oci-archives", image_copy},
    {"inspect", "show an image's digest, platform, labels and layers", image_inspect},
};

}  // namespace

int cmd_image(Context& ctx, std::vector<std::string> args) {
  return dispatch(ctx, ctx.prog + " image", kImageCommands, std::move(args));
}

}  // namespace hull::cli
