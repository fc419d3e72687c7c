#!/usr/bin/env bash
# bench/snapshot.sh: snapshot save and load time of limiterd against
# redis-server, for the same limits, in one run on one machine.
#
#   bench/snapshot.sh                       # 1M and 10M limits (about 10 minutes, 12 GB RAM)
#   bench/snapshot.sh --limits 100000       # any list: --limits 100000,1000000
#
# For each count N: a fresh limiterd gets N LIMIT.SET (quota, monthly, one
# CREDITS.CONSUME each, so every limit has a counter), a fresh redis-server
# the same N limits as hashes (HSET key limit used reset_at, as the
# compare.sh Lua baseline keeps them). Then, on each:
#   save  the wall time of a SAVE (redis-cli, foreground on both);
#   load  a restart from that file: the time from exec to the first PONG
#         (Redis answers -LOADING until its RDB is in);
# and the file size. Ratios are limiterd / redis (below 1: limiterd faster).
#
# Options: --limits LIST (comma-separated), --no-build, --out FILE.
# Environment: LIMITERD (binary; skips the build), REDIS_SERVER, BENCH_TMPDIR.
# Servers listen only on 127.0.0.1, on free ports, and are always stopped.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH_NAME=snapshot
# shellcheck source=bench/lib.sh
source bench/lib.sh

counts="1000000,10000000"
build=1
out=""
while (($#)); do
  case "$1" in
    --limits) counts=$2; shift ;;
    --no-build) build=0 ;;
    --out) out=$2; shift ;;
    -h|--help) help_text; exit 0 ;;
    *) bad_option "$1" ;;
  esac
  shift
done
IFS=, read -r -a COUNTS <<<"$counts"
require_positive "${COUNTS[@]}"

REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
RUN_TIMEOUT=1800

make_workdir

require redis-cli python3 awk
build_limiterd "$build"

now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }

# start KIND DIR: starts the server on a free port with its files in DIR;
# sets PORT and PID, and STARTED (ns) to just before the exec. Returns once
# it answers PONG, so STARTED..now is its load time.
start() {
  local kind=$1 dir=$2 i reply
  PORT=$(free_port)
  local -a cmd
  if [[ $kind == limiterd ]]; then
    cmd=("$LIMITERD" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir")
  else
    cmd=("$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir "$dir")
  fi
  STARTED=$(now_ns)
  "${cmd[@]}" >>"$dir/log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  for ((i = 0; i < RUN_TIMEOUT * 100; i++)); do
    kill -0 "$PID" 2>/dev/null || { tail -n 20 "$dir/log" >&2; die "$kind did not start: ${cmd[*]}"; }
    reply=$(redis-cli -h 127.0.0.1 -p "$PORT" PING 2>/dev/null || true)
    [[ $reply == PONG ]] && return 0
    sleep 0.01
  done
  die "$kind did not answer PING within ${RUN_TIMEOUT}s"
}


RESET_AT=$(next_month_ms)
declare -A R
for n in "${COUNTS[@]}"; do
  for kind in limiterd redis; do
    dir=$WORK/$kind-$n
    mkdir -p "$dir"
    log "$kind: generating $n limits"
    if [[ $kind == limiterd ]]; then
      seq 0 $((n - 1)) | awk '{ print "LIMIT.SET snap:user:" $1 " HARD 1000 PERIOD monthly"; print "CREDITS.CONSUME snap:user:" $1 " 1" }' | to_resp >"$WORK/load.resp"
      file=$dir/dump.snap
    else
      seq 0 $((n - 1)) | awk -v r="$RESET_AT" '{ print "HSET snap:user:" $1 " limit 1000 used 1 reset_at " r }' | to_resp >"$WORK/load.resp"
      file=$dir/dump.rdb
    fi
    replies=$n; [[ $kind == limiterd ]] && replies=$((2 * n))
    start "$kind" "$dir"
    log "$kind: loading"
    pipe_load "$kind" "$PORT" "$WORK/load.resp" "$replies"
    rm -f "$WORK/load.resp"
    keys=$(redis-cli -h 127.0.0.1 -p "$PORT" DBSIZE)
    [[ $keys == "$n" ]] || die "$kind: DBSIZE $keys after loading $n"
    t0=$(now_ns)
    reply=$(timeout "$RUN_TIMEOUT" redis-cli -h 127.0.0.1 -p "$PORT" SAVE)
    t1=$(now_ns)
    [[ $reply == OK ]] || die "$kind: SAVE answered $reply"
    R[$kind.$n.save]=$(secs "$t0" "$t1")
    R[$kind.$n.size]=$(stat -c %s "$file")
    R[$kind.$n.rss]=$(info_field "$PORT" memory used_memory_rss)
    redis-cli -h 127.0.0.1 -p "$PORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    stop_pid "$PID"
    start "$kind" "$dir"
    R[$kind.$n.load]=$(secs "$STARTED" "$(now_ns)")
    keys=$(redis-cli -h 127.0.0.1 -p "$PORT" DBSIZE)
    [[ $keys == "$n" ]] || die "$kind: DBSIZE $keys after restart, $n saved"
    log "$kind $n: save ${R[$kind.$n.save]} s, load ${R[$kind.$n.load]} s, file ${R[$kind.$n.size]} B"
    redis-cli -h 127.0.0.1 -p "$PORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    stop_pid "$PID"
    rm -rf "$dir"
  done
done

report() {
  echo "## Snapshot save and load, limiterd / redis-server ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo); redis-server $("$REDIS_SERVER" --version | awk '{ print $3 }')."
  echo "SAVE wall time by redis-cli; load = exec to first PONG. Ratios: limiterd / redis (below 1: limiterd faster or smaller)."
  echo
  echo "| limits | limiterd SAVE s | redis SAVE s | **ratio** | limiterd load s | redis load s | **ratio** | limiterd file MB | redis file MB | ratio |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for n in "${COUNTS[@]}"; do
    printf '| %s | %s | %s | **%s** | %s | %s | **%s** | %s | %s | %s |\n' "$n" \
      "${R[limiterd.$n.save]}" "${R[redis.$n.save]}" "$(ratio "${R[limiterd.$n.save]}" "${R[redis.$n.save]}")" \
      "${R[limiterd.$n.load]}" "${R[redis.$n.load]}" "$(ratio "${R[limiterd.$n.load]}" "${R[redis.$n.load]}")" \
      "$((R[limiterd.$n.size] / 1000000))" "$((R[redis.$n.size] / 1000000))" "$(ratio "${R[limiterd.$n.size]}" "${R[redis.$n.size]}")"
  done
}
if [[ -n $out ]]; then report | tee "$out"; else report; fi
