#!/bin/sh
# Builds the libFuzzer harnesses (clang-14, ASan + UBSan, -DHULL_FUZZ=ON, in
# build-fuzz/) and runs each for SECONDS on its corpus (tests/fuzz/corpus/NAME,
# where new inputs are kept). Any crash, sanitizer report or leak fails the run;
# libFuzzer writes the input as crash-* in the current directory.
# Usage: tests/fuzz/run.sh [SECONDS] [NAME...]   (CI: 5 s each; a campaign: hours)
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-5}
[ $# -gt 0 ] && shift
names=${*:-"reference manifest auth registries_conf kargs bib_config toc policy layer"}
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHULL_FUZZ=ON >/dev/null
ninja -C build-fuzz fuzz
status=0
for n in $names; do
  mkdir -p tests/fuzz/corpus/$n
  if build-fuzz/tests/fuzz/${n}_fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 tests/fuzz/corpus/$n 2> build-fuzz/$n.log; then
    echo "fuzz $n: $(grep -o 'stat::number_of_executed_units: *[0-9]*' build-fuzz/$n.log | grep -o '[0-9]*$') runs in ${seconds} s, 0 crashes"
  else
    echo "fuzz $n: FAILED (see build-fuzz/$n.log)"; tail -30 build-fuzz/$n.log; status=1
  fi
done
exit $status
