// `hull image rechunk`: an image's merged tree rewritten as layers grouped
// by content (by dpkg package), so that an update changes the layers of the
// packages that changed and a small metadata layer, nothing else. The idea
// of rpm-ostree's `compose build-chunked-oci` and coreos/chunkah, by dpkg
// package instead of rpm.
//
// Phases:
//   read     every layer of SRC (any transport hull reads) is imported with
//            store::import_layer into a temporary bare-user ostree repository
//            (a TempDir under /var/tmp: works for an ordinary user; needs
//            user xattrs there), then stacked with store::merge_layers,
//            /etc left where the image had it (MergeOptions). Whiteouts are
//            applied; /dev /proc /sys /run /tmp come out empty, as hull's
//            import makes them (0755, /tmp 1777: an image's 0555 /proc is
//            not kept, nor what a build left in /run).
//   walk     the merged tree: owners, modes (setuid too), xattrs, symlink
//            targets and the ostree checksum of every file.
//   plan     rechunk/group.h groups the files (rules below).
//   write    each group becomes one tar (rechunk/tar.h, deterministic) and is
//            compressed by chunked::compress_layer (zstd:chunked by default,
//            zstd, gzip), two layers at a time; the tar is produced on demand
//            from the repository, never written out uncompressed.
//   publish  a new config (the old one with rootfs.diff_ids and history
//            replaced) and an OCI manifest (the old annotations) go to DST
//            through image::Dest.
//
// Grouping (rechunk/group.h, a pure function, unit-tested):
//   - Ownership: the .list files of the dpkg database
//     (usr/lib/sysimage/dpkg/info, else var/lib/dpkg/info) map paths to
//     packages; paths are canonicalised through the tree's symlinked
//     directories (bookworm's packages list /bin/bash, the file is
//     usr/bin/bash). A path listed by several packages (diversions, files
//     moved between packages) goes to the package whose name sorts first:
//     deterministic, and the same in the next build.
//   - The unit of grouping is the source package (status "Source:", else
//     the package itself): libc6, libc-bin and libc-l10n are upgraded
//     together, so they share a layer and one glibc update changes one
//     layer, not three. Priority is read but not used: Debian's security
//     updates hit required and optional packages alike, and the source
//     predicts what changes together better. Sizes are the bytes found in
//     the tree, not Installed-Size (which counts excluded documentation).
//   - Budget of N = --max-layers (default 64, as ostree-ext: half of the
//     128 overlay layers a runtime can stack): one metadata layer; an
//     eighth of the rest for unowned files; of what remains a quarter (1..16)
//     for buckets of small sources, the others for sources that get a layer
//     of their own: the biggest sources of at least 1 MiB.
//   - Small sources go to bucket stable_hash(source) % buckets: adding,
//     removing or upgrading one package changes its own bucket and nothing
//     else (a ranking or a bin packing by size would reshuffle the others).
//   - Files no package owns (the kernel and initramfs hull's image copies
//     to /usr/lib/modules, /etc/alternatives, config written by scripts)
//     are grouped by directory (usr/lib/modules, usr/bin, etc, ...); when
//     there are more directories than slots, the biggest (>= 1 MiB) keep a
//     slot of their own and the others are hashed into a fixed half of them.
//   - The metadata layer, last: the dpkg database except each package's own
//     info files (pkg.list, pkg.md5sums, maintainer scripts change only with
//     the package and stay with it): status, status-old, available,
//     triggers, alternatives, diversions; and files that change with every
//     build: ld.so.cache, machine-id, account backups (passwd- ...), the
//     image's version stamp in usr/lib/os-release, var/cache, var/log,
//     var/lib/apt, var/lib/ucf, systemd's random seed and catalog.
//   - Every layer carries the directory entries of the ancestors of its
//     files, with the owner, mode and xattrs of the tree, so that no layer
//     needs another for its directories and the stacked layers give back
//     the tree exactly.
//
// Determinism: the same tree gives byte-identical layers (hence the same
// diff_ids, digests and manifest): entries sorted by path; one tar format
// (rechunk/tar.h: ustar + pax only where needed, numeric owners, xattrs as
// SCHILY.xattr); within a layer, a non-empty regular file with the same
// ostree checksum (same content, owner, mode and xattrs) as an earlier one
// is a hardlink to it, as in an ostree checkout, except under etc/ and var/
// (files edited in place there must not change a twin); no atime/ctime; every mtime is SOURCE_DATE_EPOCH when set,
// else 0: ostree keeps no mtimes (its checkouts have 0 too), so the input's
// mtimes are gone by the time the tree is read, and a date taken from the
// build would make every rebuild differ.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chunked/compress.h"
#include "image/dest.h"
#include "image/source.h"
#include "util/phases.h"
#include "util/progress.h"

namespace hull::rechunk {

struct Options {
  int max_layers = 64;                    // at least 2
  chunked::Format format = chunked::Format::kZstdChunked;
  std::optional<oci::Platform> platform;  // from an index; default the host's
  int jobs = 2;                           // layers written at once
  std::string tmp_dir;                    // the scratch repository; default $TMPDIR, else /var/tmp
  // Every entry's mtime; nullopt: $SOURCE_DATE_EPOCH if set, else 0.
  std::optional<uint64_t> mtime;
};

struct WrittenGroup {
  std::string created_by;   // "hull rechunk: packages libc6 libc-bin"
  oci::Descriptor desc;     // the layer blob
  oci::Digest diff_id;
  uint64_t tar_bytes = 0;   // uncompressed
  uint64_t entries = 0;     // tar entries, directories included
};

struct Result {
  oci::Digest manifest_digest;
  size_t input_layers = 0;
  uint64_t input_bytes = 0;  // compressed, as the source had them
  std::vector<WrittenGroup> layers;
  uint64_t files = 0;        // entries of the tree, directories excluded
  PhaseTimes phases;
};

// Rewrites the image `src` as content-based layers into `dst` (see above).
// Errors name the phase and the path or layer.
Result rechunk_image(image::Source& src, image::Dest& dst, const Options& opts, Progress& progress);

}  // namespace hull::rechunk
