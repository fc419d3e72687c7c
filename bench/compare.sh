#!/usr/bin/env bash
# bench/compare.sh: limiterd against a real redis-server, side by side, in one
# run, driven by redis-benchmark at the same flags. docs/performance.md says
# what every column means. The report ends with the targets of issue 5,
# each read off the tables of the same run.
#
#   bench/compare.sh            # the full comparison (about 15 minutes on 2 cores)
#   bench/compare.sh --quick    # smoke check: few requests, persistence off only
#
# Options:
#   --quick          few requests, 10k limits for the memory row, only the
#                    persistence-off table (no appendfsync always / everysec
#                    tables, no pinned table)
#   --limits N       how many limits the memory row loads (default 1000000)
#   --requests N     requests per redis-benchmark run at -P 1 (-P 16 runs 5x,
#                    -P 64 runs 10x that, PING 3x / 5x more there, EVALSHA
#                    at most 2x; default 200000,
#                    --quick 4000)
#   --repeat N       run every measurement N times, the servers' runs of a
#                    pipeline depth alternating; each figure is the median of
#                    its runs (default 5, 1 with --quick: a single run of a
#                    -P 1 row moves by 10-20% on a shared machine, and a
#                    median of 3 still landed either side of 1.0 in rows
#                    where the client is the bottleneck)
#   --no-build       do not build; use $LIMITERD or build/release/server/limiterd
#   --out FILE       also write the tables (markdown) to FILE
#
# Environment: LIMITERD (a limiterd binary: skips the build), REDIS_SERVER
# (default /usr/bin/redis-server), BENCH_TMPDIR (where the servers' --dir go;
# default $TMPDIR or /tmp: it must be a real disk for appendfsync always to mean
# anything), BENCH_THREADS (limiterd's --threads in the first tables; default 0,
# the daemon's own default, which the table headers print resolved).
#
# Exits non-zero if a server fails to start, a setup load or a command answers
# an error, or a redis-benchmark run fails or times out. It asserts nothing about
# speed. Servers listen only on 127.0.0.1, on free ports, and are always stopped.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH_NAME=compare
# shellcheck source=bench/lib.sh
source bench/lib.sh

quick=0
limits=""
requests=""
repeat=""
build=1
out=""
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --limits) limits=$2; shift ;;
    --requests) requests=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --no-build) build=0 ;;
    --out) out=$2; shift ;;
    -h|--help) help_text; exit 0 ;;
    *) bad_option "$1" ;;
  esac
  shift
done
if ((quick)); then
  : "${limits:=10000}" "${requests:=4000}" "${repeat:=1}"
else
  : "${limits:=1000000}" "${requests:=200000}" "${repeat:=5}"
fi
require_positive "$limits" "$requests" "$repeat"

REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
NPROC=$(nproc)
THREADS=${BENCH_THREADS:-0}
CLIENTS=50
PIPELINES=(1 16 64)
# Every redis-benchmark run and every load is bounded in time.
if ((quick)); then RUN_TIMEOUT=30; else RUN_TIMEOUT=600; fi
START_TIMEOUT=15  # seconds for a server to answer PING

require redis-cli redis-benchmark python3 awk
[[ -x $REDIS_SERVER ]] || { echo "compare.sh: no redis-server at $REDIS_SERVER" >&2; exit 1; }


# ---------------------------------------------------------------- build
t_start=$(date +%s)
build_limiterd "$build"
t_built=$(date +%s)

# ---------------------------------------------------------------- servers
make_workdir

cli() { local port=$1; shift; timeout "$RUN_TIMEOUT" redis-cli -h 127.0.0.1 -p "$port" "$@"; }

# check_cmd NAME PORT EXPECT ARGS...: runs one command with redis-cli and fails
# on an error reply; EXPECT is a regexp the first line of the reply must match.
check_cmd() {
  local name=$1 port=$2 expect=$3 reply; shift 3
  reply=$(cli "$port" --no-raw "$@" 2>&1) || die "$name: redis-cli failed on: $*: $reply"
  if grep -q '^(error)' <<<"$reply" || ! grep -Eq "$expect" <<<"$(head -n 1 <<<"$reply")"; then
    die "$name: '$*' answered: $reply"
  fi
}


RESET_AT=$(next_month_ms)
setup_lines limiterd | to_resp >"$WORK/setup.limiterd.resp"
setup_lines redis | to_resp >"$WORK/setup.redis.resp"
SETUP_COUNT=$(setup_lines redis | wc -l)

# Results: RPS[id], P50[id], P99[id], and CPU[id] (the server's CPU time
# per request, us) and BUSY[id] (redis-benchmark's CPU time over its wall
# time, %), id = "table|P|test". When the client is near 100% busy it is the
# bottleneck: the rps ratio then says more about the client than about the
# servers, and CPU per request is what tells their costs apart.
declare -A RPS P50 P99 CPU BUSY NOTE
CLK_TCK=$(getconf CLK_TCK)

# run_requests COMMAND P: how many requests a run of COMMAND at -P P makes.
run_requests() {
  local n
  case "$2" in 1) n=$requests ;; 16) n=$((requests * 5)) ;; *) n=$((requests * 10)) ;; esac
  # The Lua baseline runs 10x slower than the rest: fewer requests keep its
  # runs about as long as the others' (the rate is compared, not the count).
  if [[ $1 == EVALSHA ]] && ((n > requests * 2)); then n=$((requests * 2)); fi
  # PING runs 1.5-3x faster than CONSUME at -P 16 and -P 64: 3x and 5x the
  # requests keep its runs about 2 s long too. A run under a second moves
  # with every hiccup of a shared machine: five alternating rounds of 1M
  # PINGs at -P 16 (0.7 s) ranged 1.28-1.49M rps against limiterd and
  # 1.35-1.44M against Redis, of 5M (3.4 s) 1.48-1.50M and 1.38-1.44M.
  if [[ $1 == PING ]]; then
    case "$2" in 16) n=$((n * 3)) ;; 64) n=$((n * 5)) ;; esac
  fi
  echo "$n"
}

# bench_run ID PORT PID PIPELINE PIN DB ARGS...: one redis-benchmark run of
# the command ARGS in database DB, on the server PID listening on PORT; its
# figures go to ID's list of runs (bench_result takes the median).
bench_run() {
  local id=$1 port=$2 pid=$3 p=$4 pin=$5 db=$6 n line rc ticks0 ticks1 client cpu busy; shift 6
  n=$(run_requests "$1" "$p")
  local -a pre=()
  [[ -n $pin ]] && pre=(taskset -c "$pin")
  rc=0
  ticks0=$(proc_cpu_ticks "$pid")
  { TIMEFORMAT='%R %U %S'; time timeout "$RUN_TIMEOUT" "${pre[@]}" redis-benchmark -h 127.0.0.1 \
    -p "$port" -c "$CLIENTS" -P "$p" -n "$n" -r "$RANDR" --dbnum "$db" --csv "$@" \
    >"$WORK/bench.out" 2>"$WORK/bench.err"; } 2>"$WORK/bench.time" || rc=$?
  ticks1=$(proc_cpu_ticks "$pid")
  if ((rc != 0)); then
    cat "$WORK/bench.err" "$WORK/bench.out" >&2
    ((rc == 124)) && die "$id: redis-benchmark took over ${RUN_TIMEOUT}s"
    die "$id: redis-benchmark exited $rc"
  fi
  # "title","rps","avg","min","p50","p95","p99","max"
  line=$(tail -n 1 "$WORK/bench.out" | awk -F'","' '{ print $2, $5, $7 }')
  [[ $line =~ ^[0-9.]+\ [0-9.]+\ [0-9.]+$ ]] || { cat "$WORK/bench.out" "$WORK/bench.err" >&2; die "$id: cannot parse redis-benchmark's output"; }
  read -r client <"$WORK/bench.time"
  cpu=$(awk -v t=$((ticks1 - ticks0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.3f", t * 1e6 / hz / n }')
  busy=$(awk -v c="$client" 'BEGIN { split(c, t, " "); printf "%.0f", (t[1] > 0 ? (t[2] + t[3]) * 100 / t[1] : 0) }')
  echo "$line $cpu $busy" >>"$WORK/runs.${id//[|:]/_}"
}

# bench_result ID: ID's measurement: each figure the median of its own runs.
# (The run of median throughput has whichever p99 it had; the median of
# the p99s is steadier on a shared machine.)
bench_result() {
  local id=$1 file k mid
  file="$WORK/runs.${id//[|:]/_}"
  local -a fig=()
  mid=$(((repeat + 1) / 2))
  for k in 1 2 3 4 5; do
    fig+=("$(awk -v k=$k '{ print $k }' "$file" | sort -g | sed -n "${mid}p")")
  done
  read -r "RPS[$id]" "P50[$id]" "P99[$id]" "CPU[$id]" "BUSY[$id]" <<<"${fig[*]}"
  log "$(printf '%-34s %12s rps  p50 %s ms  p99 %s ms  server %s us/req  client %s%% busy  (runs: %s rps)' "$id" \
    "${RPS[$id]}" "${P50[$id]}" "${P99[$id]}" "${CPU[$id]}" "${BUSY[$id]}" \
    "$(awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 }' "$file")")"
}

# With an AOF, both servers rewrite it on their own when it has grown by
# auto-aof-rewrite-percentage over its last rewrite (and is at least
# auto-aof-rewrite-min-size): here every second or two of CONSUME or
# INCRBY. A rewrite set off by one run's writes would otherwise fall on the
# next run, of either server and whichever command (a PING run that met
# one: 1.23M rps and a 3.9 ms p99, the next 1.40M), and on a 2-core machine
# it takes its CPU from the client too. So each run of an AOF table starts
# once neither server has a rewrite or a save running, scheduled or due;
# rewrites the run's own writes set off stay in it. SETTLE_WAIT[TABLE] sums
# the seconds waited, SETTLE_WAITS[TABLE] counts the waits.
SETTLE_TIMEOUT=60  # seconds; then the run starts anyway, and the table says so
declare -A SETTLE_WAIT SETTLE_WAITS

# rewrite_rule PORT: the server's "auto-aof-rewrite-percentage
# auto-aof-rewrite-min-size" (CONFIG GET: both servers answer bytes).
rewrite_rule() {
  local rule
  rule="$(cli "$1" CONFIG GET auto-aof-rewrite-percentage | sed -n 2p) $(cli "$1" CONFIG GET auto-aof-rewrite-min-size | sed -n 2p)"
  [[ $rule =~ ^[0-9]+\ [0-9]+$ ]] || die "port $1: CONFIG GET auto-aof-rewrite-* answered: $rule"
  echo "$rule"
}

# busy_persisting PORT RULE: prints why the server on PORT is not settled
# (nothing when it is). "due" reads its auto-rewrite RULE (rewrite_rule) as
# both servers do: grown >= percentage over max(aof_base_size, 1), and >=
# the min size.
busy_persisting() {
  local port=$1 pct min
  read -r pct min <<<"$2"
  cli "$port" INFO persistence | tr -d '\r' | awk -F: -v pct="$pct" -v min="$min" '
    { v[$1] = $2 }
    END {
      base = v["aof_base_size"] > 0 ? v["aof_base_size"] : 1
      cur = v["aof_current_size"] + 0
      if (v["aof_rewrite_in_progress"]) print "rewriting"
      else if (v["aof_rewrite_scheduled"]) print "rewrite scheduled"
      else if (v["rdb_bgsave_in_progress"]) print "saving"
      else if (pct > 0 && cur >= min && (cur - base) * 100 / base >= pct) print "rewrite due"
    }'
}

# settle TABLE PORT RULE PORT RULE: waits until neither server (PORT, with
# its RULE) is busy persisting.
settle() {
  local table=$1 why i t0 t1; shift
  t0=$(date +%s%N)
  for ((i = 0; ; i++)); do
    why="$(busy_persisting "$1" "$2")$(busy_persisting "$3" "$4")"
    [[ -z $why ]] && break
    if (($(date +%s%N) - t0 >= SETTLE_TIMEOUT * 1000000000)); then
      NOTE[$table]+="${NOTE[$table]:+; }a run started after ${SETTLE_TIMEOUT}s with a server still busy ($why)"
      log "WARNING: $table: still $why after ${SETTLE_TIMEOUT}s; running anyway"
      break
    fi
    sleep 0.1
  done
  t1=$(date +%s%N)
  if ((i > 0)); then
    SETTLE_WAITS[$table]=$((${SETTLE_WAITS[$table]:-0} + 1))
    SETTLE_WAIT[$table]=$(awk -v a="${SETTLE_WAIT[$table]:-0}" -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", a + d / 1e9 }')
  fi
}

# run_table TABLE PERSIST THREADS SERVER_PIN CLIENT_PIN
run_table() {
  local table=$1 persist=$2 threads=$3 spin=$4 cpin=$5 lport rport lpid rpid sha p aof lrule rrule
  start_server "limiterd-$table" limiterd "$persist" "$threads" "$spin"; lport=$SRV_PORT; lpid=$SRV_PID
  start_server "redis-$table" redis "$persist" "" "$spin"; rport=$SRV_PORT; rpid=$SRV_PID

  if [[ $persist != off ]]; then
    aof=$(info_field "$lport" persistence aof_enabled)
    if [[ $aof != 1 ]]; then
      NOTE[$table]="limiterd reports aof_enabled:${aof:-?} with --appendonly yes: its rows here do no AOF write and no fsync"
      log "WARNING: ${NOTE[$table]}"
    fi
  fi
  NOTE[$table.threads]=$(info_field "$lport" server threads)

  pipe_load "limiterd-$table" "$lport" "$WORK/setup.limiterd.resp" "$SETUP_COUNT"
  pipe_load "redis-$table" "$rport" "$WORK/setup.redis.resp" "$SETUP_COUNT"
  sha=$(cli "$rport" -x SCRIPT LOAD <"$ROOT/bench/lua/consume3.lua")
  [[ $sha =~ ^[0-9a-f]{40}$ ]] || die "redis-$table: SCRIPT LOAD bench/lua/consume3.lua answered: $sha"

  # Every command once, by hand: no error, and CONSUME takes the accept path.
  check_cmd "limiterd-$table" "$lport" '^"?PONG"?$' PING
  check_cmd "limiterd-$table" "$lport" '^1\) \(integer\) 1$' CREDITS.CONSUME "$KEY_ONE" 1
  check_cmd "redis-$table" "$rport" '^"?PONG"?$' PING
  # INCRBY's keys live in database 1: the hashes of consume3.lua are in 0.
  check_cmd "redis-$table" "$rport" '^\(integer\) [0-9]+$' -n 1 INCRBY "$KEY_ONE" 1
  check_cmd "redis-$table" "$rport" '^1\) \(integer\) 1$' EVALSHA "$sha" 1 "$KEY_ONE" 1

  # With --repeat, the runs of a pipeline depth alternate between the
  # servers (L R L R ...), so that a slow minute of this shared machine
  # falls on both sides of a ratio, not on one.
  local i test
  if [[ $persist != off ]]; then lrule=$(rewrite_rule "$lport"); rrule=$(rewrite_rule "$rport"); fi
  # settled_run ID PORT PID DB ARGS...: one run at depth p (run_table's locals),
  # once the servers settled.
  settled_run() {
    [[ $persist != off ]] && settle "$table" "$lport" "$lrule" "$rport" "$rrule"
    bench_run "$1" "$2" "$3" "$p" "$cpin" "${@:4}"
  }
  for p in "${PIPELINES[@]}"; do
    for ((i = 0; i < repeat; i++)); do
      settled_run "$table|$p|L:PING" "$lport" "$lpid" 0 PING
      settled_run "$table|$p|R:PING" "$rport" "$rpid" 0 PING
      settled_run "$table|$p|L:CONSUME" "$lport" "$lpid" 0 CREDITS.CONSUME "$KEY" 1
      settled_run "$table|$p|R:INCRBY" "$rport" "$rpid" 1 INCRBY "$KEY" 1
      settled_run "$table|$p|R:EVALSHA" "$rport" "$rpid" 0 EVALSHA "$sha" 1 "$KEY" 1
    done
    for test in L:PING R:PING L:CONSUME R:INCRBY R:EVALSHA; do bench_result "$table|$p|$test"; done
  done

  # Still the accept path after the load (nothing was denied along the way).
  check_cmd "limiterd-$table" "$lport" '^1\) \(integer\) 1$' CREDITS.CONSUME "$KEY_ONE" 1
  check_cmd "redis-$table" "$rport" '^1\) \(integer\) 1$' EVALSHA "$sha" 1 "$KEY_ONE" 1
  NOTE[$table.lusers]=$(cli "$lport" DBSIZE)
  NOTE[$table.rkeys]=$(cli "$rport" DBSIZE)
  if [[ $persist != off ]]; then
    NOTE[$table.rewrites]="AOF rewrites: limiterd $(info_field "$lport" persistence aof_rewrites), redis $(info_field "$rport" persistence aof_rewrites); the runs waited for the servers to settle ${SETTLE_WAITS[$table]:-0} time(s), ${SETTLE_WAIT[$table]:-0} s in all"
  fi

  stop_pid "$lpid"; stop_pid "$rpid"
}


# The memory row: LIMITS quota limits loaded with LIMIT.SET into a fresh
# limiterd, and the same limits as hashes into a fresh redis-server.
run_memory() {
  local lport rport lpid rpid lu0 lr0 ru0 rr0 lu1 lr1 ru1 rr1 lu2 lr2
  start_server limiterd-mem limiterd off "$THREADS" ""; lport=$SRV_PORT; lpid=$SRV_PID
  start_server redis-mem redis off "" ""; rport=$SRV_PORT; rpid=$SRV_PID
  log "memory: generating $limits limits"
  seq 0 $((limits - 1)) | awk -v big=1000 '{ print "LIMIT.SET mem:user:" $1 " HARD " big " PERIOD monthly" }' \
    | to_resp >"$WORK/mem.limiterd.resp"
  seq 0 $((limits - 1)) | awk -v big=1000 -v reset="$RESET_AT" '{ print "HSET mem:user:" $1 " limit " big " used 0 reset_at " reset }' \
    | to_resp >"$WORK/mem.redis.resp"
  check_cmd limiterd-mem "$lport" '^OK$' LIMIT.SET mem:check HARD 1000 PERIOD monthly
  check_cmd redis-mem "$rport" '^\(integer\) 3$' HSET mem:check limit 1000 used 0 reset_at "$RESET_AT"
  sleep 1
  lu0=$(info_field "$lport" memory used_memory); lr0=$(info_field "$lport" memory used_memory_rss)
  ru0=$(info_field "$rport" memory used_memory); rr0=$(info_field "$rport" memory used_memory_rss)
  pipe_load limiterd-mem "$lport" "$WORK/mem.limiterd.resp" "$limits"
  pipe_load redis-mem "$rport" "$WORK/mem.redis.resp" "$limits"
  sleep 1
  lu1=$(info_field "$lport" memory used_memory); lr1=$(info_field "$lport" memory used_memory_rss)
  ru1=$(info_field "$rport" memory used_memory); rr1=$(info_field "$rport" memory used_memory_rss)
  MEM_L_USED=$(((lu1 - lu0) / limits)); MEM_L_RSS=$(((lr1 - lr0) / limits))
  MEM_R_USED=$(((ru1 - ru0) / limits)); MEM_R_RSS=$(((rr1 - rr0) / limits))
  log "memory: limiterd used_memory $lu0 -> $lu1, rss $lr0 -> $lr1; redis used_memory $ru0 -> $ru1, rss $rr0 -> $rr1"
  # The second row: every limit charged once, so limiterd keeps a counter
  # for it too (Redis's hash holds its `used` from the start).
  seq 0 $((limits - 1)) | awk '{ print "CREDITS.CONSUME mem:user:" $1 " 1" }' | to_resp >"$WORK/mem.limiterd.resp"
  pipe_load limiterd-mem "$lport" "$WORK/mem.limiterd.resp" "$limits"
  sleep 1
  lu2=$(info_field "$lport" memory used_memory); lr2=$(info_field "$lport" memory used_memory_rss)
  MEM_L_USED2=$(((lu2 - lu0) / limits)); MEM_L_RSS2=$(((lr2 - lr0) / limits))
  log "memory: limiterd with counters used_memory $lu0 -> $lu2, rss $lr0 -> $lr2"
  stop_pid "$lpid"; stop_pid "$rpid"
  rm -f "$WORK/mem.limiterd.resp" "$WORK/mem.redis.resp"
}

# ---------------------------------------------------------------- run
TABLES=(off)
((quick)) || TABLES+=(always everysec)
PINNED=0
if ((!quick)) && ((NPROC >= 2)) && command -v taskset >/dev/null; then PINNED=1; fi

run_table off off "$THREADS" "" ""
((quick)) || run_table always always "$THREADS" "" ""
((quick)) || run_table everysec everysec "$THREADS" "" ""
run_memory
((PINNED)) && run_table pinned off 1 0 1
t_end=$(date +%s)

# ---------------------------------------------------------------- report
krps() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1000 }'; }

# each_row TABLE FN: FN P L R L_LABEL R_LABEL for every row of a table (L
# and R the two servers' result ids).
each_row() {
  local table=$1 fn=$2 p pair
  for p in "${PIPELINES[@]}"; do
    for pair in "PING PING" "CONSUME INCRBY" "CONSUME EVALSHA"; do
      "$fn" "$p" "$table|$p|L:${pair% *}" "$table|$p|R:${pair#* }" \
        "$(label "${pair% *}")" "$(label "${pair#* }")"
    done
  done
}

rps_row() {
  local p=$1 l=$2 r=$3
  printf '| %s | %s | %s | %s | %s | **%s** | %s | %s | %s | %s | %s | %s |\n' "$p" "$4" "$5" \
    "$(krps "${RPS[$l]}")" "$(krps "${RPS[$r]}")" "$(ratio "${RPS[$l]}" "${RPS[$r]}")" \
    "${P50[$l]}" "${P50[$r]}" "$(ratio "${P50[$l]}" "${P50[$r]}")" \
    "${P99[$l]}" "${P99[$r]}" "$(ratio "${P99[$l]}" "${P99[$r]}")"
}
print_table() {
  echo "| -P | limiterd | redis | limiterd krps | redis krps | **rps ratio** | limiterd p50 | redis p50 | p50 ratio | limiterd p99 | redis p99 | p99 ratio |"
  echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  each_row "$1" rps_row
}

# What each request cost the server, and how busy the client was.
cpu_row() {
  local p=$1 l=$2 r=$3 cpu_ratio
  cpu_ratio=$(ratio "${CPU[$l]}" "${CPU[$r]}")
  # A run shorter than one clock tick of server CPU (--quick) has no ratio.
  [[ ${CPU[$l]} == 0.000 ]] && cpu_ratio="-"
  printf '| %s | %s | %s | %s | %s | **%s** | %s%% | %s%% |\n' "$p" "$4" "$5" \
    "${CPU[$l]}" "${CPU[$r]}" "$cpu_ratio" "${BUSY[$l]}" "${BUSY[$r]}"
}
print_cpu_table() {
  echo "| -P | limiterd | redis | limiterd CPU us/req | redis CPU us/req | **CPU ratio** | client busy, limiterd run | client busy, redis run |"
  echo "|---:|---|---|---:|---:|---:|---:|---:|"
  each_row "$1" cpu_row
}
label() {
  case "$1" in
    CONSUME) echo "CREDITS.CONSUME" ;; EVALSHA) echo "EVALSHA consume3.lua" ;; *) echo "$1" ;;
  esac
}

# ------------------------------------------------------------- targets
# The targets of issue 5 read off this run's tables: a line each, with the
# figures it rests on and whether they meet it. A rate or p99 ratio on the
# wrong side of 1 where redis-benchmark was at least CLIENT_BOUND% busy
# against both servers says "client-bound": the client's own loop decided
# both rates and latencies, so the ratio is the client's noise, and the CPU
# ratio is what compares the servers.
CLIENT_BOUND=95
declare -A TABLE_NAME=([off]="no AOF" [always]="always" [everysec]="everysec" [pinned]="per core")
# ge A B: both are figures (not ratio's "-") and A >= B.
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "-" && b != "-" && a + 0 >= b + 0) }'; }

# client_bound_note L R: for a miss of the runs L and R (keys of BUSY and
# CPU), " (client-bound: ...)" when the client was CLIENT_BOUND% busy
# against both servers; else nothing.
client_bound_note() {
  local l=$1 r=$2
  ((BUSY[$l] >= CLIENT_BOUND && BUSY[$r] >= CLIENT_BOUND)) || return 0
  printf ' (client-bound: client %s%% / %s%% busy; server CPU ratio %s)' \
    "${BUSY[$l]}" "${BUSY[$r]}" "$(ratio "${CPU[$l]}" "${CPU[$r]}")"
}

# rate_misses TABLE L_TEST R_TEST MIN: the rate ratios of L_TEST / R_TEST at
# each -P, "a / b / c", then on a second line the ones below MIN, explained.
rate_misses() {
  local table=$1 lt=$2 rt=$3 min=$4 p l r q figs="" miss=""
  for p in "${PIPELINES[@]}"; do
    l="$table|$p|L:$lt"; r="$table|$p|R:$rt"
    q=$(ratio "${RPS[$l]}" "${RPS[$r]}")
    figs+="${figs:+ / }$q"
    ge "$q" "$min" && continue
    miss+="${miss:+; }-P $p $q$(client_bound_note "$l" "$r")"
  done
  printf '%s\n%s\n' "$figs" "$miss"
}

target_row() {  # TARGET FIGURES MISSES [MET]
  printf '| %s | %s | %s |\n' "$1" "$2" "${4:-$([[ -z $3 ]] && echo yes || echo "**no**: $3")}"
}

# rate_target LABEL TABLE L_TEST R_TEST MIN
rate_target() {
  local figs miss
  if [[ -z ${RPS[$2|1|L:$3]:-} ]]; then
    target_row "$1" "not measured in this run" "" "-"
    return
  fi
  { read -r figs; read -r miss; } < <(rate_misses "$2" "$3" "$4" "$5")
  target_row "$1" "$figs" "$miss"
}

print_targets() {
  local table p q l r n=0 all_tables=("${TABLES[@]}") misses="" figs="" mem1 mem2 depths="${PIPELINES[*]}"
  ((PINNED)) && all_tables+=(pinned)
  echo "| target | this run (-P ${depths// / / }) | met |"
  echo "|---|---|---|"
  rate_target "CREDITS.CONSUME >= 1.0x INCRBY, default threads" off CONSUME INCRBY 1
  rate_target "CREDITS.CONSUME >= 1.0x INCRBY, per core" pinned CONSUME INCRBY 1
  rate_target "CREDITS.CONSUME >= 1.0x INCRBY, appendfsync always" always CONSUME INCRBY 1
  q=$(ratio "${RPS[off|16|L:CONSUME]}" "${RPS[off|16|R:EVALSHA]}")
  target_row "CREDITS.CONSUME >= 6x the Lua 3-level script at -P 16" "$q" "$(ge "$q" 6 || echo "$q")"
  for table in "${all_tables[@]}"; do
    { read -r figs; read -r q; } < <(rate_misses "$table" PING PING 1)
    [[ -n $q ]] && misses+="${misses:+; }${TABLE_NAME[$table]} $q"
  done
  target_row "PING >= 1.0x PING (every table)" "${#all_tables[@]} table(s)" "$misses"
  misses=""
  for table in "${all_tables[@]}"; do
    for p in "${PIPELINES[@]}"; do
      for pair in "PING PING" "CONSUME INCRBY"; do
        l="$table|$p|L:${pair% *}"; r="$table|$p|R:${pair#* }"
        q=$(ratio "${P99[$l]}" "${P99[$r]}")
        n=$((n + 1))
        [[ $q != - ]] && ! ge 1 "$q" &&
          misses+="${misses:+; }${TABLE_NAME[$table]} -P $p ${pair% *} $q$(client_bound_note "$l" "$r")"
      done
    done
  done
  target_row "p99 <= Redis's (PING, and CONSUME against INCRBY)" "$n rows" "$misses"
  # The issue's row is the limits as set (Redis's hashes hold used = 0, a
  # fresh limiterd limit reads as 0 used); the second row, every limit
  # charged once, is said beside it, met or not.
  mem1=$(ratio "$MEM_L_USED" "$MEM_R_USED"); mem2=$(ratio "$MEM_L_USED2" "$MEM_R_USED")
  misses="$(ge 0.5 "$mem1" && echo yes || echo "**no**: $mem1")"
  misses+="; each charged once (a counter too): $(ge 0.5 "$mem2" && echo "within 0.5x" || echo "above 0.5x ($mem2)")"
  target_row "memory per limit <= 0.5x Redis's hashes (used_memory)" "$mem1 as set, $mem2 each charged once" "" "$misses"
}

report() {
  local cpu redis_v lim_v
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  redis_v=$("$REDIS_SERVER" --version | awk '{ print $3 }')
  lim_v=$("$LIMITERD" --version 2>/dev/null | awk '{ print $2 }' || true)
  echo "## limiterd / redis-server ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Machine: $NPROC CPUs, $cpu; limiterd ${lim_v:-?} ($LIMITERD), redis-server ${redis_v}."
  echo "redis-benchmark -c $CLIENTS -P {${PIPELINES[*]}} -r $RANDR --csv, -n $(run_requests INCRBY 1) / $(run_requests INCRBY 16) / $(run_requests INCRBY 64) at -P 1 / 16 / 64"
  echo "(PING $(run_requests PING 16) / $(run_requests PING 64) at -P 16 / 64, EVALSHA at most $(run_requests EVALSHA 64)), each figure the median of $repeat run(s);"
  echo "key \`$KEY\` (100 orgs x 10 projects x 100 users); latencies in ms (per pipeline round trip)."
  echo "Ratios are limiterd / redis: above 1 is limiterd faster for krps, slower for latency;"
  echo "below 1 is limiterd cheaper for CPU per request (the server process's user + system"
  echo "time over the run, /proc/PID/stat, in ${CLK_TCK} Hz ticks, per request). Client busy is"
  echo "redis-benchmark's CPU time over its wall time: near 100%, the client is the bottleneck."
  local table
  for table in "${TABLES[@]}"; do
    echo
    case "$table" in
      off) echo "### Persistence off, limiterd --threads ${NOTE[off.threads]:-$THREADS}, redis-server single-threaded, nothing pinned" ;;
      always|everysec) echo "### appendonly yes, appendfsync $table, limiterd --threads ${NOTE[$table.threads]:-$THREADS}, nothing pinned" ;;
    esac
    [[ -n ${NOTE[$table]:-} ]] && { echo; echo "**Note:** ${NOTE[$table]}."; }
    [[ -n ${NOTE[$table.rewrites]:-} ]] && { echo; echo "${NOTE[$table.rewrites]} (each run starts with no rewrite running, scheduled or due on either server)."; }
    echo
    print_table "$table"
    echo
    print_cpu_table "$table"
  done
  echo
  echo "### Memory per limit ($limits limits: LIMIT.SET into limiterd, HSET key limit/used/reset_at into redis)"
  echo
  echo "| limits | limiterd used_memory/limit | redis used_memory/limit | **ratio** | limiterd RSS/limit | redis RSS/limit | ratio |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  printf '| %s | %s B | %s B | **%s** | %s B | %s B | %s |\n' "$limits" "$MEM_L_USED" "$MEM_R_USED" \
    "$(ratio "$MEM_L_USED" "$MEM_R_USED")" "$MEM_L_RSS" "$MEM_R_RSS" "$(ratio "$MEM_L_RSS" "$MEM_R_RSS")"
  printf '| %s, each charged once (a counter too) | %s B | %s B | **%s** | %s B | %s B | %s |\n' "$limits" \
    "$MEM_L_USED2" "$MEM_R_USED" "$(ratio "$MEM_L_USED2" "$MEM_R_USED")" "$MEM_L_RSS2" "$MEM_R_RSS" \
    "$(ratio "$MEM_L_RSS2" "$MEM_R_RSS")"
  if ((PINNED)); then
    echo
    echo "### Per core: limiterd --threads ${NOTE[pinned.threads]:-1}, both servers on CPU 0 (taskset -c 0), redis-benchmark on CPU 1, persistence off"
    echo
    print_table pinned
    echo
    print_cpu_table pinned
  fi
  echo
  echo "### Against the targets of issue 5 (this run)"
  echo
  ((quick)) && { echo "A --quick run is a smoke check: too few requests and limits to judge a target by."; echo; }
  print_targets
  echo
  echo "Wall time: build $((t_built - t_start)) s, benchmark $((t_end - t_built)) s."
}

if [[ -n $out ]]; then
  report | tee "$out"
else
  report
fi
