#!/bin/bash
# A throw-away docker-registry (CNCF distribution, Debian's `docker-registry`)
# on 127.0.0.1, with filesystem storage in a temp dir.
#
# Source it:
#     . bench/lib/registry.sh
#     registry_start            # sets REGISTRY_PORT, REGISTRY_DIR, REGISTRY_PID
#     trap registry_stop EXIT
#     ... push to 127.0.0.1:$REGISTRY_PORT/...
#
# Call registry_start directly, not inside $(...): a command substitution is a
# subshell, so the variables it sets would be lost.
#
# Or run it as a command (for use by hand / from other languages):
#     bench/lib/registry.sh start   -> prints "PORT DIR"; the registry keeps running
#     bench/lib/registry.sh stop DIR
#
# Environment: REGISTRY_TMP (parent dir of the temp dir; default
# ${TMPDIR:-/var/tmp}), REGISTRY_BIN (default /usr/bin/docker-registry).

REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}

# Prints a TCP port that is free on 127.0.0.1 right now.
registry_free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local p
  while :; do
    p=$(( 20000 + RANDOM % 40000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# Writes the registry's config for port $1 into dir $2.
registry_write_config() {
  local port=$1 dir=$2
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
health:
  storagedriver:
    enabled: false
EOF
}

# Starts a registry; on success sets REGISTRY_PORT, REGISTRY_DIR, REGISTRY_PID
# and prints the port on stdout. Retries on a port race.
registry_start() {
  if [ ! -x "$REGISTRY_BIN" ]; then
    echo "registry.sh: $REGISTRY_BIN not found (scripts/install-deps.sh bench)" >&2
    return 1
  fi
  local parent=${REGISTRY_TMP:-${TMPDIR:-/var/tmp}}
  local attempt port dir pid
  for attempt in 1 2 3 4 5; do
    dir=$(mktemp -d "$parent/hull-registry.XXXXXX") || return 1
    port=$(registry_free_port) || return 1
    registry_write_config "$port" "$dir"
    "$REGISTRY_BIN" serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/pid"
    for _ in $(seq 1 100); do
      if curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null; then
        REGISTRY_PORT=$port REGISTRY_DIR=$dir REGISTRY_PID=$pid
        export REGISTRY_PORT REGISTRY_DIR REGISTRY_PID
        echo "$port"
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    echo "registry.sh: registry on port $port did not come up (attempt $attempt):" >&2
    tail -n 5 "$dir/registry.log" >&2
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    rm -rf "$dir"
  done
  return 1
}

# Stops the registry started by registry_start (or the one in dir $1) and
# removes its temp dir. Safe to call twice.
registry_stop() {
  local dir=${1:-${REGISTRY_DIR:-}} pid
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  pid=$(cat "$dir/pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    # wait only works on our own children; otherwise poll.
    wait "$pid" 2>/dev/null || while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -rf "$dir"
  if [ "$dir" = "${REGISTRY_DIR:-}" ]; then
    unset REGISTRY_PORT REGISTRY_DIR REGISTRY_PID
  fi
  return 0
}

# Run as a command rather than sourced.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -eu
  case "${1:-}" in
    start)
      registry_start >/dev/null
      echo "$REGISTRY_PORT $REGISTRY_DIR"
      ;;
    stop)
      [ -n "${2:-}" ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
      registry_stop "$2"
      ;;
    *) echo "usage: $0 start | stop DIR   (or source it: registry_start / registry_stop)" >&2; exit 2 ;;
  esac
fi
