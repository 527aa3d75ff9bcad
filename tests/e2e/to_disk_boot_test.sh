#!/bin/bash
# e2e smoke test of `hull install to-disk`: install the Debian base image to a
# raw disk image file (--via-loopback: nothing is mounted), then boot that one
# disk under QEMU/TCG with SeaBIOS and with OVMF and wait on the serial console
# for the login prompt. Checks on the way: the partition table, the kernel
# command line (root=UUID, ostree=, both consoles, a --karg), /boot mounted
# from fstab, no failed units, and that a second install without --wipe is
# refused. multi-user.target is reported, not required (see boot()).
#
# Not run by CTest (the journey, tests/e2e/journey_test.cc, checks the same on
# its own install and boots, and CI time is shared): a smoke test to run by hand.
#
# Usage: to_disk_boot_test.sh HULL_BINARY
# Image: $HULL_E2E_IMAGE (any --source-imgref, e.g. oci:/path:12), else
# localhost/hull-debian:12 from buildah's storage, pushed to an OCI layout
# here (tests/lib/base-image.sh builds it if it is missing).
# Environment: HULL_E2E_WORKDIR (default: a temporary directory, removed),
# BOOT_TIMEOUT seconds per boot (default 900: TCG on a loaded 2-core host).
set -euo pipefail
HULL=${1:?usage: $0 HULL_BINARY}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}
W=${HULL_E2E_WORKDIR:-$(mktemp -d /var/tmp/hull-to-disk-e2e.XXXXXX)}
KEEP=${HULL_E2E_WORKDIR:+1}
QEMU_PID=
cleanup() {
  [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null
  [ -n "$KEEP" ] || rm -rf "$W"
}
trap cleanup EXIT
log() { printf '[to-disk e2e %s] %s\n' "$(date +%T)" "$*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

. "$(dirname "$0")/../lib/base-image.sh"
need_tools qemu-system-x86_64 sgdisk mformat mkfs.ext4 buildah
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || die "no OVMF (package ovmf)"

base_image "$HULL"
IMAGE=$BASE_IMAGE
if [[ $IMAGE == containers-storage:* ]]; then
  log "exporting ${IMAGE#containers-storage:} to an OCI layout"
  buildah push -q "${IMAGE#containers-storage:}" "oci:$W/oci:12" >/dev/null
  IMAGE="oci:$W/oci:12"
fi

DISK=$W/disk.img
rm -f "$DISK"
log "install to-disk $IMAGE"
t0=$(date +%s)
"$HULL" install to-disk --via-loopback --verbose "$DISK" --source-imgref "$IMAGE" \
  --karg hull.e2e=to-disk 2>&1 | { grep -v '^note: Deploying' || true; } | tee "$W/install.log" \
  || die "install to-disk failed"
log "installed in $(( $(date +%s) - t0 )) s; $(du -h --apparent-size "$DISK" | cut -f1) apparent, $(du -h "$DISK" | cut -f1) allocated"

sgdisk -p "$DISK" > "$W/sgdisk.txt"
for want in 'EF02  BIOS-BOOT' 'EF00  EFI-SYSTEM' '8300  boot' '8304  root'; do
  grep -q "$want" "$W/sgdisk.txt" || die "partition '$want' missing: $(cat "$W/sgdisk.txt")"
done

# A disk with a partition table is not overwritten without --wipe.
if "$HULL" install to-disk --via-loopback "$DISK" --source-imgref "$IMAGE" > "$W/again.log" 2>&1; then
  die "a second install without --wipe succeeded"
fi
grep -q -- '--wipe' "$W/again.log" || die "refusal does not mention --wipe: $(cat "$W/again.log")"

# boot TAG QEMU-ARGS...: boots a copy of the disk, waits for the login prompt.
boot() {
  local tag=$1; shift
  local serial=$W/serial-$tag.log img=$W/boot-$tag.img
  cp --sparse=always "$DISK" "$img"
  log "boot $tag"
  local t0=$(date +%s)
  # virtio-rng: the guest's CRNG is ready at ~8 s instead of much later under TCG.
  qemu-system-x86_64 -accel tcg -smp 2 -m 2048 -nographic -nic none -device virtio-rng-pci \
    -drive file="$img",format=raw,if=virtio "$@" < /dev/null > "$serial" 2>&1 &
  QEMU_PID=$!
  until grep -aq 'login:' "$serial"; do
    kill -0 $QEMU_PID 2>/dev/null || die "$tag: qemu exited before the login prompt (see $serial)"
    [ $(( $(date +%s) - t0 )) -lt "$BOOT_TIMEOUT" ] || { tail -20 "$serial"; die "$tag: no login prompt in $BOOT_TIMEOUT s"; }
    sleep 2
  done
  log "$tag: login prompt after $(( $(date +%s) - t0 )) s"
  # getty prints the prompt before systemd reports multi-user.target, which
  # waits for the image's first-boot jobs (hull-ssh-keygen took minutes under
  # TCG here). That is the image's business and the journey test's; this test
  # proves the disk and the boot chain, so it only reports it.
  local t1=$(date +%s)
  until grep -aq 'Reached target .*Multi-User System' "$serial"; do
    if [ $(( $(date +%s) - t1 )) -ge 60 ]; then log "$tag: WARNING: multi-user.target not reported within 60 s of the prompt"; break; fi
    sleep 2
  done
  kill $QEMU_PID; wait $QEMU_PID 2>/dev/null || true; QEMU_PID=
  local cmdline
  cmdline=$(grep -a -m1 'Kernel command line:' "$serial") || die "$tag: no kernel command line on the console"
  for want in 'root=UUID=' ' rw ' 'console=tty0' 'console=ttyS0,115200' 'hull.e2e=to-disk' 'ostree=/ostree/boot.'; do
    [[ $cmdline == *"$want"* ]] || die "$tag: '$want' not on the kernel command line: $cmdline"
  done
  grep -aq 'Mounted .*boot.mount' "$serial" || die "$tag: /boot was not mounted"
  if grep -a 'FAILED' "$serial"; then die "$tag: failed units"; fi
  rm -f "$img"
}

boot bios
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$W/OVMF_VARS.fd"
boot uefi -machine q35 \
  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
  -drive if=pflash,format=raw,file="$W/OVMF_VARS.fd"
log "PASS"
