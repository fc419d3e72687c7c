#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test three times:
# a normal build (warnings are errors), ASan+UBSan, and TSan. ctest runs the
# unit tests, the in-process command tests and the black-box tests against
# the real binary with real clients. Last, bench/compare.sh --quick starts a
# Release limiterd beside redis-server as a smoke check of the benchmark, and
# bench/micro_smoke.sh builds and briefly runs every Google Benchmark binary
# (both assert nothing about speed). Set LIMITERD_TEST_BUILDS to a subset
# ("debug asan tsan bench") to run fewer while developing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

builds=${LIMITERD_TEST_BUILDS:-"debug asan tsan bench"}
jobs=${LIMITERD_JOBS:-$(nproc)}
for build in $builds; do
  case $build in
    debug) flags=(-DCMAKE_BUILD_TYPE=Debug) ;;
    asan) flags=(-DCMAKE_BUILD_TYPE=Debug -DLIMITERD_SANITIZE=address) ;;
    tsan) flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIMITERD_SANITIZE=thread) ;;
    bench)
      echo "=== bench smoke"
      bench/compare.sh --quick
      bench/micro_smoke.sh
      continue ;;
    *) echo "unknown build '$build'" >&2; exit 2 ;;
  esac
  echo "=== $build build"
  cmake -S . -B "build/$build" -G Ninja "${flags[@]}" -DLIMITERD_BUILD_BENCH=OFF >/dev/null
  ninja -C "build/$build" -j "$jobs"
  echo "=== $build tests"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  (cd "build/$build" && ctest --output-on-failure --no-tests=error -j "$jobs" --timeout 600)
done
