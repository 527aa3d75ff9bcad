#!/bin/bash
# The systemd units of dist/ checked offline with `systemd-analyze verify
# --root`: a temporary root holds this machine's systemd units (Debian 12, as
# the image), dist/ copied over them as images/debian/build.sh copies it, and
# the hull binary as /usr/bin/hull (verify checks that ExecStart= is
# executable inside the root). Checked:
#   - hull-fetch-apply-updates.{timer,service}, their bootc-* aliases and
#     timers.target (which pulls the timer in through the link in
#     timers.target.wants/) verify without a single warning;
#   - systemctl sees the aliases, and `mask` masks the timer;
#   - boot counting: hull-health-check.service (linked into
#     boot-complete.target.requires/), hull-boot-assess.service (pulled by
#     multi-user.target) and the drop-in that arms a staged deployment in
#     ostree-finalize-staged.service (Debian's, unpacked from ostree-boot)
#     verify cleanly, and the drop-in arms before it finalizes;
#   - the drop-in README.md shows for a shorter timer verifies cleanly, in
#     the hull- and in the bootc- name's .d directory;
#   - and, so that none of this passes vacuously, verify does complain here
#     about a bad key in a drop-in and about a missing /usr/bin/hull.
# What verify cannot show offline is the timer firing; the e2e run does.
#
# Usage: units_test.sh HULL_BINARY DIST_DIR
set -euo pipefail
HULL=${1:?usage: $0 HULL_BINARY DIST_DIR}
DIST=${2:?usage: $0 HULL_BINARY DIST_DIR}
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
UNITS=/usr/lib/systemd/system
[ -e "$UNITS/timers.target" ] || UNITS=/lib/systemd/system
[ -e "$UNITS/timers.target" ] || { echo "SKIP: no systemd units on this machine"; exit 77; }
W=$(mktemp -d "${TMPDIR:-/var/tmp}/hull-units.XXXXXX")
trap 'rm -rf "$W"' EXIT
die() { echo "FAIL: $*" >&2; exit 1; }
log() { printf '[units] %s\n' "$*"; }

R=$W/root
mkdir -p "$R/usr/lib/systemd/system" "$R/usr/bin" "$R/etc/systemd/system"
ln -s usr/lib "$R/lib"
cp -a "$UNITS/." "$R/usr/lib/systemd/system/"
tar -C "$DIST" --exclude=README.md -c . | tar -C "$R" -x
install -m 0755 "$HULL" "$R/usr/bin/hull"
S=$R/usr/lib/systemd/system

verify() {  # verify UNIT...: prints what systemd-analyze says, fails on its exit status
  systemd-analyze verify --root="$R" --man=no "$@" 2>&1
}
clean() {  # clean UNIT...: verify passes and says nothing at all
  local out
  out=$(verify "$@") || die "systemd-analyze verify $* failed: $out"
  [ -z "$out" ] || die "systemd-analyze verify $* warned: $out"
  log "clean: $*"
}

# The units as shipped, under both names, and the link that enables the timer.
[ "$(readlink "$S/timers.target.wants/hull-fetch-apply-updates.timer")" = ../hull-fetch-apply-updates.timer ] ||
  die "timers.target.wants/hull-fetch-apply-updates.timer is not a link to the timer"
for alias in bootc-fetch-apply-updates.timer bootc-fetch-apply-updates.service; do
  [ "$(readlink "$S/$alias")" = "hull-${alias#bootc-}" ] || die "$alias is not a link to hull-${alias#bootc-}"
done
grep -qx 'ExecStart=/usr/bin/hull upgrade --auto --quiet' "$S/hull-fetch-apply-updates.service" ||
  die "the service does not run hull upgrade --auto --quiet"
clean "$S/hull-fetch-apply-updates.timer" "$S/hull-fetch-apply-updates.service"
clean "$S/bootc-fetch-apply-updates.timer" "$S/bootc-fetch-apply-updates.service"
clean "$S/timers.target"
[ "$(systemctl --root="$R" is-enabled bootc-fetch-apply-updates.timer)" = alias ] ||
  die "systemctl does not see bootc-fetch-apply-updates.timer as an alias"
# As README.md says: is-enabled says "disabled" (the enabling link is in
# /usr, not /etc), and mask is what turns the timer off.
[ "$(systemctl --root="$R" is-enabled hull-fetch-apply-updates.timer || true)" = disabled ] ||
  die "is-enabled no longer says disabled: README.md's note is out of date"
systemctl --root="$R" mask hull-fetch-apply-updates.timer 2>/dev/null
[ "$(systemctl --root="$R" is-enabled hull-fetch-apply-updates.timer || true)" = masked ] || die "mask did not mask the timer"
[ "$(readlink "$R/etc/systemd/system/hull-fetch-apply-updates.timer")" = /dev/null ] || die "mask wrote no link to /dev/null"
rm "$R/etc/systemd/system/hull-fetch-apply-updates.timer"

# Boot counting: the health checks are part of boot-complete.target (a link
# in boot-complete.target.requires/), the assessment runs after it and is
# pulled in by multi-user.target, and the drop-in of ostree-finalize-staged
# arms a staged deployment before libostree finalizes it. Checked against
# ostree-finalize-staged.service from Debian's ostree-boot package (what the
# image has), unpacked here, not installed.
[ "$(readlink "$S/boot-complete.target.requires/hull-health-check.service")" = ../hull-health-check.service ] ||
  die "boot-complete.target.requires/hull-health-check.service is not a link to the unit"
[ "$(readlink "$S/multi-user.target.wants/hull-boot-assess.service")" = ../hull-boot-assess.service ] ||
  die "multi-user.target.wants/hull-boot-assess.service is not a link to the unit"
clean "$S/hull-health-check.service" "$S/hull-boot-assess.service"
if (cd "$W" && apt-get download ostree-boot >/dev/null 2>&1) && dpkg-deb -x "$W"/ostree-boot_*.deb "$W/ob"; then
  for u in "$W"/ob/{usr/,}lib/systemd/system/ostree-finalize-staged*.service; do [ -e "$u" ] && cp "$u" "$S/"; done
fi
if [ -e "$S/ostree-finalize-staged.service" ]; then
  mkdir -p "$R/usr/bin" && cp "$(command -v ostree)" "$R/usr/bin/ostree"
  clean "$S/ostree-finalize-staged.service"
  # the drop-in replaces the unit's one ExecStop= by hull's arming, then the same command
  [ "$(grep '^ExecStop=' "$S/ostree-finalize-staged.service")" = "ExecStop=/usr/bin/ostree admin finalize-staged" ] ||
    die "ostree-finalize-staged.service's ExecStop= is not the one the drop-in repeats"
  stops=$(grep '^ExecStop=' "$S/ostree-finalize-staged.service.d/10-hull-boot-counting.conf" | tr '\n' '|')
  [ "$stops" = "ExecStop=|ExecStop=/usr/bin/hull internals arm-staged|ExecStop=/usr/bin/ostree admin finalize-staged|" ] ||
    die "the drop-in does not arm before it finalizes: $stops"
  log "ostree-finalize-staged.service arms, then finalizes"
else
  log "SKIP (ostree-boot could not be downloaded): the drop-in is checked by the e2e journey only"
fi

# The drop-in of README.md ("Automatic updates"), under either name.
for name in hull bootc; do
  d=$R/etc/systemd/system/$name-fetch-apply-updates.timer.d
  mkdir -p "$d"
  printf '[Timer]\nOnBootSec=\nOnBootSec=5min\nOnUnitInactiveSec=\nOnUnitInactiveSec=1h\nRandomizedDelaySec=0\n' \
    > "$d/10-often.conf"
  clean "$S/hull-fetch-apply-updates.timer"

  # verify reads that drop-in: a bad key in it is named.
  printf 'OnBootSecs=1\n' >> "$d/10-often.conf"
  out=$(verify "$S/hull-fetch-apply-updates.timer") || true
  [[ $out == *"$d/10-often.conf"*"Unknown key 'OnBootSecs'"* ]] || die "a bad key in $d/10-often.conf was not named: $out"
  rm -r "$d"
done

# ...and the ExecStart check: without /usr/bin/hull in the root, verify fails.
rm "$R/usr/bin/hull"
if out=$(verify "$S/hull-fetch-apply-updates.service"); then die "verify passed without /usr/bin/hull: $out"; fi
[[ $out == *"/usr/bin/hull"* ]] || die "verify did not name /usr/bin/hull: $out"
log "ok"
