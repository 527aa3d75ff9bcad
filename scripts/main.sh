#!/bin/bash
# The main job on a fresh machine: install dependencies, build hull, build the
# Debian base image (localhost/hull-debian:12) with hull inside, install it to
# a disk image with `hull install to-disk`, boot that disk under QEMU (TCG,
# SeaBIOS) and ask the booted system for its status over SSH.
# README runs it as `sh scripts/main.sh`: under dash, start again in bash.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh all
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build hull
HULL=$PWD/build/src/cli/hull
WORK=$(mktemp -d /var/tmp/hull-main.XXXXXX)
. tests/e2e/vm.sh
cleanup() { vm_kill || true; rm -rf "$WORK"; }
trap cleanup EXIT

echo "== 1. the Debian base image (cached rootfs: ${HULL_CACHE:-/var/tmp/hull-cache})"
t0=$(date +%s)
images/debian/build.sh --hull "$HULL" --output "oci:$WORK/hull-debian:12"
echo "   built in $(( $(date +%s) - t0 )) s"

echo "== 2. hull install to-disk"
ssh-keygen -q -t ed25519 -N "" -f "$WORK/key"
t0=$(date +%s)
# The host follows the image's own name (what buildah calls it, and where it
# would be pushed), not the build machine's $WORK: bootc status on the host
# shows localhost/hull-debian:12 (transport registry), and `bootc upgrade`
# there says in one line that it cannot reach it. Checked by sysroot_test.
TARGET_IMGREF=localhost/hull-debian:12
"$HULL" install to-disk --via-loopback --source-imgref "oci:$WORK/hull-debian:12" --target-imgref "$TARGET_IMGREF" \
  --root-ssh-authorized-keys "$WORK/key.pub" "$WORK/disk.raw"
echo "   disk.raw in $(( $(date +%s) - t0 )) s: $(du -h --apparent-size "$WORK/disk.raw" | cut -f1) apparent," \
     "$(du -h "$WORK/disk.raw" | cut -f1) allocated"

echo "== 3. boot it (qemu -accel tcg, SeaBIOS)"
VM_WORKDIR=$WORK VM_KEY=$WORK/key
vm_start main "$WORK/disk.raw"
echo "   login prompt after $(vm_wait_for 'login:' 900) s"
vm_wait_ssh 300
vm_ssh 'systemctl is-system-running --wait || true; findmnt -no TARGET,OPTIONS /usr; bootc status; systemd-analyze'
vm_poweroff
echo "== done"
