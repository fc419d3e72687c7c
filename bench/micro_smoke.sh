#!/usr/bin/env bash
# bench/micro_smoke.sh: builds every Google Benchmark binary of bench/ in
# Release and runs each briefly, as CI's smoke check that they still build
# (warnings are errors) and run: it fails if a binary exits non-zero or a
# benchmark reports an error (SkipWithError: a setup that answered an
# error, a command that did not run). It asserts nothing about speed.
#   bench/micro_smoke.sh       # about a minute after the daemon's Release build
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build/release"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIMITERD_BUILD_BENCH=ON >/dev/null
ninja -C "$BUILD" benchmarks
# fsync_bench's file goes where BENCH_TMPDIR says (a real disk); the others
# need nothing.
for bench in core_bench resp_bench command_bench read_bench fsync_bench; do
  rc=0
  out=$(timeout 300 "$BUILD/bench/$bench" --benchmark_min_time=0.01 2>&1) || rc=$?
  if ((rc != 0)); then
    echo "$out" >&2
    echo "micro_smoke: $bench exited with $rc" >&2
    exit 1
  fi
  if grep -q "ERROR OCCURRED" <<<"$out"; then
    echo "$out" >&2
    echo "micro_smoke: $bench reported an error" >&2
    exit 1
  fi
  echo "micro_smoke: $bench: $(grep -c '^BM_' <<<"$out") benchmarks ran"
done
