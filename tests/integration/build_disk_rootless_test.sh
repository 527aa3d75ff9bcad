#!/bin/bash
# Integration test of `hull build-disk` without root: an ordinary user (made here; useradd
# gives it a range in /etc/subuid and /etc/subgid) runs `buildah unshare hull build-disk
# --type raw` of the base image (an OCI layout) with a config (a user, a /var/data
# partition), with a PATH without the sbin directories. Checked: the disk belongs to the
# user; inside it the owners and modes are the image's (root 0, group shadow 42, the setuid
# dbus helper), alice's home is hers, /var/data has its partition; and without the user
# namespace, or in one that maps a single id (unshare -r), build-disk refuses in one line
# that names `buildah unshare`.
#
# Usage: build_disk_rootless_test.sh HULL_BINARY      (as root, to make the user; else exit 77)
# Image: as build_disk_test.sh (tests/lib/base-image.sh).
set -euo pipefail
HULL=${1:?usage: $0 HULL_BINARY}
log() { printf '[build-disk rootless %s] %s\n' "$(date +%T)" "$*"; }
die() { echo "FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/../lib/base-image.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to make the test user"; exit 77; }
need_tools buildah newuidmap newgidmap setpriv unshare useradd debugfs sfdisk jq

U=hullrl$$
W=$(mktemp -d /var/tmp/hull-rootless.XXXXXX)
chmod 755 "$W"
cleanup() {
  userdel "$U" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
useradd --no-create-home --home-dir "$W/home" --shell /bin/sh "$U"
grep -q "^$U:" /etc/subuid || usermod --add-subuids 1400000-1465535 --add-subgids 1400000-1465535 "$U"
mkdir -p "$W/home" "$W/tmp" "$W/out"

base_image "$HULL"
case $BASE_IMAGE in
  containers-storage:*) buildah push --quiet "${BASE_IMAGE#containers-storage:}" "oci:$W/oci:image"; IMAGE=oci:$W/oci:image ;;
  *) IMAGE=$BASE_IMAGE ;;
esac
install -m 0755 "$HULL" "$W/hull"
cat > "$W/config.toml" <<'TOML'
[[customizations.user]]
name = "alice"
password = "pw"
[[customizations.filesystem]]
mountpoint = "/var/data"
minsize = "256 MiB"
TOML
chown -R "$U:$U" "$W/home" "$W/tmp" "$W/out" "$W/config.toml"
[ -d "$W/oci" ] && chown -R "$U:$U" "$W/oci"
as_user() { setpriv --reuid="$U" --regid="$U" --init-groups env -i HOME="$W/home" PATH=/usr/bin:/bin TMPDIR="$W/tmp" "$@"; }

# Without a user namespace: one clear line, nothing written.
if out=$(as_user "$W/hull" build-disk --quiet --type raw --rootfs ext4 --config "$W/config.toml" --output "$W/out" "$IMAGE" 2>&1); then
  die "build-disk as an ordinary user without a user namespace succeeded"
fi
[ "$(echo "$out" | wc -l)" = 1 ] && [[ $out == *"buildah unshare"* ]] || die "refusal does not name buildah unshare: $out"
[ -z "$(ls -A "$W/out")" ] || die "the refused run left files: $(ls -A "$W/out")"
log "refused without a namespace: $out"
# In a namespace that maps only the user itself (unshare -r): the same.
if out=$(as_user unshare --user --map-root-user "$W/hull" build-disk --quiet --type raw --rootfs ext4 \
    --config "$W/config.toml" --output "$W/out" "$IMAGE" 2>&1); then
  die "build-disk in a one-id user namespace succeeded"
fi
[ "$(echo "$out" | wc -l)" = 1 ] && [[ $out == *"maps 1 user ids"* && $out == *"buildah unshare"* ]] \
  || die "one-id namespace: $out"
[ -z "$(ls -A "$W/out")" ] || die "the refused run left files: $(ls -A "$W/out")"
log "refused in a one-id namespace: $out"

log "buildah unshare hull build-disk --type raw $IMAGE, as $U"
t0=$(date +%s)
as_user buildah unshare "$W/hull" build-disk --quiet --verbose --type raw --rootfs ext4 --config "$W/config.toml" \
  --output "$W/out" "$IMAGE" 2>&1 | { grep -v '^note: Deploying' || true; } \
  || die "build-disk in buildah unshare failed"
log "built in $(( $(date +%s) - t0 )) s"
RAW=$W/out/image/disk.raw
[ "$(stat -c %U "$RAW")" = "$U" ] || die "disk.raw belongs to $(stat -c %U "$RAW"), not $U"

parts=$(sfdisk --json "$RAW")
echo "$parts" | jq -e '[.partitiontable.partitions[].name] == ["BIOS-BOOT","EFI-SYSTEM","boot","var-data","root"]' >/dev/null \
  || die "partitions: $parts"
root_at=$(( $(echo "$parts" | jq '.partitiontable.partitions[4].start') * 512 ))
in_root() { debugfs -R "$1" "$RAW?offset=$root_at" 2>/dev/null; }
deploy=/ostree/deploy/default/deploy/$(in_root "ls -p /ostree/deploy/default/deploy" | awk -F/ '$6 ~ /\.0$/ {print $6}')
owner() { in_root "stat $1" | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p; s/.*User: *\([0-9]*\) *Group: *\([0-9]*\).*/\1:\2/p' | tr '\n' ' '; }
[ "$(owner "$deploy/usr/etc/shadow")" = "0640 0:42 " ] || die "usr/etc/shadow: $(owner "$deploy/usr/etc/shadow")"
helper=$(owner "$deploy/usr/lib/dbus-1.0/dbus-daemon-launch-helper")
[[ $helper == "04754 0:"* ]] || die "dbus-daemon-launch-helper lost its owner or setuid bit: $helper"
[ "$(owner "$deploy/usr/bin")" = "0755 0:0 " ] || die "usr/bin: $(owner "$deploy/usr/bin")"
uid=$(in_root "cat $deploy/etc/passwd" | awk -F: '$1 == "alice" {print $3 ":" $4}')
[ -n "$uid" ] || die "alice is not in the deployment's /etc/passwd"
[ "$(owner /ostree/deploy/default/var/home/alice)" = "0700 $uid " ] || die "alice's home: $(owner /ostree/deploy/default/var/home/alice), want 0700 $uid"
log "owners: shadow 0:42 0640, helper $helper, alice's home $uid 0700"
log PASS
