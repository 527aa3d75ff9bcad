#!/bin/sh
# Installs everything hull needs to build, test and run its main job, from
# Debian's packages only. Idempotent: packages already present are skipped.
# Usage: scripts/install-deps.sh [build|test|bench|image|disk|e2e|builddisk|all]   (run as root)
set -eu

build_pkgs="build-essential cmake ninja-build pkg-config
  libssl-dev libcurl4-openssl-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libarchive-dev libzstd-dev zlib1g-dev libostree-dev libglib2.0-dev
  libtomlplusplus-dev libgtest-dev libgmock-dev libbenchmark-dev
  libgpgme-dev libyaml-cpp-dev"
test_pkgs="libcpp-httplib-dev docker-registry buildah skopeo apache2-utils
  busybox-static jq python3 time curl openssl ostree e2fsprogs gpg gpg-agent gpgconf zstd gzip tar"
# bench/: the benchmark image (debootstrap + buildah), a local registry, and
# the tools hull is measured against.
bench_pkgs="debootstrap buildah skopeo docker-registry time curl jq python3 ostree"
# images/debian/build.sh: the base image (debootstrap, buildah; readelf and dpkg find
# the packages of hull's libraries; jq/skopeo read the pushed manifest's sizes).
image_pkgs="debootstrap debian-archive-keyring buildah skopeo binutils jq"
# install to-disk / build-disk: partitions and filesystems written into image files
# without mounting, and the QEMU boots of the e2e tests. grub-pc-bin and
# grub-efi-amd64-bin only stand in for the image's own GRUB in unit tests (hull runs
# the GRUB of the image it installs; the host needs none).
disk_pkgs="gdisk e2fsprogs dosfstools mtools xfsprogs btrfs-progs qemu-system-x86 ovmf
  qemu-utils grub-pc-bin grub-efi-amd64-bin"
# tests/e2e and bench/boot-overhead: QEMU boots (TCG; OVMF for UEFI) driven over SSH;
# socat relays each guest connection to the test's registry (QEMU guestfwd cmd:).
e2e_pkgs="qemu-system-x86 ovmf qemu-utils openssh-client socat"
# build-disk: output formats with their own tools (qemu-img, tar, xorriso), the ISO's EFI
# image (dosfstools, mtools), SHA-512 password hashes (libcrypt), zstd layer sizes,
# containers-storage: read through buildah, and the checks of its tests (jq, ssh, sfdisk;
# uidmap for `buildah unshare` in the rootless test).
builddisk_pkgs="qemu-utils xorriso mtools dosfstools gdisk e2fsprogs libcrypt-dev libzstd-dev
  buildah jq openssh-client time fdisk uidmap"

# tests/fuzz: the libFuzzer harnesses (clang's libFuzzer, ASan and UBSan runtimes).
fuzz_pkgs="clang-14 libclang-rt-14-dev"

want="$build_pkgs"
case "${1:-all}" in
  build) ;;
  test) want="$want $test_pkgs $image_pkgs $disk_pkgs $e2e_pkgs $builddisk_pkgs $fuzz_pkgs" ;;
  bench) want="$bench_pkgs" ;;
  image) want="$image_pkgs" ;;
  disk) want="$disk_pkgs" ;;
  e2e) want="$e2e_pkgs" ;;
  builddisk) want="$builddisk_pkgs" ;;
  all) want="$want $test_pkgs $bench_pkgs $image_pkgs $disk_pkgs $e2e_pkgs $builddisk_pkgs $fuzz_pkgs" ;;
  *) echo "usage: $0 [build|test|bench|image|disk|e2e|builddisk|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing
fi
# The tests' cosign signer: Debian 13's cosign binary, fetched (not installed)
# into /var/cache/hull/cosign by scripts/get-cosign.sh.
case "${1:-all}" in
  test|all) if [ "$(id -u)" = 0 ]; then sh "$(dirname "$0")/get-cosign.sh" >/dev/null; fi ;;
esac
