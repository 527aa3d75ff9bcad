#!/bin/bash
# The main job on a fresh machine: install dependencies, build hull, build an
# image with buildah, serve it from a loopback docker-registry, and copy it
# with hull between the registry, an OCI layout and an oci-archive.
set -euo pipefail
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh all
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build hull
HULL=$PWD/build/src/cli/hull
WORK=$(mktemp -d /var/tmp/hull-main.XXXXXX)
. bench/lib/registry.sh
cleanup() { registry_stop || true; rm -rf "$WORK"; }
trap cleanup EXIT
registry_start
REG=127.0.0.1:$REGISTRY_PORT

# An image built from a Containerfile with buildah, as users build theirs.
mkdir -p "$WORK/ctx"
cp /bin/busybox "$WORK/ctx/busybox"
cat > "$WORK/ctx/Containerfile" <<'CF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /etc && echo hello > /etc/motd"]
LABEL containers.bootc=1 org.opencontainers.image.version=1
CF
B=(buildah --root "$WORK/buildah" --runroot "$WORK/buildah-run" --storage-driver vfs)
"${B[@]}" bud --isolation chroot -q -t localhost/hull-demo:1 "$WORK/ctx" >/dev/null
"${B[@]}" push -q --tls-verify=false localhost/hull-demo:1 "docker://$REG/demo/app:1"

set -x
"$HULL" image copy "docker://$REG/demo/app:1" "oci:$WORK/layout:1"
"$HULL" image copy "oci:$WORK/layout:1" "oci-archive:$WORK/app.tar:1"
"$HULL" image copy "oci-archive:$WORK/app.tar:1" "docker://$REG/demo/app:copy"
"$HULL" image inspect "docker://$REG/demo/app:copy"
skopeo inspect --tls-verify=false "docker://$REG/demo/app:copy" | grep Digest
