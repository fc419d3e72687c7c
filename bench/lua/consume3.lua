-- consume3.lua: the 3-level check-and-charge (org / project / user) that
-- people write in Redis today, used by bench/compare.sh as the baseline for
-- CREDITS.CONSUME. It is part of the benchmark: change it only together with
-- docs/performance.md.
--
--   EVALSHA <sha> 1 <key> <n>
--
-- <key> is one path, "org:A/project:B/user:C" (as CREDITS.CONSUME takes it);
-- the script charges every prefix that ends before a '/' and the key itself.
-- (It reads keys it was not given in KEYS; fine on a standalone Redis, which is
-- what the benchmark runs, not on a cluster.)
--
-- Each level is a hash: `limit` (the hard limit), `used` (consumed in this
-- period), `reset_at` (unix ms when the period ends). A level whose hash has no
-- `limit` takes it (and `reset_at`) from the default hash `<parent>/*` (`*` for
-- a top-level key), as limiterd's `P/*` defaults do; its `used` field is created
-- by the first charge, as limiterd materializes a counter. A level with no
-- effective limit is skipped; no level at all is the error NOLIMIT.
--
-- All or nothing: if used + n <= limit at every level, HINCRBY every level's
-- `used` by n; otherwise change nothing. The reply has CREDITS.CONSUME's six
-- fields: allowed, remaining, limit, retry_after, reset_after, level, where
-- level is the denying level (or, when allowed, the one with the smallest
-- remaining; a tie goes to the deepest). Periods do not roll over here (the
-- benchmark's periods are monthly and its limits are never reached).

local key = KEYS[1]
local n = tonumber(ARGV[1])
if n == nil or n < 0 then
  return redis.error_reply('ERR value is not an integer or out of range')
end

-- The levels, root first: every prefix before a '/', then the key.
local levels = {}
local pos = 1
while true do
  local s = string.find(key, '/', pos, true)
  if not s then break end
  levels[#levels + 1] = string.sub(key, 1, s - 1)
  pos = s + 1
end
levels[#levels + 1] = key

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local checked = {}   -- {key, limit, used, reset_at} per level with a limit
local allowed = 1
local parent = nil
for i = 1, #levels do
  local k = levels[i]
  local h = redis.call('HMGET', k, 'limit', 'used', 'reset_at')
  local limit, used, reset_at = h[1], tonumber(h[2]) or 0, h[3]
  if not limit then
    local d = redis.call('HMGET', parent and (parent .. '/*') or '*', 'limit', 'reset_at')
    limit, reset_at = d[1], d[2]
  end
  if limit then
    limit = tonumber(limit)
    if used + n > limit then allowed = 0 end
    checked[#checked + 1] = {k, limit, used, tonumber(reset_at)}
  end
  parent = k
end
if #checked == 0 then
  return redis.error_reply("NOLIMIT no limit applies to '" .. key .. "'")
end

-- The level the reply names: the smallest remaining (after the charge when
-- allowed, as it stands when denied) among the deciding levels; the deepest
-- on a tie (levels are root first, so <= keeps the later one).
local best, best_remaining = nil, nil
for i = 1, #checked do
  local c = checked[i]
  local after = c[2] - c[3] - n
  if allowed == 1 or after < 0 then
    local remaining = allowed == 1 and after or (c[2] - c[3])
    if best == nil or remaining <= best_remaining then
      best, best_remaining = c, remaining
    end
  end
end

if allowed == 1 then
  for i = 1, #checked do
    redis.call('HINCRBY', checked[i][1], 'used', n)
  end
end

local reset_after = -1
if best[4] then
  reset_after = best[4] - now
  if reset_after < 0 then reset_after = 0 end
end
local retry_after = 0
if allowed == 0 then
  if n > best[2] then retry_after = -1 else retry_after = reset_after end
end
if best_remaining < 0 then best_remaining = 0 end
return {allowed, best_remaining, best[2], retry_after, reset_after, best[1]}
