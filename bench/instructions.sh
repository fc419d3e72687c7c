#!/usr/bin/env bash
# bench/instructions.sh: user-space instructions per command, limiterd against
# redis-server, counted by valgrind's callgrind while redis-benchmark drives
# each server with the workload of bench/compare.sh. Instruction counts do not
# move with the machine's load the way throughput does, so this is the figure
# to compare optimisations by (the kernel's share, syscalls and the network,
# is not counted: compare.sh measures everything together).
#
#   bench/instructions.sh               # about 4 minutes on 2 cores
#   bench/instructions.sh --requests 20000
#   bench/instructions.sh --requests 20000 --client   # the client's share
#
# Both servers run under callgrind, persistence off (see --appendfsync),
# limiterd --threads 1.
# After the setup load and one charge of every user (so the counted runs
# charge users that exist), for each command and pipeline depth, the counters are
# zeroed (callgrind_control -z), redis-benchmark -c 10 -P <p> -n N -r 10
# runs, and the counters are dumped (callgrind_control -d): the row is the
# dumped total / N (for limiterd, of the threads serving connections, not of
# the main thread's timer; see count()). The commands: PING and PING; a
# 3-level CREDITS.CONSUME (every level limited) and INCRBY, and EVALSHA of
# bench/lua/consume3.lua.
#
# Options: --requests N (per run, default 50000), --no-build, --out FILE,
# --appendfsync always|everysec (both servers with --appendonly yes and that
# policy; default persistence off: what an AOF adds to a request),
# --keep DIR (keep the callgrind files there, for callgrind_annotate),
# --client (count the client's instructions instead: the servers run
# natively and redis-benchmark under callgrind, twice, with N/2 and N
# requests; the row is the difference / (N - N/2), which drops its start-up.
# At -P 1 redis-benchmark is the busier process (compare.sh's client busy
# column), so what a reply costs it to parse sets that row's throughput),
# --cache-sim (also simulate the caches: first-level and last-level data
# misses per request, callgrind's model of a cache, not this CPU's; this
# machine's perf has no hardware counters).
# Environment: LIMITERD (binary; skips the build), REDIS_SERVER, BENCH_TMPDIR.
# Servers listen only on 127.0.0.1, on free ports, and are always stopped.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH_NAME=instructions
# shellcheck source=bench/lib.sh
source bench/lib.sh

requests=50000
build=1
out=""
keep=""
cache_sim=0
client=0
persist=off
while (($#)); do
  case "$1" in
    --requests) requests=$2; shift ;;
    --no-build) build=0 ;;
    --out) out=$2; shift ;;
    --keep) keep=$2; shift ;;
    --cache-sim) cache_sim=1 ;;
    --client) client=1 ;;
    --appendfsync) persist=$2; shift ;;
    -h|--help) help_text; exit 0 ;;
    *) bad_option "$1" ;;
  esac
  shift
done
require_positive "$requests"
case "$persist" in
  off|always|everysec) ;;
  *) echo "instructions.sh: --appendfsync takes always or everysec, not '$persist'" >&2; exit 2 ;;
esac

REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
RUN_TIMEOUT=900
START_TIMEOUT=120  # valgrind starts slowly
CLIENTS=10
PIPELINES=(1 16)

require redis-cli redis-benchmark python3 awk valgrind callgrind_control
[[ -x $REDIS_SERVER ]] || die "no redis-server at $REDIS_SERVER"
build_limiterd "$build"

make_workdir
on_exit() {  # --keep: the callgrind files, before WORK goes
  if [[ -n $keep ]]; then mkdir -p "$keep" && cp "$WORK"/keep/* "$keep"/ 2>/dev/null || true; fi
}

setup_lines limiterd | to_resp >"$WORK/setup.limiterd.resp"
setup_lines redis | to_resp >"$WORK/setup.redis.resp"
SETUP_COUNT=$(setup_lines redis | wc -l)

# warm_lines KIND: every one of the 100k users charged once (limiterd), or
# given its INCRBY counter in database 1 and its consume3.lua hash (redis), so
# the counted runs measure charging users that exist, as the long runs of
# compare.sh mostly do, not creating them.
warm_lines() {
  awk -v kind="$1" '
    function d(x) { return sprintf("%012d", x) }
    function each(cmd, tail) {
      for (a = 0; a < 10; a++) for (b = 0; b < 10; b++) for (c = 0; c < 10; c++)
        for (u = 0; u < 100; u++)
          print cmd " org:" d(a) d(b) "/project:" d(c) "/user:" d(int(u / 10)) d(u % 10) tail
    }
    BEGIN {
      if (kind == "limiterd") { each("CREDITS.CONSUME", " 1"); exit }
      print "SELECT 1"; each("INCRBY", " 1"); print "SELECT 0"; each("HSET", " used 1")
    }'
}
warm_lines limiterd | to_resp >"$WORK/warm.limiterd.resp"
warm_lines redis | to_resp >"$WORK/warm.redis.resp"

declare -A IR D1 DL

# client_run PORT PIPELINE DB N ARGS...: redis-benchmark's instructions for
# N requests of ARGS (the whole process, start-up included).
client_run() {
  local port=$1 p=$2 db=$3 n=$4 t; shift 4
  rm -f "$WORK/client.cg"
  timeout "$RUN_TIMEOUT" valgrind --tool=callgrind --callgrind-out-file="$WORK/client.cg" \
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -P "$p" -n "$n" -r "$RANDR" \
    --dbnum "$db" -q "$@" >"$WORK/bench.out" 2>&1 \
    || { cat "$WORK/bench.out" >&2; die "redis-benchmark under callgrind failed"; }
  t=$(awk '/^(summary|totals):/ { print $2; exit }' "$WORK/client.cg")
  [[ $t =~ ^[0-9]+$ ]] || die "no total in the client's callgrind file"
  echo "$t"
}

# count_client ID PORT PIPELINE DB ARGS...: the client's instructions per
# request of ARGS, without its start-up (two runs, N/2 and N requests).
count_client() {
  local id=$1 port=$2 p=$3 db=$4 half small large; shift 4
  half=$((requests / 2))
  small=$(client_run "$port" "$p" "$db" "$half" "$@")
  large=$(client_run "$port" "$p" "$db" "$requests" "$@")
  IR[$id]=$(((large - small) / (requests - half)))
  log "$(printf '%-24s %8s client instructions per request' "$id" "${IR[$id]}")"
}

# count ID NAME PORT PIPELINE DB ARGS...: instructions per request of ARGS.
count() {
  local id=$1 name=$2 port=$3 p=$4 db=$5 total d1 dl; shift 5
  if ((client)); then count_client "$id" "$port" "$p" "$db" "$@"; return; fi
  callgrind_control -z "$SRV_PID" >/dev/null || die "$name: callgrind_control -z failed"
  timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -P "$p" \
    -n "$requests" -r "$RANDR" --dbnum "$db" -q "$@" >"$WORK/bench.out" 2>&1 \
    || { cat "$WORK/bench.out" >&2; die "$id: redis-benchmark failed"; }
  rm -rf "$WORK/dump"; mkdir "$WORK/dump"
  callgrind_control -d "$SRV_PID" >/dev/null || die "$name: callgrind_control -d failed"
  # One file per thread (--separate-threads=yes), named <out>.<dump>-<thread>.
  for _ in $(seq 100); do
    compgen -G "$WORK/$name.cg.*.$dumps-*" >/dev/null && break
    sleep 0.1
  done
  sleep 0.5  # every thread's file
  total=0 d1=0 dl=0
  for f in "$WORK/$name.cg."*".$dumps-"*; do
    [[ -e $f ]] || die "$id: callgrind wrote no dump"
    local t m1 ml
    # events: Ir [Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw]; the summary in that order.
    read -r t m1 ml < <(awk '
      /^events:/ { for (i = 2; i <= NF; i++) col[$i] = i }
      /^(summary|totals):/ {
        print $(col["Ir"]), $(col["D1mr"]) + $(col["D1mw"]), $(col["DLmr"]) + $(col["DLmw"]); exit
      }' "$f")
    [[ $t =~ ^[0-9]+$ ]] || die "$id: no total in $f"
    # limiterd's thread 1 runs main(): accepting and the 10 Hz timer (the
    # idle sweep, INFO samples), work per second, not per command, which
    # callgrind's 50x slowdown would inflate 50x. Only the threads that
    # serve connections count. Redis has one thread: all of it counts.
    if [[ $name == limiterd && $f == *-01 ]]; then mv "$f" "$WORK/dump/"; continue; fi
    total=$((total + t)) d1=$((d1 + m1)) dl=$((dl + ml))
    mv "$f" "$WORK/dump/"
  done
  ((dumps += 1))
  IR[$id]=$((total / requests))
  D1[$id]=$(awk -v a="$d1" -v n="$requests" 'BEGIN { printf "%.1f", a / n }')
  DL[$id]=$(awk -v a="$dl" -v n="$requests" 'BEGIN { printf "%.1f", a / n }')
  mkdir -p "$WORK/keep"
  for f in "$WORK/dump/"*; do mv "$f" "$WORK/keep/${id//[|:]/-}.${f##*-}.cg"; done
  log "$(printf '%-24s %8s instructions per request' "$id" "${IR[$id]}")"
}

SRV_WRAP=(valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$WORK/%q{CG_NAME}.cg.%p")
((cache_sim)) && SRV_WRAP+=(--cache-sim=yes)
if ((client)); then
  ((cache_sim == 0)) || die "--client counts instructions only (no --cache-sim)"
  [[ -z $keep ]] || die "--client keeps no files (no --keep)"
  unset SRV_WRAP
  START_TIMEOUT=20
fi

export CG_NAME=limiterd
dumps=1
start_server limiterd limiterd "$persist" 1 ""
lport=$SRV_PORT
pipe_load limiterd "$lport" "$WORK/setup.limiterd.resp" "$SETUP_COUNT"
pipe_load limiterd "$lport" "$WORK/warm.limiterd.resp" 100000
reply=$(redis-cli -p "$lport" CREDITS.CONSUME "$KEY_ONE" 1 | head -n 1)
[[ $reply == 1 ]] || die "limiterd: CREDITS.CONSUME answered $reply"
for p in "${PIPELINES[@]}"; do
  count "L:PING|$p" limiterd "$lport" "$p" 0 PING
  count "L:CONSUME|$p" limiterd "$lport" "$p" 0 CREDITS.CONSUME "$KEY" 1
done
stop_pid "$SRV_PID"

export CG_NAME=redis
dumps=1
start_server redis redis "$persist" "" ""
rport=$SRV_PORT
pipe_load redis "$rport" "$WORK/setup.redis.resp" "$SETUP_COUNT"
pipe_load redis "$rport" "$WORK/warm.redis.resp" 200002
sha=$(redis-cli -p "$rport" -x SCRIPT LOAD <"$ROOT/bench/lua/consume3.lua")
[[ $sha =~ ^[0-9a-f]{40}$ ]] || die "redis: SCRIPT LOAD answered $sha"
for p in "${PIPELINES[@]}"; do
  count "R:PING|$p" redis "$rport" "$p" 0 PING
  count "R:INCRBY|$p" redis "$rport" "$p" 1 INCRBY "$KEY" 1
  count "R:EVALSHA|$p" redis "$rport" "$p" 0 EVALSHA "$sha" 1 "$KEY" 1
done
stop_pid "$SRV_PID"

report() {
  local p pair l r
  if ((client)); then
    echo "## The client's instructions per request, against limiterd / against redis-server ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "redis-benchmark under valgrind --tool=callgrind (user space only), -c $CLIENTS -r $RANDR, (N - N/2) requests of the"
    echo "difference between -n $requests and -n $((requests / 2)); the servers run natively; limiterd --threads 1;"
    echo "redis-server $("$REDIS_SERVER" --version | awk '{ print $3 }'). Ratios: against limiterd / against redis (above 1: its replies cost the client more)."
  else
    echo "## Instructions per request, limiterd / redis-server ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "valgrind --tool=callgrind (user space only); redis-benchmark -c $CLIENTS -n $requests -r $RANDR; limiterd --threads 1;"
    echo "redis-server $("$REDIS_SERVER" --version | awk '{ print $3 }'). Ratios: limiterd / redis (below 1: limiterd runs fewer instructions)."
  fi
  if [[ $persist == off ]]; then echo "Persistence off."; else echo "Both servers: --appendonly yes --appendfsync $persist."; fi
  ((cache_sim)) && echo "Misses: callgrind's simulated D1 and last-level data misses per request (its cache model, not this CPU's)."
  echo
  if ((cache_sim)); then
    echo "| -P | limiterd | redis | limiterd instructions | redis instructions | **ratio** | limiterd D1 / LL misses | redis D1 / LL misses |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|"
  else
    echo "| -P | limiterd | redis | limiterd instructions | redis instructions | **ratio** |"
    echo "|---:|---|---|---:|---:|---:|"
  fi
  for p in "${PIPELINES[@]}"; do
    for pair in "PING PING" "CONSUME INCRBY" "CONSUME EVALSHA"; do
      l="L:${pair% *}|$p"; r="R:${pair#* }|$p"
      printf '| %s | %s | %s | %s | %s | **%s** |' "$p" "$(label "${pair% *}")" "$(label "${pair#* }")" \
        "${IR[$l]}" "${IR[$r]}" "$(ratio "${IR[$l]}" "${IR[$r]}")"
      ((cache_sim)) && printf ' %s / %s | %s / %s |' "${D1[$l]}" "${DL[$l]}" "${D1[$r]}" "${DL[$r]}"
      echo
    done
  done
}
label() {
  case "$1" in
    CONSUME) echo "CREDITS.CONSUME" ;; EVALSHA) echo "EVALSHA consume3.lua" ;; *) echo "$1" ;;
  esac
}
if [[ -n $out ]]; then report | tee "$out"; else report; fi
