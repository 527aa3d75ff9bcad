# tests/lib/base-image.sh: the Debian base image for the tests that install
# or build disks from it. Source it from bash, then:
#
#   base_image HULL    sets BASE_IMAGE to $HULL_E2E_IMAGE if that is set
#                      (any image name hull reads), else to
#                      containers-storage:localhost/hull-debian:12, building
#                      that with images/debian/build.sh (and this HULL inside)
#                      first if buildah's storage does not have it — so that
#                      on a fresh machine the tests run instead of skipping.
#
#   need_tools T...    fails naming the tools that are not installed.

HULL_TESTS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

need_tools() {
  local t missing=
  for t in "$@"; do command -v "$t" >/dev/null || missing+=" $t"; done
  [ -z "$missing" ] || { echo "FAIL: not installed:$missing (run scripts/install-deps.sh all)" >&2; return 1; }
}

base_image() {
  local hull=$1
  if [ -n "${HULL_E2E_IMAGE:-}" ]; then
    BASE_IMAGE=$HULL_E2E_IMAGE
    return
  fi
  if ! buildah inspect --type image localhost/hull-debian:12 >/dev/null 2>&1; then
    echo "[base image] localhost/hull-debian:12 is not in buildah's storage: building it" >&2
    "$HULL_TESTS_ROOT/images/debian/build.sh" --hull "$hull" >&2
  fi
  BASE_IMAGE=containers-storage:localhost/hull-debian:12
}
