#!/bin/bash
# Builds the benchmark image: a Debian bookworm system (debootstrap minbase +
# a kernel, systemd, perl, python3, git, vim, ...) of >500 MB uncompressed and
# >20k files, split into 7 layers of different sizes, from Debian packages
# only. Pushes it to a registry and/or writes it as an oci: layout.
#
# Usage: bench/lib/build-bench-image.sh [--oci DIR[:TAG]] [--stats FILE] [REF]
#   REF            registry reference to push to, e.g. 127.0.0.1:5000/bench/debian:1
#                  (TLS verification is off: meant for a local registry)
#   --oci DIR:TAG  also write the image as an OCI layout (default tag: 1)
#   --stats FILE   write the image's figures as shell assignments to FILE
#
# Prints the image's uncompressed and compressed size, file count and layer
# count, and on its last line, machine-readable:
#   BENCH_IMAGE size_bytes=N compressed_bytes=N files=N entries=N layers=N
#
# Caches (in ${HULL_CACHE:-/var/tmp/hull-cache}):
#   bench-rootfs-<key>.tar   the debootstrapped tree (key = hash of suite,
#                            mirror and package list): skips debootstrap
#   bench-image-<key>/       the built image as a compressed OCI layout plus
#                            stats.env (key also covers the layer split): a
#                            warm run only copies it to the destination(s)
# Delete them to rebuild. Environment: HULL_CACHE, BENCH_SUITE (bookworm),
# BENCH_MIRROR (http://deb.debian.org/debian), BENCH_PACKAGES (the extra
# packages, space separated), BENCH_STORAGE_DRIVER (overlay, falls back to vfs),
# BENCH_TMP (scratch dir; default /dev/shm when it and RAM have room, else the cache).
# Needs root, debootstrap, buildah, skopeo, tar, jq (scripts/install-deps.sh bench).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

oci_out="" stats_out="" ref=""
while [ $# -gt 0 ]; do
  case "$1" in
    --oci) oci_out=${2:?--oci needs DIR[:TAG]}; shift 2 ;;
    --oci=*) oci_out=${1#--oci=}; shift ;;
    --stats) stats_out=${2:?--stats needs FILE}; shift 2 ;;
    --stats=*) stats_out=${1#--stats=}; shift ;;
    -h|--help) usage ;;
    -*) echo "build-bench-image: unknown option $1" >&2; usage ;;
    *) [ -z "$ref" ] || usage; ref=$1; shift ;;
  esac
done
[ -n "$ref" ] || [ -n "$oci_out" ] || usage
ref=${ref#docker://}

suite=${BENCH_SUITE:-bookworm}
mirror=${BENCH_MIRROR:-http://deb.debian.org/debian}
variant=minbase
# A small bootable-host-like system: the kernel (its modules are the bulk),
# systemd, networking and ssh, and the usual interpreters and tools.
packages=${BENCH_PACKAGES:-"linux-image-amd64 systemd systemd-sysv udev kmod
  dbus iproute2 openssh-server ca-certificates curl less locales vim perl
  python3 python3-pip git"}
packages=$(printf '%s\n' $packages | sort -u | tr '\n' ' ')
packages=${packages% }

# Layers: name and the subtrees (path prefixes) each one holds. A path goes to
# the layer with the longest prefix that it is or lies under; everything else
# (etc, var, the top-level dirs and symlinks, usr itself, ...) goes to "base".
# Image order is the order here.
layer_specs=(
  "base:"
  "bin:usr/bin usr/sbin"
  "libs:usr/lib/x86_64-linux-gnu"
  "lib:usr/lib"
  "share:usr/share"
  "modules:usr/lib/modules"
  "boot:boot"
)
layout_version=2   # bump when the way layers are made changes

cache=${HULL_CACHE:-/var/tmp/hull-cache}
rootfs_key=$(printf '%s\n' "$suite" "$variant" "$mirror" "$packages" | sha256sum | cut -c1-12)
image_key=$(printf '%s\n' "$rootfs_key" "$layout_version" "${layer_specs[@]}" | sha256sum | cut -c1-12)
rootfs_tar=$cache/bench-rootfs-$rootfs_key.tar
image_dir=$cache/bench-image-$image_key
image_tag=1

log() { echo "build-bench-image: $*" >&2; }
die() { log "$*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
for tool in debootstrap buildah skopeo tar jq; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh bench)"
done

mkdir -p "$cache"
exec 9>"$cache/.bench-image.lock"
flock 9   # one builder at a time; a second one then finds the cache warm

work=""
buildah_root=""
cleanup() {
  if [ -n "$buildah_root" ] && [ -d "$buildah_root" ]; then
    buildah --root "$buildah_root/root" --runroot "$buildah_root/run" \
      --storage-driver "$driver" rmi --all --force >/dev/null 2>&1 || true
    umount -R "$buildah_root/root/overlay" 2>/dev/null || true
  fi
  if [ -n "$work" ] && [ -d "$work" ]; then
    # never follow into a still-mounted chroot /proc
    for m in proc sys dev/pts dev; do umount "$work/rootfs/$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
# Scratch space: the tree, the layer tars and buildah's storage (~3 GB at
# peak). tmpfs when there is room: dpkg's fsyncs and tens of thousands of small
# files cost minutes on a disk, nothing in RAM.
scratch=${BENCH_TMP:-}
if [ -z "$scratch" ]; then
  scratch=$cache
  shm_free_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
  mem_free_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
  if [ "${shm_free_kb:-0}" -gt $((5 * 1024 * 1024)) ] && [ "${mem_free_kb:-0}" -gt $((8 * 1024 * 1024)) ]; then
    scratch=/dev/shm
  fi
fi
work=$(mktemp -d "$scratch/hull-bench-image.XXXXXX")
driver=${BENCH_STORAGE_DRIVER:-overlay}

t_total=$(now)

# --- 1. the root filesystem (cached tarball) ---------------------------------
if [ ! -f "$rootfs_tar" ]; then
  log "debootstrap $variant $suite + [$packages] (cold cache; a few minutes)"
  t=$(now)
  rootfs=$work/rootfs
  debootstrap --variant="$variant" --include="${packages// /,}" \
    "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
      tail -n 30 "$work/debootstrap.log" >&2
      [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
      die "debootstrap failed"
    }
  # What a container image build would drop: downloaded .debs, apt lists.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
  : >"$rootfs/etc/machine-id"
  log "debootstrap took $(since "$t") s"
  tar -C "$rootfs" --numeric-owner --xattrs --xattrs-include='*' \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    --exclude='./run/*' --exclude='./tmp/*' --exclude='./debootstrap' \
    -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  log "cached $rootfs_tar ($(du -m "$rootfs_tar" | cut -f1) MiB)"
  rm -rf --one-file-system "$rootfs"
else
  log "rootfs from cache: $rootfs_tar"
fi

# --- 2. the image (cached OCI layout) ----------------------------------------
if [ ! -f "$image_dir/stats.env" ]; then
  t=$(now)
  rootfs=$work/rootfs
  mkdir -p "$rootfs" "$work/ctx"
  tar -C "$rootfs" --numeric-owner --xattrs --xattrs-include='*' -xpf "$rootfs_tar"

  # Every prefix of every layer, to prune more specific subtrees.
  all_prefixes=()
  for spec in "${layer_specs[@]}"; do
    for p in ${spec#*:}; do all_prefixes+=("$p"); done
  done
  containerfile=$work/ctx/Containerfile
  echo "FROM scratch" >"$containerfile"
  size_bytes=0 files=0 entries=0
  for spec in "${layer_specs[@]}"; do
    name=${spec%%:*}
    prefixes=${spec#*:}
    list=$work/$name.list
    : >"$list"
    # find over the layer's own subtrees (or the whole tree for base), pruning
    # the subtrees of the other, more specific layers.
    roots=()
    if [ -z "$prefixes" ]; then roots=(. -mindepth 1); else for p in $prefixes; do [ -e "$rootfs/$p" ] && roots+=("./$p"); done; fi
    prune=()
    for q in "${all_prefixes[@]}"; do
      skip=0
      for p in $prefixes; do [ "$q" = "$p" ] && skip=1; done
      [ $skip = 1 ] || prune+=(-o -path "./$q")
    done
    [ ${#roots[@]} = 0 ] ||
      (cd "$rootfs" && find "${roots[@]}" \( -false "${prune[@]}" \) -prune -o -print0) >"$list"
    tar -C "$rootfs" --numeric-owner --xattrs --xattrs-include='*' \
      --no-recursion --null -T "$list" -cf "$work/ctx/$name.tar"
    n_entries=$(tr -cd '\0' <"$list" | wc -c)
    n_files=$(cd "$rootfs" && xargs -0 -r stat -c %F <"$list" | grep -vc '^directory$' || true)
    bytes=$(cd "$rootfs" && xargs -0 -r stat -c '%F %s' <"$list" |
            awk '$0 ~ /^regular/ { s += $NF } END { printf "%d", s }')
    size_bytes=$((size_bytes + bytes)) files=$((files + n_files)) entries=$((entries + n_entries))
    printf '  layer %-8s %6d MiB %6d files  (%s)\n' "$name" $((bytes / 1048576)) "$n_files" \
      "${prefixes:-the rest}" >&2
    echo "ADD $name.tar /" >>"$containerfile"
  done
  # A bootc image says so; metadata only, adds no layer.
  echo "LABEL containers.bootc=1" >>"$containerfile"
  rm -rf --one-file-system "$rootfs"
  log "layer tars made in $(since "$t") s"

  t_bud=$(now)
  mkdir -p "$work/buildah"
  buildah_root=$work/buildah
  B() { buildah --root "$buildah_root/root" --runroot "$buildah_root/run" --storage-driver "$driver" "$@"; }
  if ! B bud --quiet --isolation chroot --layers --format oci \
         -t localhost/hull-bench/debian:$image_tag "$work/ctx" >"$work/bud.log" 2>&1; then
    if [ "$driver" = overlay ]; then
      log "buildah bud with overlay failed ($(tail -n 1 "$work/bud.log")); retrying with vfs"
      B rmi --all --force >/dev/null 2>&1 || true
      rm -rf --one-file-system "$buildah_root"; mkdir -p "$buildah_root"
      driver=vfs
      B bud --quiet --isolation chroot --layers --format oci \
        -t localhost/hull-bench/debian:$image_tag "$work/ctx" >"$work/bud.log" 2>&1 ||
        { cat "$work/bud.log" >&2; die "buildah bud failed"; }
    else
      cat "$work/bud.log" >&2; die "buildah bud failed"
    fi
  fi
  rm -f "$work"/ctx/*.tar
  log "buildah bud ($driver) took $(since "$t_bud") s"
  t_push=$(now)
  rm -rf "$image_dir.tmp"
  B push --quiet localhost/hull-bench/debian:$image_tag "oci:$image_dir.tmp:$image_tag" >&2 ||
    die "buildah push to the cache layout failed"
  manifest=$(jq -r '.manifests[0].digest' "$image_dir.tmp/index.json")
  mfile=$image_dir.tmp/blobs/sha256/${manifest#sha256:}
  layers=$(jq '.layers | length' "$mfile")
  compressed_bytes=$(jq '[.layers[].size] | add' "$mfile")
  cat >"$image_dir.tmp/stats.env" <<EOF
size_bytes=$size_bytes
compressed_bytes=$compressed_bytes
files=$files
entries=$entries
layers=$layers
manifest=$manifest
packages="$packages"
EOF
  log "buildah push (gzip) to the cache layout took $(since "$t_push") s"
  B rmi --all --force >/dev/null 2>&1 || true
  rm -rf "$image_dir"
  mv "$image_dir.tmp" "$image_dir"
  log "image built with buildah ($driver) in $(since "$t") s, cached in $image_dir"
else
  log "image from cache: $image_dir"
fi

# --- 3. copy to the destinations ---------------------------------------------
# skopeo copies the cached compressed blobs as they are (no recompression), so
# every destination gets the same digests.
. "$image_dir/stats.env"
if [ -n "$ref" ]; then
  t=$(now)
  skopeo copy --quiet --dest-tls-verify=false \
    "oci:$image_dir:$image_tag" "docker://$ref" || die "push to docker://$ref failed"
  log "pushed to docker://$ref in $(since "$t") s"
fi
if [ -n "$oci_out" ]; then
  case "$oci_out" in *:*) ;; *) oci_out=$oci_out:1 ;; esac
  skopeo copy --quiet "oci:$image_dir:$image_tag" "oci:$oci_out" || die "copy to oci:$oci_out failed"
  log "wrote oci:$oci_out"
fi
if [ -n "$stats_out" ]; then
  cp "$image_dir/stats.env" "$stats_out"
fi

mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
echo "bench image: $(mib "$size_bytes") MiB uncompressed, $(mib "$compressed_bytes") MiB compressed," \
  "$files files ($entries entries), $layers layers; ready in $(since "$t_total") s"
echo "BENCH_IMAGE size_bytes=$size_bytes compressed_bytes=$compressed_bytes files=$files entries=$entries layers=$layers"
