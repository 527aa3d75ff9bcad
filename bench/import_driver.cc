// hull_bench_import: the store's import as one timed command, for bench/import.
//
//   hull_bench_import REPO IMGREF [--tmp DIR] [--jobs N]
//
// Creates REPO as a bare repository if it does not exist, then runs
// store::pull_image of IMGREF ("oci:DIR:TAG", "docker://...") into it,
// exactly as `hull install` / `hull upgrade` do: fetch the missing layer
// blobs (verified) into DIR (default /var/tmp), import each as its own
// commit, merge, check bootability, commit in one transaction (the repo's
// default fsync policy: on). Prints one line:
//
//   fetched=N reused=N bytes=N seconds=S commit=C
//
// where bytes are the compressed bytes fetched and seconds the wall time of
// the pull alone (without creating the repository).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "image/source.h"
#include "store/ostree.h"
#include "store/store.h"
#include "util/error.h"
#include "util/file.h"
#include "util/progress.h"

namespace {

int usage() {
  fmt::print(stderr, "usage: hull_bench_import REPO IMGREF [--tmp DIR] [--jobs N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hull;
  install_cleanup_handlers();
  if (argc < 3) return usage();
  std::string repo_path = argv[1], imgref = argv[2];
  store::PullOptions opts;
  for (int i = 3; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--tmp" && i + 1 < argc) {
      opts.tmp_dir = argv[++i];
    } else if (a == "--jobs" && i + 1 < argc) {
      opts.jobs = std::atoi(argv[++i]);
    } else {
      return usage();
    }
  }
  try {
    store::Repo repo = path_exists(repo_path + "/config") ? store::open_repo(repo_path)
                                                          : store::create_repo(repo_path, OSTREE_REPO_MODE_BARE);
    image::ImageName name = image::ImageName::parse(imgref);
    std::unique_ptr<image::Source> src = image::open_source(name, registry::Options{});
    Progress progress(true);
    auto t0 = std::chrono::steady_clock::now();
    store::PullResult r = store::pull_image(repo.get(), *src, name, opts, progress);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("fetched={} reused={} bytes={} seconds={:.3f} commit={}\n", r.layers_fetched, r.layers_reused,
               r.bytes_fetched, s, r.image.commit);
    return 0;
  } catch (const Error& e) {
    fmt::print(stderr, "hull_bench_import: {}\n", e.what());
    return 1;
  }
}
