#!/bin/sh
# Installs dependencies, builds hull and runs every test tier (CTest labels
# unit, integration, e2e). Usage: scripts/test.sh [ctest args...]
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh all
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
ninja -C build
ctest --test-dir build --output-on-failure -j2 "$@"
