#!/usr/bin/env bash
# The README-style session with Debian's redis-cli against the real limiterd:
# org credits with a per-user default and an override, a monthly billing
# period crossed with DEBUG CLOCK, a max-projects count (PERIOD none, REFUND
# when a project is deleted), API rate limits (RATE and WINDOW) with
# retry-after, errors, and RESP3 (redis-cli -3) maps. Exact outputs.
#
# Run through the harness, which starts limiterd and sets LIMITERD_PORT:
#   python3 limiterd_harness.py --binary BIN -- bash redis_cli_test.sh
set -u
: "${LIMITERD_PORT:?run this through limiterd_harness.py}"
HOST=${LIMITERD_HOST:-127.0.0.1}
REDIS_CLI=${REDIS_CLI:-/usr/bin/redis-cli}
if [[ ! -x $REDIS_CLI ]]; then
  echo "FAIL: $REDIS_CLI not found: install Debian's redis-tools (scripts/install-deps.sh)"
  echo "0 passed, 1 failed"
  exit 1
fi
CLI=("$REDIS_CLI" -h "$HOST" -p "$LIMITERD_PORT")
passed=0
failed=0

compare() {  # title want got
  if [[ "$2" == "$3" ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $1"
    diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/    /'
  fi
}

# t ARGS... <<EOF expected output EOF: the output of redis-cli ARGS.
t() {
  local want got
  want=$(cat)
  got=$("${CLI[@]}" "$@" 2>&1)
  compare "redis-cli $*" "$want" "$got"
}

# Field N (1-based) of a raw (non-TTY) reply.
field() {
  "${CLI[@]}" "${@:2}" | sed -n "${1}p"
}

T0=1704067200000          # 2024-01-01T00:00:00Z
MONTH_JAN=2678400000      # 31 days
MONTH_FEB=2505600000      # 29 days (2024)

t --no-raw DEBUG CLOCK SET $T0 <<'EOF'
OK
EOF
t --no-raw PING <<'EOF'
PONG
EOF

echo "--- org credits: an org cap, a per-user default, an override"
t --no-raw LIMIT.SET org:acme HARD 1000 SOFT 800 UNIT credits PERIOD monthly <<'EOF'
OK
EOF
t --no-raw LIMIT.SET 'org:acme/*' HARD 100 UNIT credits PERIOD monthly <<'EOF'
OK
EOF
t --no-raw LIMIT.SET org:acme/user:vip HARD 500 UNIT credits PERIOD monthly <<'EOF'
OK
EOF
t --no-raw LIMIT.SET org:acme/user:vip HARD 5 NX <<'EOF'
(nil)
EOF
t --no-raw CREDITS.CONSUME org:acme/user:42 60 <<EOF
1) (integer) 1
2) (integer) 40
3) (integer) 100
4) (integer) 0
5) (integer) $MONTH_JAN
6) "org:acme/user:42"
EOF
t --no-raw CREDITS.CONSUME org:acme/user:42 50 <<EOF
1) (integer) 0
2) (integer) 40
3) (integer) 100
4) (integer) $MONTH_JAN
5) (integer) $MONTH_JAN
6) "org:acme/user:42"
EOF
t --no-raw CREDITS.CONSUME org:acme/user:vip 450 <<EOF
1) (integer) 1
2) (integer) 50
3) (integer) 500
4) (integer) 0
5) (integer) $MONTH_JAN
6) "org:acme/user:vip"
EOF
t --no-raw CREDITS.CONSUME org:acme/user:7 100 <<EOF
1) (integer) 1
2) (integer) 0
3) (integer) 100
4) (integer) 0
5) (integer) $MONTH_JAN
6) "org:acme/user:7"
EOF
t --no-raw CREDITS.CONSUME org:acme/user:8 30 DRYRUN <<EOF
1) (integer) 1
2) (integer) 70
3) (integer) 100
4) (integer) 0
5) (integer) $MONTH_JAN
6) "org:acme/user:8"
EOF
t --no-raw CREDITS.CONSUME org:acme 200 <<EOF
1) (integer) 1
2) (integer) 190
3) (integer) 1000
4) (integer) 0
5) (integer) $MONTH_JAN
6) "org:acme"
EOF
t --no-raw USAGE.GET org:acme <<'EOF'
 1) "key"
 2) "org:acme"
 3) "kind"
 4) "quota"
 5) "unit"
 6) "credits"
 7) "status"
 8) "active"
 9) "limit"
10) (integer) 1000
11) "soft_limit"
12) (integer) 800
13) "consumed"
14) (integer) 810
15) "remaining"
16) (integer) 190
17) "soft_reached"
18) (integer) 1
19) "period"
20) "monthly"
21) "period_start"
22) (integer) 1704067200000
23) "resets_at"
24) (integer) 1706745600000
25) "renewable"
26) (integer) 1
27) "valid_until"
28) (nil)
29) "source"
30) "own"
EOF
# vip (50 left) and the org (190 left) both deny 191: the smaller remaining is named.
t --no-raw CREDITS.CONSUME org:acme/user:vip 191 <<EOF
1) (integer) 0
2) (integer) 50
3) (integer) 500
4) (integer) $MONTH_JAN
5) (integer) $MONTH_JAN
6) "org:acme/user:vip"
EOF
t --no-raw CREDITS.CONSUME org:acme/user:9 100 FORCE <<EOF
1) (integer) 1
2) (integer) 0
3) (integer) 100
4) (integer) 0
5) (integer) $MONTH_JAN
6) "org:acme/user:9"
EOF
t --no-raw CREDITS.CONSUME org:acme/user:10 91 <<EOF
1) (integer) 0
2) (integer) 90
3) (integer) 1000
4) (integer) $MONTH_JAN
5) (integer) $MONTH_JAN
6) "org:acme"
EOF
# LIMIT.GET: the user takes the default, the override is its own.
compare "LIMIT.GET org:acme/user:42 source" "org:acme/*" \
  "$("${CLI[@]}" LIMIT.GET org:acme/user:42 | sed -n '/^source$/{n;p}')"
compare "LIMIT.GET org:acme/user:42 hard" "100" \
  "$("${CLI[@]}" LIMIT.GET org:acme/user:42 | sed -n '/^hard$/{n;p}')"
compare "LIMIT.GET org:acme/user:vip source" "own" \
  "$("${CLI[@]}" LIMIT.GET org:acme/user:vip | sed -n '/^source$/{n;p}')"

echo "--- the billing period rolls over exactly on Feb 1"
t --no-raw DEBUG CLOCK ADVANCE $((MONTH_JAN - 1)) <<'EOF'
OK
EOF
t --no-raw CREDITS.CONSUME org:acme/user:42 50 <<'EOF'
1) (integer) 0
2) (integer) 40
3) (integer) 100
4) (integer) 1
5) (integer) 1
6) "org:acme/user:42"
EOF
t --no-raw DEBUG CLOCK ADVANCE 1 <<'EOF'
OK
EOF
t --no-raw CREDITS.CONSUME org:acme/user:42 50 <<EOF
1) (integer) 1
2) (integer) 50
3) (integer) 100
4) (integer) 0
5) (integer) $MONTH_FEB
6) "org:acme/user:42"
EOF
compare "USAGE.GET org:acme consumed in February" "50" \
  "$("${CLI[@]}" USAGE.GET org:acme | sed -n '/^consumed$/{n;p}')"
compare "USAGE.GET org:acme period_start in February" "1706745600000" \
  "$("${CLI[@]}" USAGE.GET org:acme | sed -n '/^period_start$/{n;p}')"

echo "--- max projects: a count, PERIOD none, REFUND on delete"
t --no-raw LIMIT.SET projects:acme HARD 3 UNIT projects <<'EOF'
OK
EOF
for left in 2 1 0; do
  t --no-raw CREDITS.CONSUME projects:acme 1 <<EOF
1) (integer) 1
2) (integer) $left
3) (integer) 3
4) (integer) 0
5) (integer) -1
6) "projects:acme"
EOF
done
t --no-raw CREDITS.CONSUME projects:acme 1 <<'EOF'
1) (integer) 0
2) (integer) 0
3) (integer) 3
4) (integer) -1
5) (integer) -1
6) "projects:acme"
EOF
t --no-raw CREDITS.REFUND projects:acme 1 <<'EOF'
(integer) 2
EOF
t --no-raw CREDITS.CONSUME projects:acme 1 <<'EOF'
1) (integer) 1
2) (integer) 0
3) (integer) 3
4) (integer) 0
5) (integer) -1
6) "projects:acme"
EOF

echo "--- API rate limit: RATE 10 PER 1m, Retry-After"
t --no-raw LIMIT.SET api:acme RATE 10 PER 1m <<'EOF'
OK
EOF
for i in 1 2 3 4 5 6 7 8 9 10; do
  t --no-raw CREDITS.CONSUME api:acme 1 <<EOF
1) (integer) 1
2) (integer) $((10 - i))
3) (integer) 10
4) (integer) 0
5) (integer) $((6000 * i))
6) "api:acme"
EOF
done
t --no-raw CREDITS.CONSUME api:acme 1 <<'EOF'
1) (integer) 0
2) (integer) 0
3) (integer) 10
4) (integer) 6000
5) (integer) 60000
6) "api:acme"
EOF
t --no-raw DEBUG CLOCK ADVANCE 5999 <<'EOF'
OK
EOF
t --no-raw CREDITS.CONSUME api:acme 1 <<'EOF'
1) (integer) 0
2) (integer) 0
3) (integer) 10
4) (integer) 1
5) (integer) 54001
6) "api:acme"
EOF
t --no-raw DEBUG CLOCK ADVANCE 1 <<'EOF'
OK
EOF
t --no-raw CREDITS.CONSUME api:acme 1 <<'EOF'
1) (integer) 1
2) (integer) 0
3) (integer) 10
4) (integer) 0
5) (integer) 60000
6) "api:acme"
EOF

echo "--- API rate limit: WINDOW 60s, waiting retry_after succeeds"
t --no-raw LIMIT.SET api:win WINDOW 60s HARD 3 <<'EOF'
OK
EOF
for left in 2 1 0; do
  compare "WINDOW consume (remaining $left)" "$(printf '1\n%s' "$left")" \
    "$("${CLI[@]}" CREDITS.CONSUME api:win 1 | sed -n 1,2p)"
done
mapfile -t denied < <("${CLI[@]}" CREDITS.CONSUME api:win 1)
compare "WINDOW denied" "0 0 3 api:win" "${denied[0]:-} ${denied[1]:-} ${denied[2]:-} ${denied[5]:-}"
retry=${denied[3]:-0}
if [[ $retry =~ ^[0-9]+$ ]] && ((retry >= 60000 && retry <= 61000)); then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); echo "FAIL: WINDOW 60s retry_after '$retry' not in [60000, 61000]"
fi
t --no-raw DEBUG CLOCK ADVANCE $((retry - 1)) <<'EOF'
OK
EOF
compare "WINDOW 1 ms before retry_after" "0 1" "$("${CLI[@]}" CREDITS.CONSUME api:win 1 | sed -n '1p;4p' | paste -sd' ')"
t --no-raw DEBUG CLOCK ADVANCE 1 <<'EOF'
OK
EOF
compare "WINDOW at retry_after" "1" "$(field 1 CREDITS.CONSUME api:win 1)"

echo "--- errors"
t --no-raw CREDITS.CONSUME nobody 1 <<'EOF'
(error) NOLIMIT no limit applies to 'nobody'
EOF
t --no-raw LIMIT.SET k HARD 10 SOFTLY 5 <<'EOF'
(error) ERR syntax error
EOF
t --no-raw LIMIT.SET k HARD ten <<'EOF'
(error) ERR value is not an integer or out of range
EOF
t --no-raw LIMIT.SET <<'EOF'
(error) ERR wrong number of arguments for 'limit.set' command
EOF
t --no-raw FOO bar <<'EOF'
(error) ERR unknown command 'FOO', with args beginning with: 'bar' 
EOF

echo "--- raw output (no TTY, no --no-raw) and stdin scripts"
t CREDITS.REFUND projects:acme 0 <<'EOF'
3
EOF
t CREDITS.CONSUME projects:acme 0 <<'EOF'
1
0
3
0
-1
projects:acme
EOF
got=$(printf 'PING\nCREDITS.REFUND projects:acme 3\nUSAGE.RESET projects:acme\nLIMIT.DEL projects:acme nothing\nLIMIT.GET projects:acme\n' | "${CLI[@]}" --no-raw)
compare "a script on stdin" "$(printf 'PONG\n(integer) 0\n(integer) 1\n(integer) 1\n(nil)')" "$got"

echo "--- RESP3: redis-cli -3 shows maps"
t -3 --no-raw USAGE.GET org:acme/user:42 <<'EOF'
 1# "key" => "org:acme/user:42"
 2# "kind" => "quota"
 3# "unit" => "credits"
 4# "status" => "active"
 5# "limit" => (integer) 100
 6# "soft_limit" => (nil)
 7# "consumed" => (integer) 50
 8# "remaining" => (integer) 50
 9# "soft_reached" => (integer) 0
10# "period" => "monthly"
11# "period_start" => (integer) 1706745600000
12# "resets_at" => (integer) 1709251200000
13# "renewable" => (integer) 1
14# "valid_until" => (nil)
15# "source" => "org:acme/*"
EOF
t -3 --no-raw CREDITS.CONSUME nobody:else 1 <<'EOF'
(error) NOLIMIT no limit applies to 'nobody:else'
EOF
# Now is Feb 1 + 6000 ms (the bucket) + retry ms (the window).
t -3 --no-raw CREDITS.CONSUME org:acme 0 <<EOF
1) (integer) 1
2) (integer) 950
3) (integer) 1000
4) (integer) 0
5) (integer) $((MONTH_FEB - 6000 - retry))
6) "org:acme"
EOF
# Raw output of a RESP3 map: one "key value" line per entry.
compare "HELLO 3 proto" "3" "$("${CLI[@]}" -3 HELLO 3 | awk '$1 == "proto" {print $2}')"

echo "$passed passed, $failed failed"
((failed == 0))
