#!/bin/sh
# Fetches cosign 2.5 from Debian 13 (trixie) without touching the system's
# apt sources: a private apt configuration under the cache directory, the
# same mirror as /etc/apt/sources.list, `apt-get download` and
# `dpkg-deb -x`; nothing is installed. The binary is cached as
# /var/cache/hull/cosign/cosign (HULL_CACHE overrides /var/cache/hull)
# and its path printed. trixie's cosign depends on libc6 >= 2.34 only, so it
# runs on Debian 12.
set -eu
cache="${HULL_CACHE:-/var/cache/hull}/cosign"
bin="$cache/cosign"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$cache/lists/partial" "$cache/archives/partial" "$cache/x"
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$cache/trixie.list"
apt_opts="-o Dir::Etc::SourceList=$cache/trixie.list -o Dir::Etc::SourceParts=/dev/null
  -o Dir::State::Lists=$cache/lists -o Dir::Cache::Archives=$cache/archives
  -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Get::List-Cleanup=0"
apt-get $apt_opts -qq update >&2
(cd "$cache" && apt-get $apt_opts -qq download cosign >&2)
dpkg-deb -x "$cache"/cosign_*.deb "$cache/x"
install -m 0755 "$cache/x/usr/bin/cosign" "$bin"
rm -rf "$cache/x"
echo "$bin"
