#!/bin/sh
# Installs dependencies, builds hull and runs every test tier (CTest labels
# unit, integration, e2e). The e2e tests boot QEMU (TCG) one at a time: two
# emulated machines on two cores would only slow each other past their
# timeouts. Usage: scripts/test.sh [ctest args...]
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh all
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
ninja -C build
status=0
ctest --test-dir build --output-on-failure -j2 -L 'unit|integration' "$@" || status=1
ctest --test-dir build --output-on-failure -j1 -L e2e "$@" || status=1
# The fuzz smoke run: every libFuzzer harness 5 s on its corpus (ASan + UBSan).
sh tests/fuzz/run.sh 5 || status=1
exit $status
