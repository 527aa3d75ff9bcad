#!/bin/bash
# e2e test of `hull build-disk`: builds a qcow2 from the Debian base image with
# a bootc-image-builder config (a user with a password, an SSH key and
# supplementary groups, a new group, a kernel argument, a root minimum size, a
# partition of its own for /var/data),
# then boots it under QEMU/TCG on SeaBIOS (and OVMF with HULL_E2E_FULL=1) and logs in over SSH
# (hostfwd on 127.0.0.1) as that user with that key: checks the groups, the
# kernel command line, the home directory, the root filesystem's size and the
# /var/data mount.
# With --iso (or HULL_E2E_ISO=1): also builds the installer ISO, boots it with
# a blank disk under OVMF (and SeaBIOS with HULL_E2E_FULL=1), lets it install,
# and boots the installed disk.
#
# Usage: build_disk_boot_test.sh HULL_BINARY [--iso|--iso-only]
# Image: $HULL_E2E_IMAGE (oci:DIR:TAG ...), else localhost/hull-debian:12 from
# buildah's storage (read through containers-storage:, which tests that path;
# tests/lib/base-image.sh builds it if it is missing). HULL_E2E_WORKDIR keeps
# the work directory.
set -euo pipefail
HULL=${1:?usage: $0 HULL_BINARY [--iso|--iso-only]}
MODE=${2:-${HULL_E2E_ISO:+--iso}}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-420}
# CI boots the qcow2 on SeaBIOS and the ISO on OVMF (with the e2e journey,
# every firmware is covered once); HULL_E2E_FULL=1 boots both on both.
FULL=${HULL_E2E_FULL:-}
ISO_FIRMWARES=uefi
[ -z "$FULL" ] || ISO_FIRMWARES="bios uefi"
W=${HULL_E2E_WORKDIR:-$(mktemp -d /var/tmp/hull-build-disk-e2e.XXXXXX)}
KEEP=${HULL_E2E_WORKDIR:+1}
mkdir -p "$W"
QEMU_PID=
cleanup() {
  if [ -n "$QEMU_PID" ]; then kill "$QEMU_PID" 2>/dev/null || true; wait "$QEMU_PID" 2>/dev/null || true; fi
  [ -n "$KEEP" ] || rm -rf "$W"
}
trap cleanup EXIT
log() { printf '[build-disk e2e %s] %s\n' "$(date +%T)" "$*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

. "$(dirname "$0")/../lib/base-image.sh"
need_tools qemu-system-x86_64 qemu-img ssh ssh-keygen buildah
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || die "no OVMF (package ovmf)"
base_image "$HULL"
IMAGE=$BASE_IMAGE

ssh-keygen -q -t ed25519 -N '' -C hull-e2e -f "$W/key"
cat > "$W/config.toml" <<TOML
[[customizations.user]]
name = "alice"
password = "hull-e2e-secret"
key = "$(cat "$W/key.pub")"
groups = ["sudo", "hullers"]

[[customizations.group]]
name = "hullers"
gid = 2345

[customizations.kernel]
append = "hull.bd=e2e mitigations=auto"

[[customizations.filesystem]]
mountpoint = "/"
minsize = "12 GiB"

[[customizations.filesystem]]
mountpoint = "/var/data"
minsize = "1 GiB"
TOML

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SSH_PORT=
gssh() {  # gssh USER CMD: runs CMD in the guest
  local user=$1; shift
  timeout -k 5 60 ssh -i "$W/key" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 -p "$SSH_PORT" "$user@127.0.0.1" "$@"
}
# start_vm TAG DISK FORMAT [QEMU-ARGS...]: QEMU in the background, serial log in $W/serial-TAG.log
start_vm() {
  local tag=$1 disk=$2 fmt=$3; shift 3
  SSH_PORT=$(free_port)
  # virtio-rng: the guest's SSH host keys are made at first boot (see to_disk_boot_test.sh).
  qemu-system-x86_64 -accel tcg -smp 2 -m 2048 -nographic -device virtio-rng-pci \
    -nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22" \
    -drive "file=$disk,format=$fmt,if=virtio" "$@" < /dev/null > "$W/serial-$tag.log" 2>&1 &
  QEMU_PID=$!
}
stop_vm() { kill "$QEMU_PID" 2>/dev/null || true; wait "$QEMU_PID" 2>/dev/null || true; QEMU_PID=; }
# wait_ssh TAG USER: until USER gets a shell over SSH
wait_ssh() {
  local tag=$1 user=$2 t0; t0=$(date +%s)
  until gssh "$user" true 2>/dev/null; do
    kill -0 "$QEMU_PID" 2>/dev/null || { tail -20 "$W/serial-$tag.log"; die "$tag: QEMU exited"; }
    [ $(( $(date +%s) - t0 )) -lt "$BOOT_TIMEOUT" ] || { tail -30 "$W/serial-$tag.log"; die "$tag: no SSH login as $user in $BOOT_TIMEOUT s"; }
    sleep 3
  done
  log "$tag: SSH login as $user after $(( $(date +%s) - t0 )) s"
}
# check_guest TAG: the config's effects, seen from inside
check_guest() {
  local tag=$1 out
  out=$(gssh alice 'id -nG; echo; cat /proc/cmdline; echo; stat -c "%U %a" ~ ~/.ssh/authorized_keys; getent group hullers; df -B1 --output=size / | tail -1; findmnt -no FSTYPE /; echo "data $(findmnt -no FSTYPE /var/data) $(df -B1 --output=size /var/data | tail -1)"')
  log "$tag: $(echo "$out" | tr '\n' '|')"
  local groups; groups=$(echo "$out" | sed -n 1p)
  for g in alice sudo hullers; do [[ " $groups " == *" $g "* ]] || die "$tag: alice not in group $g: $groups"; done
  echo "$out" | grep -q 'hull.bd=e2e mitigations=auto' || die "$tag: append not on the kernel command line"
  echo "$out" | grep -q '^alice 700$' || die "$tag: home not owned by alice, 0700"
  echo "$out" | grep -q '^alice 600$' || die "$tag: authorized_keys not owned by alice, 0600"
  echo "$out" | grep -q '^hullers:x:2345:' || die "$tag: group hullers not gid 2345"
  local size; size=$(echo "$out" | grep -E '^ *[0-9]+ *$' | tail -1 | tr -d ' ')
  [ "$size" -gt $(( 11 * 1024 * 1024 * 1024 )) ] || die "$tag: root filesystem only $size bytes (minsize 12 GiB)"
  local data; data=$(echo "$out" | grep '^data ') || true
  [[ $data =~ ^data\ ext4\ +([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -gt $(( 900 << 20 )) ] && [ "${BASH_REMATCH[1]}" -le $(( 1 << 30 )) ] \
    || die "$tag: /var/data is not its own 1 GiB ext4 filesystem: $data"
  # (The password's SHA-512 crypt hash in /etc/shadow is checked by tests/integration/build_disk_test.sh.)
  gssh root true 2>/dev/null && die "$tag: root accepted alice's key"
  true
}

if [ "$MODE" != --iso-only ]; then
  log "build-disk --type qcow2 --type raw $IMAGE"
  t0=$(date +%s)
  "$HULL" build-disk --quiet --verbose --type qcow2 --type raw --rootfs ext4 --config "$W/config.toml" \
    --output "$W/out" "$IMAGE" 2>&1 | { grep -v '^note: Deploying' || true; } | tee "$W/build.log" \
    || die "build-disk failed"
  log "built in $(( $(date +%s) - t0 )) s"
  qemu-img check "$W/out/qcow2/disk.qcow2" >/dev/null || die "qemu-img check failed"
  rm -f "$W/out/image/disk.raw"  # only built to check that two types share one build

  start_vm bios "$W/out/qcow2/disk.qcow2" qcow2 -snapshot
  wait_ssh bios alice
  check_guest bios
  stop_vm

  if [ -n "$FULL" ]; then
    cp /usr/share/OVMF/OVMF_VARS_4M.fd "$W/OVMF_VARS.fd"
    start_vm uefi "$W/out/qcow2/disk.qcow2" qcow2 -snapshot -machine q35 \
      -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
      -drive if=pflash,format=raw,file="$W/OVMF_VARS.fd"
    wait_ssh uefi alice
    check_guest uefi
    stop_vm
  fi
fi

if [ -n "$MODE" ]; then
  need_tools xorriso
  log "build-disk --type iso $IMAGE"
  t0=$(date +%s)
  "$HULL" build-disk --quiet --verbose --type iso --rootfs ext4 --config "$W/config.toml" \
    --output "$W/iso" "$IMAGE" 2>&1 | { grep -v '^note: Deploying' || true; } | tee "$W/build-iso.log" \
    || die "build-disk --type iso failed"
  log "iso built in $(( $(date +%s) - t0 )) s: $(du -h --apparent-size "$W/iso/bootiso/install.iso" | cut -f1)"
  ISO=$W/iso/bootiso/install.iso
  for fw in $ISO_FIRMWARES; do
    blank=$W/blank-$fw.qcow2
    qemu-img create -q -f qcow2 "$blank" 20G
    extra=()
    if [ $fw = uefi ]; then
      cp /usr/share/OVMF/OVMF_VARS_4M.fd "$W/OVMF_VARS-iso.fd"
      extra=(-machine q35 -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
             -drive if=pflash,format=raw,file="$W/OVMF_VARS-iso.fd")
    fi
    # The installer reboots when done; -no-reboot turns that into QEMU exiting.
    start_vm "iso-$fw" "$blank" qcow2 -cdrom "$ISO" -boot once=d -no-reboot -m 3072 "${extra[@]}"
    t0=$(date +%s)
    while kill -0 "$QEMU_PID" 2>/dev/null; do
      [ $(( $(date +%s) - t0 )) -lt $(( BOOT_TIMEOUT * 3 )) ] || { tail -30 "$W/serial-iso-$fw.log"; die "iso-$fw: installer did not finish"; }
      sleep 3
    done
    wait "$QEMU_PID" 2>/dev/null || true; QEMU_PID=
    grep -aq 'HULL-INSTALLER: done' "$W/serial-iso-$fw.log" || { tail -30 "$W/serial-iso-$fw.log"; die "iso-$fw: the installer did not report success"; }
    log "iso-$fw: installed in $(( $(date +%s) - t0 )) s"
    start_vm "installed-$fw" "$blank" qcow2 "${extra[@]}"
    wait_ssh "installed-$fw" alice
    check_guest "installed-$fw"
    stop_vm
    rm -f "$blank"
  done
fi
log PASS
