#!/bin/bash
# Integration test of `hull build-disk` (no VM): every output type built in one
# run from the Debian base image and checked with the format's own tool, the
# manifest checked, and bad configs refused with messages naming the file and
# the key. Boots are in tests/e2e/build_disk_boot_test.sh.
#
# Usage: build_disk_test.sh HULL_BINARY
# Image: $HULL_E2E_IMAGE (oci:DIR:TAG ...), else containers-storage:localhost/hull-debian:12
# (tests/lib/base-image.sh builds it if it is missing). Root (the staged sysroot),
# else exit 77 (skipped).
set -euo pipefail
HULL=${1:?usage: $0 HULL_BINARY}
W=$(mktemp -d /var/tmp/hull-build-disk-it.XXXXXX)
trap 'rm -rf "$W"' EXIT
log() { printf '[build-disk it %s] %s\n' "$(date +%T)" "$*"; }
die() { echo "FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/../lib/base-image.sh"
need_tools qemu-img xorriso tar jq mkfs.vfat mcopy buildah sfdisk debugfs blkid
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (see README: build-disk without privileges)"; exit 77; }

# --- bad configs: refused before anything is fetched ---------------------------
cd "$W"
refused() {  # refused FILE WANT: build-disk with FILE fails naming FILE and WANT
  local file=$1 want=$2 out
  if out=$("$HULL" build-disk --quiet --type raw --config "$file" --output "$W/bad" oci:/nonexistent:x 2>&1); then
    die "config $file accepted"
  fi
  [[ $out == *"$file"* ]] || die "message does not name $file: $out"
  [[ $out == *"$want"* ]] || die "message does not say '$want': $out"
  log "refused $file: $out"
}
printf '[[customizations.user]]\nname = "a"\npasword = "x"\n' > unknown.toml
refused unknown.toml 'unknown key "customizations.user[0].pasword"'
printf '[[customizations.filesystem]]\nmountpoint = "/var"\nminsize = "1 GiB"\n' > var.toml
refused var.toml 'path "/var" is not allowed'
printf '[[customizations.filesystem]]\nmountpoint = "/"\nminsize = "20G"\n' > size.toml
refused size.toml 'customizations.filesystem[0].minsize'
printf '[[customizations.user]]\nname = "a\n' > malformed.toml
refused malformed.toml 'malformed TOML'
printf '{"customizations": {"kernel": {"name": "debug"}}}' > kernel.json
refused kernel.json 'customizations.kernel.name'
mkdir both && touch both/config.toml both/config.json
out=$(cd both && "$HULL" build-disk --quiet oci:/nonexistent:x 2>&1) && die "config.toml + config.json accepted"
[[ $out == *config.toml* && $out == *config.json* ]] || die "both configs: $out"
log "refused both: $out"
out=$("$HULL" build-disk --type ami oci:/nonexistent:x 2>&1) && die "--type ami accepted"
[[ $out == *"--type raw"* ]] || die "ami: $out"
[ ! -e "$W/bad" ] || [ -z "$(ls -A "$W/bad")" ] || die "a refused build left files: $(ls -A "$W/bad")"

# --- every type from the base image ----------------------------------------------
base_image "$HULL"
# A derived image with its own bib config (bib's /usr/lib/bootc-image-builder/config.toml):
# its filesystem customizations apply, since --config below says nothing about them.
mkdir ctx
printf '[[customizations.filesystem]]\nmountpoint = "/var/lib/containers"\nminsize = "2 GiB"\n' > ctx/bib.toml
printf 'FROM %s\nCOPY bib.toml /usr/lib/bootc-image-builder/config.toml\n' "${BASE_IMAGE#containers-storage:}" > ctx/Containerfile
DERIVED=localhost/hull-build-disk-it:$$
buildah bud --quiet --isolation chroot -t "$DERIVED" ctx >/dev/null
trap 'buildah rmi "$DERIVED" >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
IMAGE=containers-storage:$DERIVED
cat > config.toml <<'TOML'
[[customizations.user]]
name = "alice"
password = "pw"
groups = ["sudo"]
[customizations.kernel]
append = "hull.it=1"
TOML
log "build-disk: all types from $IMAGE"
t0=$(date +%s)
"$HULL" build-disk --quiet --verbose --type raw --type qcow2 --type vmdk --type vpc --type gce --type iso \
  --rootfs ext4 --config config.toml --chown 1234:5678 --output "$W/out" "$IMAGE" 2>&1 | { grep -v '^note: Deploying' || true; } \
  || die "build-disk failed"
log "built in $(( $(date +%s) - t0 )) s"
O=$W/out
for f in image/disk.raw qcow2/disk.qcow2 vmdk/disk.vmdk vpc/disk.vhd gce/image.tar.gz bootiso/install.iso manifest-hull.json; do
  [ -f "$O/$f" ] || die "missing $f"
  [ "$(stat -c %u:%g "$O/$f")" = 1234:5678 ] || die "$f not chowned: $(stat -c %u:%g "$O/$f")"
done
[ -z "$(find "$O" -name '.hull-build-disk*')" ] || die "temporaries left in the output directory"
RAW_SIZE=$(stat -c %s "$O/image/disk.raw")
[ "$RAW_SIZE" -ge $(( 10 * 1024 * 1024 * 1024 )) ] || die "disk smaller than bib's 10 GiB default: $RAW_SIZE"
[ $(( $(stat -c %b "$O/image/disk.raw") * 512 )) -lt $(( RAW_SIZE / 4 )) ] || die "disk.raw is not sparse"
sgdisk -p "$O/image/disk.raw" | grep -q 'EF02' || die "raw: no BIOS boot partition"
# The image's /var/lib/containers partition: 2 GiB ext4 before root, in the deployment's fstab,
# with the stateroot's directory left empty as its mountpoint.
parts=$(sfdisk --json "$O/image/disk.raw")
[ "$(echo "$parts" | jq -r '.partitiontable.partitions[3].name + " " + (.partitiontable.partitions[3].size * 512 | tostring)')" \
  = "var-lib-containers $((2 * 1024 * 1024 * 1024))" ] || die "raw: no 2 GiB var-lib-containers partition: $parts"
[ "$(echo "$parts" | jq -r '.partitiontable.partitions[4].name')" = root ] || die "raw: root is not last: $parts"
root_at=$(( $(echo "$parts" | jq '.partitiontable.partitions[4].start') * 512 ))
var_at=$(( $(echo "$parts" | jq '.partitiontable.partitions[3].start') * 512 ))
in_root() { debugfs -R "$1" "$O/image/disk.raw?offset=$root_at" 2>/dev/null; }
deploy=$(in_root "ls -p /ostree/deploy/default/deploy" | awk -F/ '$6 ~ /\.0$/ {print $6}')
fstab=$(in_root "cat /ostree/deploy/default/deploy/$deploy/etc/fstab")
var_uuid=$(blkid -p -o value -s UUID -O "$var_at" "$O/image/disk.raw")
echo "$fstab" | grep -qx "UUID=$var_uuid /var/lib/containers ext4 defaults 0 2" || die "fstab has no /var/lib/containers line for $var_uuid: $fstab"
in_root "cat /ostree/deploy/default/deploy/$deploy/etc/shadow" | grep -q '^alice:\$6\$' \
  || die "alice's password is not a SHA-512 crypt hash in the deployment's /etc/shadow"
# (debugfs prints nothing for a missing directory: the "." entry must be there.)
mp=$(in_root "ls -p /ostree/deploy/default/var/lib/containers")
echo "$mp" | grep -qE '/\./' || die "no /var/lib/containers mountpoint on root"
echo "$mp" | grep -vE '/\.{1,2}/' | grep -q . && die "mountpoint not empty on root: $mp"

info() { qemu-img info --output=json "$@"; }
[ "$(info "$O/qcow2/disk.qcow2" | jq -r '.format + " " + .["format-specific"].data.compat')" = "qcow2 1.1" ] || die "qcow2: $(info "$O/qcow2/disk.qcow2")"
qemu-img check -q "$O/qcow2/disk.qcow2" || die "qcow2: qemu-img check"
[ "$(info "$O/qcow2/disk.qcow2" | jq '.["virtual-size"]')" = "$RAW_SIZE" ] || die "qcow2: virtual size"
[ "$(info "$O/vmdk/disk.vmdk" | jq -r '.format + " " + .["format-specific"].data["create-type"]')" = "vmdk streamOptimized" ] || die "vmdk: $(info "$O/vmdk/disk.vmdk")"
qemu-img check -q "$O/vmdk/disk.vmdk" || die "vmdk: qemu-img check"
[ "$(info -f vpc "$O/vpc/disk.vhd" | jq -r '.format')" = vpc ] || die "vhd: $(info "$O/vpc/disk.vhd")"
[ "$(info -f vpc "$O/vpc/disk.vhd" | jq '.["virtual-size"]')" = "$RAW_SIZE" ] || die "vhd: virtual size not the disk's (force_size)"
[ "$(stat -c %s "$O/vpc/disk.vhd")" = $(( RAW_SIZE + 512 )) ] || die "vhd: not a fixed VHD (raw + 512-byte footer)"
[ "$(tar -tzf "$O/gce/image.tar.gz")" = disk.raw ] || die "gce: the tar must hold disk.raw only"
tar -tvzf "$O/gce/image.tar.gz" | grep -q " $RAW_SIZE " || die "gce: disk.raw size in the tar"
toc=$(xorriso -indev "$O/bootiso/install.iso" -report_el_torito plain 2>&1)
echo "$toc" | grep -q "Volume id *: 'HULL-INSTALL'" || die "iso: volume id: $toc"
echo "$toc" | grep -qE 'El Torito boot img : +1 +BIOS' || die "iso: no BIOS El Torito entry: $toc"
echo "$toc" | grep -qE 'El Torito boot img : +2 +UEFI' || die "iso: no UEFI El Torito entry: $toc"
xorriso -indev "$O/bootiso/install.iso" -find /usr/lib/hull-installer -maxdepth 1 2>/dev/null | grep -q "image'" || die "iso: no OCI image"
jq -e --argjson s "$RAW_SIZE" '(.outputs | length) == 6 and .disk.size == $s and (.image.digest | startswith("sha256:"))
  and ([.outputs[].type] | sort) == (["gce","iso","qcow2","raw","vhd","vmdk"])' "$O/manifest-hull.json" >/dev/null \
  || die "manifest: $(cat "$O/manifest-hull.json")"
log "sizes: $(jq -c '[.outputs[] | {(.type): .size}] | add' "$O/manifest-hull.json")"
log PASS
