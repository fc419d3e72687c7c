# bench/lib.sh: what the benchmark scripts share (sourced, not run).
# The sourcing script sets BENCH_NAME (the prefix of its log lines and of
# its work dir) and RUN_TIMEOUT (seconds any one load may take), and calls
# make_workdir before starting servers.

log() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[%s] FAILED: %s\n' "$BENCH_NAME" "$*" >&2; exit 1; }

# help_text: the script's leading comment block, for --help.
help_text() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
# bad_option OPTION: the usage error every script gives.
bad_option() { echo "$BENCH_NAME.sh: unknown option '$1' (see --help)" >&2; exit 2; }
# require_positive VALUE...: the usage error unless every VALUE is a positive integer.
require_positive() {
  local v
  for v in "$@"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "$BENCH_NAME.sh: '$v' is not a positive integer" >&2; exit 2; }
  done
}

# make_workdir: sets WORK, a fresh dir under BENCH_TMPDIR, TMPDIR or /tmp,
# and PIDS=(); on any exit every server in PIDS is stopped, on_exit runs if
# the script defined it (before WORK goes), and WORK is removed.
make_workdir() {
  WORK=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/limiterd-$BENCH_NAME.XXXXXX")
  PIDS=()
  trap cleanup_workdir EXIT
  trap 'exit 130' INT TERM
}
cleanup_workdir() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  wait 2>/dev/null || true
  if declare -F on_exit >/dev/null; then on_exit || true; fi
  rm -rf "$WORK"
  exit "$rc"
}

# require TOOL...: fails unless every tool is on PATH.
require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "'$tool' is not installed (scripts/install-deps.sh)"
  done
}

# build_limiterd BUILD: sets LIMITERD, building Release in build/release
# first when BUILD is 1 and LIMITERD was not given.
build_limiterd() {
  if [[ -z ${LIMITERD:-} ]]; then
    LIMITERD=$ROOT/build/release/server/limiterd
    if (($1)); then
      log "building Release limiterd in build/release"
      cmake -S "$ROOT" -B "$ROOT/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
      ninja -C "$ROOT/build/release" limiterd >&2
    fi
  fi
  [[ -x $LIMITERD ]] || die "no limiterd binary at $LIMITERD"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# stop_pid PID: SIGTERM, then SIGKILL if it is still there after 5 s.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# start_server NAME KIND PERSIST THREADS PIN: starts limiterd or redis-server on
# a free loopback port with its --dir in $WORK/NAME, waits until it answers
# PING (START_TIMEOUT seconds, default 15); sets SRV_PORT and SRV_PID.
# PERSIST is off (no AOF, no snapshots), always or everysec (AOF with that
# appendfsync; no snapshots). PIN: a CPU list for taskset, or empty. The
# command runs under the words of SRV_WRAP, if set (e.g. valgrind).
start_server() {
  local name=$1 kind=$2 persist=$3 threads=$4 pin=$5 dir cmd i
  for _ in 1 2 3; do
    SRV_PORT=$(free_port)
    dir=$WORK/$name
    rm -rf "$dir"; mkdir -p "$dir"
    if [[ $kind == limiterd ]]; then
      cmd=("$LIMITERD" --port "$SRV_PORT" --bind 127.0.0.1 --threads "$threads" --save "" --dir "$dir")
    else
      cmd=("$REDIS_SERVER" --port "$SRV_PORT" --bind 127.0.0.1 --save "" --daemonize no --dir "$dir")
    fi
    if [[ $persist == always || $persist == everysec ]]; then
      cmd+=(--appendonly yes --appendfsync "$persist")
    else
      cmd+=(--appendonly no)
    fi
    [[ -n $pin ]] && cmd=(taskset -c "$pin" "${cmd[@]}")
    cmd=(${SRV_WRAP+"${SRV_WRAP[@]}"} "${cmd[@]}")
    echo "${cmd[*]}" >"$dir/cmdline"
    "${cmd[@]}" >"$dir/log" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    for ((i = 0; i < ${START_TIMEOUT:-15} * 10; i++)); do
      if ! kill -0 "$SRV_PID" 2>/dev/null; then break; fi
      if [[ $(redis-cli -h 127.0.0.1 -p "$SRV_PORT" PING 2>/dev/null) == PONG ]]; then
        log "$name: $kind on 127.0.0.1:$SRV_PORT (pid $SRV_PID)"
        return 0
      fi
      sleep 0.1
    done
    stop_pid "$SRV_PID"
    # A port taken between free_port and bind: try another one.
    if grep -qi "address already in use" "$dir/log"; then continue; fi
    break
  done
  echo "---- $name log ($dir/log):" >&2
  tail -n 30 "$dir/log" >&2 || true
  die "$name ($kind) did not start: ${cmd[*]}"
}

# to_resp: lines of space-separated arguments in, RESP commands out (for --pipe).
to_resp() {
  awk 'BEGIN { ORS = "" } { printf "*%d\r\n", NF; for (i = 1; i <= NF; i++) printf "$%d\r\n%s\r\n", length($i), $i }'
}

# pipe_load NAME PORT FILE COUNT: loads a RESP file with redis-cli --pipe and
# fails unless every one of COUNT replies is not an error.
pipe_load() {
  local name=$1 port=$2 file=$3 count=$4 outp
  outp=$(timeout "$RUN_TIMEOUT" redis-cli -h 127.0.0.1 -p "$port" --pipe <"$file" 2>&1) \
    || die "$name: redis-cli --pipe failed: $outp"
  grep -q "errors: 0, replies: $count\$" <<<"$outp" || die "$name: redis-cli --pipe: $outp"
}

# proc_cpu_ticks PID: the user + system CPU time of process PID (all its
# threads, live or exited, and its children it has waited for, such as
# redis-server's rewrite forks), in clock ticks.
proc_cpu_ticks() {
  # Field 2 is "(comm)" and may hold spaces: count fields after its ')'.
  sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

# info_field PORT SECTION FIELD: FIELD of `INFO SECTION` from the server on
# 127.0.0.1:PORT (empty if it has none), within RUN_TIMEOUT (default 60) s.
info_field() {
  timeout "${RUN_TIMEOUT:-60}" redis-cli -h 127.0.0.1 -p "$1" INFO "$2" | tr -d '\r' |
    awk -F: -v f="$3" '$1 == f { print $2 }'
}

# The next month's start, in ms: the reset_at of the Redis hashes.
next_month_ms() { echo $(($(date -u -d "$(date -u +%Y-%m-01) +1 month" +%s) * 1000)); }

# The workload of compare.sh and instructions.sh: 100 orgs x 10 projects x
# 100 users per project = 100k users in 100 orgs. redis-benchmark -r 10
# replaces each __rand_int__ with its own random 12-digit number in [0, 10)
# (every occurrence is drawn separately, see randomizeClientKey in
# redis-benchmark.c), so an org id is two draws, a project one and a user two.
R=__rand_int__
KEY="org:$R$R/project:$R/user:$R$R"
KEY_ONE=${KEY//$R/000000000001}
RANDR=10
BIG=1000000000000000   # a hard limit nothing reaches: every call is allowed

# setup_lines KIND: the limits of the workload, as LIMIT.SET (limiterd) or as
# the hashes bench/lua/consume3.lua reads (redis): a hard limit on every org
# and every project, and a default for the users of every project
# (org:O/project:P/*).
setup_lines() {
  awk -v kind="$1" -v big="$BIG" -v reset="$(next_month_ms)" '
    function d(x) { return sprintf("%012d", x) }
    function own(k) {
      if (kind == "limiterd") print "LIMIT.SET " k " HARD " big " PERIOD monthly"
      else print "HSET " k " limit " big " used 0 reset_at " reset
    }
    function dflt(k) {
      if (kind == "limiterd") print "LIMIT.SET " k " HARD " big " PERIOD monthly"
      else print "HSET " k " limit " big " reset_at " reset
    }
    BEGIN {
      for (a = 0; a < 10; a++) for (b = 0; b < 10; b++) {
        org = "org:" d(a) d(b); own(org)
        for (c = 0; c < 10; c++) { p = org "/project:" d(c); own(p); dflt(p "/*") }
      }
    }'
}
