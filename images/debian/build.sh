#!/bin/bash
# Builds localhost/hull-debian:12, hull's bootable Debian 12 base image, from Debian
# packages only, in two stages:
#   1. rootfs.sh: debootstrap + packages + kernel/initramfs + ostree/bootc layout -> a tar,
#      cached as ${HULL_CACHE:-/var/tmp/hull-cache}/debian-rootfs-<key>.tar, where <key>
#      hashes the package list, rootfs.sh and files/ (reruns skip stage 1);
#   2. Containerfile, with `buildah bud --isolation chroot`: rootfs + hull + labels;
#   3. (default) `hull image rechunk`: the image rewritten as layers by dpkg package
#      (src/rechunk/rechunk.h), then put back under the same name in buildah's storage;
#      --output/--push publish that rechunked image with `hull image copy`, keeping its
#      layers (and their zstd:chunked format) as they are.
#
# Usage: images/debian/build.sh [--hull PATH] [--output oci:DIR:TAG | --push docker://REF]
#                               [--tag NAME] [--version V] [--no-cache] [--no-measure]
#   --hull PATH     the hull binary to install as /usr/bin/hull (default: build/src/cli/hull)
#   --output REF    also write the image to an OCI layout (oci:DIR:TAG) or any buildah
#                   push destination
#   --push REF      push to a registry, e.g. docker://127.0.0.1:5000/hull-debian:12
#                   (TLS verification off: meant for the loopback registry of the tests)
#   --tag NAME      image name in buildah's storage (default localhost/hull-debian:12)
#   --version V     org.opencontainers.image.version (default 12.YYYYMMDD.N, N counts up)
#   --no-cache      rebuild stage 1 even if its tar is cached (e.g. for new security fixes)
#   --no-measure    skip the compressed-size measurement when no --output/--push is given
#   --no-strip      install hull with its debug info (default: strip --strip-debug)
#   --no-rechunk    keep buildah's layers (one big rootfs layer) instead of rechunking
#   --max-layers N  rechunk into at most N layers (default 64)
#   --compress-format F  layers of the rechunked image: zstd:chunked (default), zstd, gzip
# Environment:
#   HULL_CACHE      cache directory (default /var/tmp/hull-cache)
#   BUILDAH_ARGS    global buildah options for every buildah call, e.g.
#                   "--root /tmp/s/root --runroot /tmp/s/run [--storage-driver vfs]"
#   BUD_ARGS        extra options for `buildah bud`
#   DEBIAN_MIRROR   default http://deb.debian.org/debian
#   SKIP_INSTALL_DEPS=1  do not call scripts/install-deps.sh image
# Needs root (debootstrap, chroot, mounts).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
HULL_BIN=$REPO/build/src/cli/hull
OUTPUT=; PUSH=; TAG=localhost/hull-debian:12; VERSION=; NO_CACHE=0; MEASURE=1; STRIP=1
RECHUNK=1; MAX_LAYERS=64; COMPRESS=zstd:chunked
CACHE=${HULL_CACHE:-/var/tmp/hull-cache}

die() { echo "build.sh: $*" >&2; exit 1; }
log() { printf '[hull-debian %s] %s\n' "$(date +%T)" "$*" >&2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --hull) HULL_BIN=${2:?}; shift 2 ;;
    --output) OUTPUT=${2:?}; shift 2 ;;
    --push) PUSH=${2:?}; shift 2 ;;
    --tag) TAG=${2:?}; shift 2 ;;
    --version) VERSION=${2:?}; shift 2 ;;
    --no-cache) NO_CACHE=1; shift ;;
    --no-measure) MEASURE=0; shift ;;
    --no-strip) STRIP=0; shift ;;
    --no-rechunk) RECHUNK=0; shift ;;
    --max-layers) MAX_LAYERS=${2:?}; shift 2 ;;
    --compress-format) COMPRESS=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "build.sh: unknown argument: $1" >&2; usage ;;
  esac
done
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mounts)"
case $PUSH in ""|docker://*) ;; *) die "--push wants docker://HOST/NAME:TAG, got $PUSH" ;; esac

[ "${SKIP_INSTALL_DEPS:-0}" = 1 ] || "$REPO/scripts/install-deps.sh" image

[ -f "$HULL_BIN" ] && [ -x "$HULL_BIN" ] \
  || die "no hull binary at $HULL_BIN (build it: cmake --build build; or pass --hull PATH)"
HULL_BIN=$(readlink -f "$HULL_BIN")

read -r -a BUILDAH_GLOBAL <<< "${BUILDAH_ARGS:-}"
read -r -a BUD_EXTRA <<< "${BUD_ARGS:-}"
bh() { buildah ${BUILDAH_GLOBAL[@]+"${BUILDAH_GLOBAL[@]}"} "$@"; }

# containers-storage:[DRIVER@ROOT+RUNROOT] for skopeo: the storage that BUILDAH_ARGS names
storage_ref() {
  local i a driver= root= runroot=
  for ((i = 0; i < ${#BUILDAH_GLOBAL[@]}; i++)); do
    a=${BUILDAH_GLOBAL[i]}
    case $a in
      --root) root=${BUILDAH_GLOBAL[i+1]} ;;          --root=*) root=${a#--root=} ;;
      --runroot) runroot=${BUILDAH_GLOBAL[i+1]} ;;    --runroot=*) runroot=${a#--runroot=} ;;
      --storage-driver) driver=${BUILDAH_GLOBAL[i+1]} ;; --storage-driver=*) driver=${a#--storage-driver=} ;;
    esac
  done
  if [ -z "$root$runroot$driver" ]; then echo "containers-storage:"; return; fi
  echo "containers-storage:[${driver:+$driver@}${root:-/var/lib/containers/storage}+${runroot:-/run/containers/storage}]"
}

T_START=$(date +%s)
mkdir -p "$CACHE"

# ---------------------------------------------------------------- package list
# What makes the machine boot and be managed by hull, then the libraries hull links or is
# about to (listed so that the cache key does not move with every hull build; ldd adds
# any other).
# ostree: the CLI is kept because ostree-boot depends on it (and it helps debugging).
# e2fsprogs, dosfstools: fsck of / and of the ESP at boot; fdisk (sfdisk): partitioning
# when `hull install` runs from inside the image. Network: systemd-networkd (DHCP, in the
# systemd package) + systemd-resolved (DNS from DHCP).
PKGS=(linux-image-amd64 systemd systemd-sysv systemd-resolved udev dbus dracut ostree-boot ostree
      grub-pc-bin grub-efi-amd64-bin openssh-server ca-certificates iproute2
      e2fsprogs dosfstools fdisk mtools
      libc6 libstdc++6 libgcc-s1 libcurl4 libarchive13 libfmt9 libostree-1-1 libglib2.0-0
      libssl3 libzstd1 zlib1g libtomlplusplus3)

# The Debian package of every library the hull binary needs directly (DT_NEEDED), found
# with ldd (where) and dpkg -S (which package; the host runs bookworm as the image does).
hull_lib_pkgs() {
  local bin=$1 lib path pkg
  local -a needed
  mapfile -t needed < <(readelf -d "$bin" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
  for lib in "${needed[@]}"; do
    path=$(ldd "$bin" | awk -v l="$lib" '$1 == l && $2 == "=>" { print $3 }')
    [ -n "$path" ] && [ "$path" != "not" ] || die "hull needs $lib, which ldd cannot find on this host"
    pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null \
          || dpkg -S "$(readlink -f "$path")" 2>/dev/null) \
      || die "hull needs $lib ($path), which is not from a Debian package"
    echo "${pkg%%:*}"
  done
}
HULL_PKGS=$(hull_lib_pkgs "$HULL_BIN")       # (not in <(...): a failure must stop us)
# shellcheck disable=SC2086 # one package a line; split on purpose
mapfile -t PKGS < <(printf '%s\n' "${PKGS[@]}" $HULL_PKGS | sort -u)

# ---------------------------------------------------------------- stage 1 (cached)
recipe_digest() {
  printf '%s\n' "${PKGS[@]}"
  sha256sum "$HERE/rootfs.sh" | cut -d' ' -f1
  (cd "$HERE/files" && find . -mindepth 1 | LC_ALL=C sort | while read -r f; do
     if [ -L "$f" ]; then echo "link $f $(readlink "$f")"
     elif [ -d "$f" ]; then echo "dir $f"
     else echo "file $f $(test -x "$f" && echo x) $(sha256sum < "$f" | cut -d' ' -f1)"; fi
   done)
}
KEY=$(recipe_digest | sha256sum | cut -c1-16)
TAR=$CACHE/debian-rootfs-$KEY.tar
INFO=$TAR.info            # KEY=VALUE facts about the cached tar (kernel, build time, ...)

build_stage1() {
  local work t0 t1
  work=$(mktemp -d "$CACHE/.debian-work.XXXXXX")
  log "stage 1: building the rootfs ($KEY, ${#PKGS[@]} packages); debs cached in $CACHE/debs"
  t0=$(date +%s)
  if ! DEB_CACHE=$CACHE/debs "$HERE/rootfs.sh" "$work" "$TAR" "${PKGS[@]}"; then
    log "stage 1 failed; logs in $work"; return 1
  fi
  t1=$(date +%s)
  {
    echo "kver=$(cat "$work/kver")"
    echo "stage1_seconds=$((t1 - t0))"
    echo "built=$(date -u +%FT%TZ)"
    echo "packages=${PKGS[*]}"
  } > "$INFO.tmp"
  mv "$INFO.tmp" "$INFO"
  # rootfs.sh removed the tree; keep its logs (debootstrap, apt, dracut, lsinitrd) beside the tar
  rm -rf "$TAR.logs"; mv "$work" "$TAR.logs"
  # keep this rootfs and the newest other one (another hull build may link other libraries)
  local old
  ls -t "$CACHE"/debian-rootfs-*.tar | { grep -vxF "$TAR" || true; } | tail -n +2 | while read -r old; do
    log "stage 1: removing old cache entry $old"
    rm -rf "$old" "$old.info" "$old.logs"
  done
}

S1_T0=$(date +%s)
exec 9> "$CACHE/.debian-rootfs.lock"
flock 9                                    # one stage-1 build at a time per cache
if [ "$NO_CACHE" = 1 ] || [ ! -f "$TAR" ] || [ ! -f "$INFO" ]; then
  build_stage1
  S1_STATE=built
else
  S1_STATE=cached
  log "stage 1: cached $TAR"
fi
flock -u 9
S1_SECONDS=$(( $(date +%s) - S1_T0 ))
S1_COLD_SECONDS=$(sed -n 's/^stage1_seconds=//p' "$INFO")

# ---------------------------------------------------------------- stage 2 (buildah)
if [ -z "$VERSION" ]; then
  today=12.$(date -u +%Y%m%d)
  prev=$(bh inspect --type image --format '{{index .OCIv1.Config.Labels "org.opencontainers.image.version"}}' \
           "$TAG" 2>/dev/null || true)
  case $prev in
    "$today".[0-9]*) VERSION=$today.$(( ${prev##*.} + 1 )) ;;
    *) VERSION=$today.0 ;;
  esac
fi

CTX=$(mktemp -d "$CACHE/.debian-ctx.XXXXXX")
MEASURE_DIR=
RDIR=
cleanup() { rm -rf --one-file-system "$CTX" ${MEASURE_DIR:+"$MEASURE_DIR"} ${RDIR:+"$RDIR"}; }
trap cleanup EXIT
ln "$TAR" "$CTX/rootfs.tar" 2>/dev/null || cp "$TAR" "$CTX/rootfs.tar"
if [ "$STRIP" = 1 ]; then
  strip --strip-debug -o "$CTX/hull" "$HULL_BIN"      # symbols stay (backtraces), DWARF goes
else
  cp "$HULL_BIN" "$CTX/hull"
fi
cp "$HERE/Containerfile" "$CTX/Containerfile"
# hull's own files (units, drop-ins, defaults), rooted at /
mkdir "$CTX/hull-files"
tar -C "$REPO/dist" --exclude=README.md --owner=0 --group=0 -c . | tar -C "$CTX/hull-files" -x

log "stage 2: buildah bud -> $TAG ($VERSION)"
S2_T0=$(date +%s)
bh bud --isolation chroot --layers --format oci \
   --build-arg IMAGE_VERSION="$VERSION" \
   ${BUD_EXTRA[@]+"${BUD_EXTRA[@]}"} \
   -f "$CTX/Containerfile" -t "$TAG" "$CTX" >&2
S2_SECONDS=$(( $(date +%s) - S2_T0 ))
IMAGE_ID=$(bh inspect --type image --format '{{.FromImageID}}' "$TAG")

# ---------------------------------------------------------------- stage 3 (rechunk)
# The image as layers by dpkg package: pushed out of buildah's storage into an OCI layout,
# rechunked into another, pulled back under the same name. The rechunked layout is kept
# (RECHUNKED) so that --output/--push publish its blobs as written.
R_SECONDS=0; R_LAYERS=
RECHUNKED=
if [ "$RECHUNK" = 1 ]; then
  R_T0=$(date +%s)
  RDIR=$(mktemp -d "$CACHE/.debian-rechunk.XXXXXX")
  log "stage 3: hull image rechunk ($MAX_LAYERS layers at most, $COMPRESS)"
  bh push --quiet "$TAG" "oci:$RDIR/in:built" >&2
  # rechunk's scratch repository ($TMPDIR) on tmpfs when there is room: it
  # writes and deletes ~11,000 small files (12 s on this disk, 8.7 s on tmpfs).
  scratch=${TMPDIR:-}
  if [ -z "$scratch" ] && [ -d /dev/shm ] &&
     [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt $((4 * 1024 * 1024)) ]; then
    scratch=/dev/shm
  fi
  TMPDIR=${scratch:-/var/tmp} "$HULL_BIN" image rechunk --max-layers "$MAX_LAYERS" --dest-compress-format "$COMPRESS" \
      "oci:$RDIR/in:built" "oci:$RDIR/out:rechunked" >&2
  rm -rf "$RDIR/in"
  RECHUNKED="oci:$RDIR/out:rechunked"
  # skopeo, not `buildah pull`: buildah names an oci: image after its directory
  skopeo copy --quiet "$RECHUNKED" "$(storage_ref)$TAG" >&2
  IMAGE_ID=$(bh inspect --type image --format '{{.FromImageID}}' "$TAG")
  R_LAYERS=$(jq '.layers | length' "$RDIR/out/blobs/sha256/$(jq -r '.manifests[-1].digest' "$RDIR/out/index.json" | cut -d: -f2)")
  R_SECONDS=$(( $(date +%s) - R_T0 ))
fi

# ---------------------------------------------------------------- output
# compressed size = config + compressed layers, as a registry stores them
manifest_size_oci() {   # DIR TAG -> bytes
  local dir=$1 ref=$2 mdigest
  mdigest=$(jq -r --arg r "$ref" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
            "$dir/index.json" | tail -1)
  jq '[.config.size] + [.layers[].size] | add' "$dir/blobs/${mdigest%%:*}/${mdigest#*:}"
}
# publish REF: the rechunked layout as written (hull image copy), else buildah push
publish() {
  local dest=$1; shift
  if [ -n "$RECHUNKED" ] && case $dest in oci:*|oci-archive:*|docker://*) true ;; *) false ;; esac; then
    "$HULL_BIN" image copy --quiet "$@" "$RECHUNKED" "$dest" >&2
  else
    bh push --quiet "$@" "$TAG" "$dest" >&2
  fi
}
P_T0=$(date +%s)
COMPRESSED=
if [ -n "$RECHUNKED" ]; then
  d=${RECHUNKED#oci:}; COMPRESSED=$(manifest_size_oci "${d%%:*}" rechunked)
fi
if [ -n "$OUTPUT" ]; then
  log "push $TAG -> $OUTPUT"
  publish "$OUTPUT"
  case $OUTPUT in
    oci:*) d=${OUTPUT#oci:}; ref=${d#*:}; d=${d%%:*}; [ "$ref" = "$d" ] && ref=
           [ -n "$ref" ] && COMPRESSED=$(manifest_size_oci "$d" "$ref") ;;
  esac
fi
if [ -n "$PUSH" ]; then
  log "push $TAG -> $PUSH"
  if [ -n "$RECHUNKED" ]; then publish "$PUSH" --dest-tls-verify=false; else publish "$PUSH" --tls-verify=false; fi
  if [ -z "$COMPRESSED" ] && command -v skopeo > /dev/null; then
    COMPRESSED=$(skopeo inspect --raw --tls-verify=false "$PUSH" | jq '[.config.size] + [.layers[].size] | add')
  fi
fi
if [ -z "$COMPRESSED" ] && [ "$MEASURE" = 1 ]; then
  MEASURE_DIR=$(mktemp -d "$CACHE/.debian-measure.XXXXXX")
  bh push --quiet "$TAG" "oci:$MEASURE_DIR:measure" >&2
  COMPRESSED=$(manifest_size_oci "$MEASURE_DIR" measure)
fi
P_SECONDS=$(( $(date +%s) - P_T0 ))

mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1000000 }'; }
{
  echo "hull-debian: $TAG  version $VERSION  image ${IMAGE_ID:0:12}"
  echo "  kernel:            $(sed -n 's/^kver=//p' "$INFO")"
  echo "  packages:          ${#PKGS[@]} requested (${PKGS[*]})"
  echo "  rootfs (tar):      $(mb "$(stat -c %s "$TAR")")  $TAR"
  if [ -n "$COMPRESSED" ]; then
    if [ -n "$RECHUNKED" ]; then
      echo "  image, compressed: $(mb "$COMPRESSED") ($R_LAYERS layers by package, $COMPRESS, + config)"
    else
      echo "  image, compressed: $(mb "$COMPRESSED") (gzip'd layers + config, as pushed)"
    fi
  else
    echo "  image, compressed: not measured"
  fi
  if [ "$S1_STATE" = built ]; then
    echo "  stage 1 (rootfs):  ${S1_SECONDS} s, built (cold)"
  else
    echo "  stage 1 (rootfs):  ${S1_SECONDS} s, cached (cold build took ${S1_COLD_SECONDS} s)"
  fi
  echo "  stage 2 (buildah): ${S2_SECONDS} s"
  [ "$RECHUNK" = 1 ] && echo "  stage 3 (rechunk): ${R_SECONDS} s"
  echo "  push/measure:      ${P_SECONDS} s"
  echo "  total:             $(( $(date +%s) - T_START )) s"
} | tee "$CACHE/hull-debian-last-build.txt"
