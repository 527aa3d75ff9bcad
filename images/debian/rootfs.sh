#!/bin/bash
# Stage 1 of the hull-debian base image: a bootable Debian 12 (bookworm) root
# filesystem built from Debian packages only, packed as one tar.
#
# Usage: images/debian/rootfs.sh WORKDIR OUT.tar PACKAGE...
#   WORKDIR   scratch directory (the chroot is built in WORKDIR/rootfs, removed at exit)
#   OUT.tar   written atomically (OUT.tar.tmp, then rename)
#   PACKAGE   installed with apt on top of `debootstrap --variant=minbase`
# Environment:
#   DEBIAN_MIRROR   default http://deb.debian.org/debian (security: ${DEBIAN_MIRROR%/debian}/debian-security)
#   DEB_CACHE       optional directory that keeps downloaded .debs between runs (debootstrap
#                   --cache-dir and the chroot's /var/cache/apt/archives); a pure download cache
#
# build.sh calls this script and caches OUT.tar under a key that hashes the package
# list, this file and files/: change any of them and stage 1 is rebuilt.
#
# What the tree looks like (see README.md): kernel + dracut initramfs with libostree's
# module in /usr/lib/modules/$KVER/{vmlinuz,initramfs.img}, /boot empty, dpkg database
# in /usr/lib/sysimage/dpkg (/var/lib/dpkg links to it), bootc-style state directories
# (/home -> var/home, /root -> var/roothome, ...), /etc and /var left in place so that
# the image stays an ordinary container image that `buildah bud` can extend with apt.
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: $0 WORKDIR OUT.tar PACKAGE..." >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$1; OUT=$2; shift 2
PKGS=("$@")
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${MIRROR%/debian}/debian-security
SUITE=bookworm
R=$WORK/rootfs

log() { printf '[rootfs %s] %s\n' "$(date +%T)" "$*" >&2; }

# ---------------------------------------------------------------- mounts (always undone)
umount_all() {
  # deepest first; -l never: a busy mount must fail loudly rather than linger detached
  local m
  for m in var/cache/apt/archives dev/pts dev sys proc; do
    if mountpoint -q "$R/$m" 2>/dev/null; then umount "$R/$m" || umount -R "$R/$m"; fi
  done
  if [ -d "$R" ] && findmnt -rn -o TARGET | grep -q "^$R\(/\|$\)"; then
    log "ERROR: mounts left under $R:"; findmnt -rn -o TARGET | grep "^$R\(/\|$\)" >&2
    return 1
  fi
}
safe_rm_tree() {   # remove $1 only if nothing is mounted below it
  [ -e "$1" ] || return 0
  if findmnt -rn -o TARGET | grep -q "^$1\(/\|$\)"; then
    log "ERROR: refusing to remove $1: something is mounted below it"; return 1
  fi
  rm -rf --one-file-system "$1"
}
cleanup() {
  local rc=$?
  umount_all || rc=1
  safe_rm_tree "$R" || rc=1
  rm -f "$OUT.tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_all() {
  mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"
  mountpoint -q "$R/sys" || mount -t sysfs sys "$R/sys"
  mountpoint -q "$R/dev" || mount --bind /dev "$R/dev"
  mountpoint -q "$R/dev/pts" || mount --bind /dev/pts "$R/dev/pts"
  if [ -n "${DEB_CACHE:-}" ]; then
    mkdir -p "$DEB_CACHE/archives/partial" "$R/var/cache/apt/archives"
    mountpoint -q "$R/var/cache/apt/archives" || mount --bind "$DEB_CACHE/archives" "$R/var/cache/apt/archives"
  fi
}
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
              DEBIAN_FRONTEND=noninteractive "$@"; }

mkdir -p "$WORK"
umount_all
safe_rm_tree "$R"

# ---------------------------------------------------------------- 1. debootstrap
log "debootstrap --variant=minbase $SUITE ($MIRROR)"
db_args=(--variant=minbase)
if [ -n "${DEB_CACHE:-}" ]; then mkdir -p "$DEB_CACHE/debootstrap"; db_args+=(--cache-dir="$DEB_CACHE/debootstrap"); fi
debootstrap "${db_args[@]}" "$SUITE" "$R" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 \
  || { tail -30 "$WORK/debootstrap.log" >&2; exit 1; }

# build-time only: no service starts in the chroot, no fsync per file (the tar is the product)
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod 755 "$R/usr/sbin/policy-rc.d"
echo force-unsafe-io > "$R/etc/dpkg/dpkg.cfg.d/hull-build-unsafe-io"

# A small image: no manuals, info pages or translations (copyright files stay). Kept in the
# image so derived `apt-get install` stays small too; README says how to undo it.
cat > "$R/etc/dpkg/dpkg.cfg.d/hull-excludes" <<'EOF'
# hull-debian: keep the image small (like Debian's and Ubuntu's minimal images).
# To get documentation back: remove this file and `apt-get install --reinstall PKG`.
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
EOF
find "$R/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$R/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$R/usr/share/man/"* "$R/usr/share/info/"* "$R/usr/share/lintian/"*
find "$R/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

# Debian's own archive, with updates and security fixes (deb822 format)
rm -f "$R/etc/apt/sources.list"
cat > "$R/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# static files of the recipe (files/: tmpfiles.d, bootc install config, networkd, units,
# kernel hooks, dracut and kernel-img config), owned by root, existing directories untouched
tar -C "$HERE/files" --owner=0 --group=0 --mode='u+rwX,go=rX' -c . | tar -C "$R" -x --no-overwrite-dir

# ---------------------------------------------------------------- 2. packages
mount_all
log "apt-get install ${#PKGS[@]} packages"
# INITRD=No: the kernel's and dracut's hooks skip their /boot/initrd.img (built once below, generic)
in_root sh -c 'apt-get update -q && apt-get -y -q upgrade' > "$WORK/apt.log" 2>&1 \
  || { tail -30 "$WORK/apt.log" >&2; exit 1; }
in_root INITRD=No apt-get install -y -q --no-install-recommends "${PKGS[@]}" >> "$WORK/apt.log" 2>&1 \
  || { tail -30 "$WORK/apt.log" >&2; exit 1; }

# ---------------------------------------------------------------- 3. configuration
log "configure"
echo hull-debian > "$R/etc/hostname"
cat > "$R/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	hull-debian
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
# DNS from DHCP through systemd-resolved; the build host's resolver must not leak in.
# (buildah follows this link in RUN steps of derived builds and mounts its own file there.)
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"
: > "$R/etc/machine-id"                  # empty: each machine makes its own on first boot
rm -f "$R/var/lib/dbus/machine-id"; ln -s /etc/machine-id "$R/var/lib/dbus/machine-id"
rm -f "$R"/etc/ssh/ssh_host_*            # per machine: made at first boot (hull-ssh-keygen.service)

# serial console (the kernel's console=ttyS0 also starts one; explicit for consoles without it),
# DHCP on ethernet through systemd-networkd
in_root systemctl enable serial-getty@ttyS0.service systemd-networkd.service >> "$WORK/apt.log" 2>&1
# an image-based host is updated by `hull upgrade`, not by apt's daily timers
in_root systemctl disable apt-daily.timer apt-daily-upgrade.timer >> "$WORK/apt.log" 2>&1

# ---------------------------------------------------------------- 4. kernel + initramfs
KVER=$(ls "$R/usr/lib/modules")
[ "$(echo "$KVER" | wc -w)" = 1 ] || { log "ERROR: expected one kernel, found: $KVER"; exit 1; }
log "dracut --no-hostonly --add ostree ($KVER)"
in_root dracut --force --no-hostonly --add ostree --kver "$KVER" "/usr/lib/modules/$KVER/initramfs.img" \
  > "$WORK/dracut.log" 2>&1 || { tail -30 "$WORK/dracut.log" >&2; exit 1; }
in_root lsinitrd "/usr/lib/modules/$KVER/initramfs.img" > "$WORK/lsinitrd.txt"
grep -q 'usr/lib/ostree/ostree-prepare-root$' "$WORK/lsinitrd.txt" \
  || { log "ERROR: ostree-prepare-root is not in the initramfs"; exit 1; }
cp "$R/boot/vmlinuz-$KVER" "$R/usr/lib/modules/$KVER/vmlinuz"
chmod 644 "$R/usr/lib/modules/$KVER/initramfs.img"
find "$R/boot" -mindepth 1 -delete           # ostree: the kernel lives in /usr/lib/modules
rm -f "$R"/vmlinuz* "$R"/initrd.img*

# ---------------------------------------------------------------- 5. clean up the build
log "clean"
umount_all                                    # first: DEB_CACHE must survive apt-get clean
in_root apt-get clean
rm -f "$R/usr/sbin/policy-rc.d" "$R/etc/dpkg/dpkg.cfg.d/hull-build-unsafe-io"
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/cache/debconf/*-old \
       "$R"/var/lib/dpkg/*-old "$R"/var/log/apt/* "$R"/var/cache/apt/archives/partial
find "$R/var/log" -type f \( -name '*.log' -o -name 'bootstrap.log' \) -delete
mkdir -p "$R/var/cache/apt/archives/partial"
: > "$R/var/log/lastlog"; : > "$R/var/log/wtmp"; : > "$R/var/log/btmp"

# ---------------------------------------------------------------- 6. ostree/bootc layout
log "layout"
# dpkg's database travels with /usr, so `dpkg -l` on a booted host describes the booted image
# (libostree does not update /var on upgrades). /var/lib/dpkg stays usable for apt.
mkdir -p "$R/usr/lib/sysimage"
mv "$R/var/lib/dpkg" "$R/usr/lib/sysimage/dpkg"
ln -s ../../usr/lib/sysimage/dpkg "$R/var/lib/dpkg"

# state lives in /var (bootc / Fedora CoreOS layout). The image keeps the directories in its
# /var so that container builds work; the tmpfiles.d snippet makes them on a booted host.
mkdir -p "$R/var/home" "$R/var/opt" "$R/var/srv" "$R/var/mnt" "$R/var/usrlocal"
install -d -m 0700 "$R/var/roothome"
cp -a "$R/root/." "$R/var/roothome/"
cp -a "$R/usr/local/." "$R/var/usrlocal/"
for d in home root opt srv mnt media usr/local; do rm -rf "${R:?}/$d"; done
ln -s var/home "$R/home"
ln -s var/roothome "$R/root"
ln -s var/opt "$R/opt"
ln -s var/srv "$R/srv"
ln -s var/mnt "$R/mnt"
ln -s run/media "$R/media"
ln -s ../var/usrlocal "$R/usr/local"
mkdir -p "$R/sysroot"
ln -s sysroot/ostree "$R/ostree"

# API filesystems and runtime dirs are empty in an image (libostree refuses device nodes)
for d in dev proc sys run tmp; do
  find "$R/$d" -mindepth 1 -delete
done
chmod 0755 "$R/dev" "$R/run"; chmod 0555 "$R/proc" "$R/sys"; chmod 1777 "$R/tmp"

# ---------------------------------------------------------------- 7. checks + pack
[ -z "$(ls -A "$R/boot")" ] || { log "ERROR: /boot is not empty"; exit 1; }
[ -f "$R/usr/lib/modules/$KVER/vmlinuz" ] && [ -f "$R/usr/lib/modules/$KVER/initramfs.img" ]
if find "$R" -xdev \( -type b -o -type c -o -type p -o -type s \) | grep -q .; then
  log "ERROR: special files in the tree:"; find "$R" -xdev \( -type b -o -type c -o -type p -o -type s \) >&2; exit 1
fi
log "pack $(du -sh --apparent-size "$R" | cut -f1) into $OUT"
tar --create --file "$OUT.tmp" --directory "$R" --numeric-owner --sort=name \
    --xattrs --xattrs-include='*' .
mv -f "$OUT.tmp" "$OUT"
echo "$KVER" > "$WORK/kver"
log "done"
