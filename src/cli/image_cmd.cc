// `hull image copy`, `hull image inspect` and `hull image rechunk`.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>

#include "cli/commands.h"
#include "cli/flags.h"
#include "image/copy.h"
#include "image/inspect.h"
#include "rechunk/rechunk.h"
#include "util/error.h"

namespace hull::cli {
namespace {

std::optional<oci::Platform> platform_flag(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return oci::Platform::parse(s);
}

int image_copy(Context& ctx, std::vector<std::string> args) {
  CLI::App app{"Copy an image between transports: docker://REF, oci:DIR[:NAME], oci-archive:FILE[:NAME]"};
  std::string src_name, dst_name, platform, compress;
  bool quiet = false, all = false;
  SourceDestFlags sd;
  int jobs = 6;
  uint64_t chunk = 0;
  app.add_option("SOURCE", src_name, "image to copy")->required();
  app.add_option("DESTINATION", dst_name, "where to copy it")->required();
  app.add_flag("-q,--quiet", quiet, "no progress output");
  app.add_flag("-a,--all", all, "copy every image of an index, and the index itself");
  app.add_option("--platform", platform, "OS/ARCH[/VARIANT] to copy from an index (default: this host's)");
  sd.add(app);
  app.add_option("-j,--jobs", jobs, "blobs copied at once")->check(CLI::Range(1, 64));
  app.add_option("--dest-chunk-size", chunk, "push in chunks of this many bytes (default: one request)");
  app.add_option("--dest-compress-format", compress,
                 "recompress every layer: gzip, zstd or zstd:chunked (the image gets a new OCI manifest)");
  PolicyFlags pf;
  pf.add(app);
  pf.add_enforce(app);
  if (int rc = run_cli11(&app, ctx.prog + " image copy", args); rc >= 0) return rc;

  registry::Options dst_opts = sd.dest();
  dst_opts.chunk_size = chunk;

  std::optional<chunked::Format> format;  // checked before anything is opened or created
  if (!compress.empty()) format = chunked::parse_format(compress);
  image::ImageName src_n = image::ImageName::parse(src_name);
  image::ImageName dst_n = image::ImageName::parse(dst_name);
  auto src = image::open_source(src_n, sd.source());
  // The source is checked against the signature policy first, as skopeo
  // copy does, before the destination is opened; then exactly the checked
  // manifest is copied (a registry source pinned by its digest).
  signature::Trust trust;
  with_context(src_n.str(), [&] {
    trust = signature::Trust::load(pf.trust, sd.source());
    image::Doc top = src->top();
    image::Doc m = all && oci::classify(top.bytes, top.media_type) == oci::DocKind::kIndex
                       ? top
                       : image::resolve_manifest(*src, top, platform_flag(platform));
    signature::verify_image(trust, src_n, m);
    if (src_n.transport == image::Transport::kDocker) {
      image::ImageName pinned = src_n;
      pinned.ref.digest = top.digest;
      src = image::open_source(pinned, sd.source());
    }
  });
  auto dst = image::open_dest(dst_n, dst_opts);
  image::CopyOptions opts;
  opts.all = all;
  opts.platform = platform_flag(platform);
  opts.jobs = jobs;
  opts.compress = format;
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

int image_rechunk(Context& ctx, std::vector<std::string> args) {
  CLI::App app{
      "Rewrite an image as layers grouped by content: one layer per big dpkg package (with the rest of its "
      "source package), small packages in stable buckets, unowned files by directory, the dpkg database and "
      "files that change with every build in a small last layer. The same tree always gives the same layers, "
      "so an update changes the layers of the packages that changed. Mtimes are $SOURCE_DATE_EPOCH, else 0. "
      "The image is unpacked into a scratch repository in $TMPDIR (else /var/tmp); a tmpfs there is fastest."};
  std::string src_name, dst_name, platform, format = "zstd:chunked";
  bool quiet = false;
  SourceDestFlags sd;
  int max_layers = 64;
  app.add_option("SOURCE", src_name, "image to rechunk (docker://REF, oci:DIR[:NAME], oci-archive:FILE[:NAME])")
      ->required();
  app.add_option("DESTINATION", dst_name, "where to write the rechunked image")->required();
  app.add_option("--max-layers", max_layers, "at most this many layers (default 64)")->check(CLI::Range(2, 500));
  app.add_option("--dest-compress-format", format, "layer compression: gzip, zstd or zstd:chunked (default)");
  app.add_flag("-q,--quiet", quiet, "no progress output and no summary");
  app.add_option("--platform", platform, "OS/ARCH[/VARIANT] to pick from an index (default: this host's)");
  sd.add(app);
  if (int rc = run_cli11(&app, ctx.prog + " image rechunk", args); rc >= 0) return rc;

  rechunk::Options opts;
  opts.max_layers = max_layers;
  opts.format = chunked::parse_format(format);
  opts.platform = platform_flag(platform);
  auto src = image::open_source(image::ImageName::parse(src_name), sd.source());
  auto dst = image::open_dest(image::ImageName::parse(dst_name), sd.dest());
  auto t0 = std::chrono::steady_clock::now();
  Progress progress(quiet);
  rechunk::Result r = rechunk::rechunk_image(*src, *dst, opts, progress);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!quiet) {
    uint64_t blob_bytes = 0, tar_bytes = 0;
    for (auto& l : r.layers) {
      blob_bytes += static_cast<uint64_t>(l.desc.size);
      tar_bytes += l.tar_bytes;
    }
    fmt::print(stderr, "Rechunked {} layer{} ({}) into {} layers: {} files, {} of tar, {} written; manifest {}; {:.1f} s\n",
               r.input_layers, r.input_layers == 1 ? "" : "s", human_bytes(r.input_bytes), r.layers.size(), r.files,
               human_bytes(tar_bytes),
               human_bytes(blob_bytes), r.manifest_digest.str(), secs);
    for (auto& [name, s] : r.phases) fmt::print(stderr, "  {:<32} {:6.1f} s\n", name, s);
  }
  return 0;
}

constexpr Command kImageCommands[] = {
    {"copy", "copy an image between registries, OCI layouts and oci-archives", image_copy},
    {"inspect", "show an image's digest, platform, labels and layers", image_inspect},
    {"rechunk", "rewrite an image as layers grouped by dpkg package (content-based layers)", image_rechunk},
};

}  // namespace

int cmd_image(Context& ctx, std::vector<std::string> args) {
  return dispatch(ctx, ctx.prog + " image", kImageCommands, std::move(args));
}

}  // namespace hull::cli
