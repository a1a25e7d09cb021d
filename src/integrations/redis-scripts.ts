/**
 * Lua run atomically by Redis: each script checks, holds or ends a call in every limit of one **unit** at once,
 * with Redis' own clock. On one Redis a unit is all the limits of a call; on a Redis Cluster it is one limit,
 * whose keys share a hash tag (one slot), and `redis-units.ts` composes the units into one decision.
 *
 * A limit `K` is five keys, all expiring with the limit's window:
 *
 * - `K` (hash): `spent`, an integer count of nano-USD (HINCRBY, so Redis keeps it exactly);
 * - `K:holds` (hash): call id → amount held;
 * - `K:exp` (sorted set): call id → when its hold expires (ms);
 * - `K:expired` (hash): call id → amount of an expired hold that was charged into `spent`;
 * - `K:expired:at` (sorted set): call id → when that hold expired, so the charge is forgotten after `keep` ms.
 *
 * KEYS holds them five per limit, in that order; `reserve`, `undo`, `settle` and `release` add the unit's
 * ended-call marker (set when the call ends, for `keep` ms) last. ARGV is the same for every script:
 * `keep, callId, amount, ttlMs`, then `limit, expiresAt` per limit (`expiresAt` 0: the window never ends);
 * `undo` adds what `reserve` answered was there before.
 *
 * Amounts travel as integer strings both ways and are written with `string.format("%.0f")`: Lua numbers are
 * doubles, and Redis would turn one ≥ 1e17 into `1e+17`, which HINCRBY rejects. Every amount is ≤ 2^53 − 1, so
 * the double arithmetic below is exact; room is computed by subtraction, never by adding up past the limit.
 */

/** Shared prelude: arguments, and `state(i)`, which brings limit i up to now and reads it. */
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local marker = nil
if #KEYS % 5 == 1 then marker = table.remove(KEYS) end
local n = #KEYS / 5
local keep, id, amount, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

local function int(x)
  if x == 0 then return '0' end -- not '-0': Redis' integer parser refuses it
  return string.format('%.0f', x)
end
local function key(i, part) return KEYS[5 * (i - 1) + part] end
local function limitOf(i) return tonumber(ARGV[3 + 2 * i]) end
local function expire(i)
  local at = tonumber(ARGV[4 + 2 * i])
  if at > 0 then
    for part = 1, 5 do redis.call('PEXPIREAT', key(i, part), at) end
  end
end

-- Charges the holds of limit i that expired (a worker that died or stalled mid-call counts at its worst
-- case), forgets charges older than keep, and returns spent (an integer string) and reserved (a number).
local function state(i)
  local main, holds, exp, expired, expiredAt = key(i, 1), key(i, 2), key(i, 3), key(i, 4), key(i, 5)
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', expiredAt, '-inf', now - keep)) do
    redis.call('HDEL', expired, old)
    redis.call('ZREM', expiredAt, old)
  end
  local due = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'WITHSCORES')
  for j = 1, #due, 2 do
    local call, at = due[j], due[j + 1]
    local held = redis.call('HGET', holds, call)
    redis.call('HDEL', holds, call)
    redis.call('ZREM', exp, call)
    if held then
      redis.call('HINCRBY', main, 'spent', held)
      redis.call('HSET', expired, call, held)
      redis.call('ZADD', expiredAt, at, call)
    end
  end
  if #due > 0 then expire(i) end
  local reserved = 0
  for _, held in ipairs(redis.call('HVALS', holds)) do reserved = reserved + tonumber(held) end
  return redis.call('HGET', main, 'spent') or '0', reserved
end

-- { 0, spent1, reserved1, spent2, reserved2, ... } after bringing every limit up to now.
local function states()
  local out = {0}
  for i = 1, n do
    local spent, reserved = state(i)
    out[#out + 1] = spent
    out[#out + 1] = int(reserved)
  end
  return out
end
`;

/** check → `{ refusedIndex (0 = none), spent1, reserved1, ... }`: refused when spent >= limit. */
export const CHECK = `${PRELUDE}
local out = states()
for i = 1, n do
  if tonumber(out[2 * i]) >= limitOf(i) then
    out[1] = i
    break
  end
end
return out
`;

/**
 * reserve → `{ refusedIndex, spent1, reserved1, ..., then per limit what the call had there before: kind,
 * amount, at }`, or `{ -1 }` when the call has already ended. Holds the amount in every limit, or in none.
 * The call's own hold, or the charge of its expired hold, is replaced; "before" (kind `held`, `charged` or
 * `none`, with its amount and expiry) is what `undo` puts back. With ttlMs 0 it is a probe: it answers
 * whether the call would fit, and holds nothing.
 */
export const RESERVE = `${PRELUDE}
if redis.call('EXISTS', marker) == 1 then return {-1} end
local out = states()
for i = 1, n do
  local own = tonumber(redis.call('HGET', key(i, 2), id) or '0')
  local charged = tonumber(redis.call('HGET', key(i, 4), id) or '0')
  local room = (limitOf(i) - (tonumber(out[2 * i]) - charged)) - (tonumber(out[2 * i + 1]) - own)
  if amount > room then
    out[1] = i
    return out
  end
end
if ttl == 0 then return out end
local before = {}
local function was(kind, amount, at)
  before[#before + 1] = kind
  before[#before + 1] = amount
  before[#before + 1] = at or '0'
end
for i = 1, n do
  local held, charged = redis.call('HGET', key(i, 2), id), redis.call('HGET', key(i, 4), id)
  if held then
    was('held', held, redis.call('ZSCORE', key(i, 3), id))
  elseif charged then
    was('charged', charged, redis.call('ZSCORE', key(i, 5), id))
    redis.call('HINCRBY', key(i, 1), 'spent', int(-tonumber(charged)))
    redis.call('HDEL', key(i, 4), id)
    redis.call('ZREM', key(i, 5), id)
  else
    was('none', '0', '0')
  end
  redis.call('HSET', key(i, 2), id, ARGV[3])
  redis.call('ZADD', key(i, 3), int(now + ttl), id)
  expire(i)
end
out = states()
for _, v in ipairs(before) do out[#out + 1] = v end
return out
`;

/**
 * undo → `{ 0, states... }`: takes back a reserve of this call (a later unit refused it), putting back what the
 * call had before (ARGV after the limits: kind, amount, at per limit, as `reserve` answered). If the new hold
 * has expired and been charged meanwhile, the charge is reversed too. A call that has ended changes nothing.
 */
export const UNDO = `${PRELUDE}
if redis.call('EXISTS', marker) == 0 then
  for i = 1, n do
    state(i)
    local b = 4 + 2 * n + 3 * (i - 1)
    local charged = redis.call('HGET', key(i, 4), id)
    if charged then redis.call('HINCRBY', key(i, 1), 'spent', int(-tonumber(charged))) end
    redis.call('HDEL', key(i, 2), id)
    redis.call('ZREM', key(i, 3), id)
    redis.call('HDEL', key(i, 4), id)
    redis.call('ZREM', key(i, 5), id)
    if ARGV[b + 1] == 'held' then
      redis.call('HSET', key(i, 2), id, ARGV[b + 2])
      redis.call('ZADD', key(i, 3), ARGV[b + 3], id)
    elseif ARGV[b + 1] == 'charged' then
      redis.call('HINCRBY', key(i, 1), 'spent', ARGV[b + 2])
      redis.call('HSET', key(i, 4), id, ARGV[b + 2])
      redis.call('ZADD', key(i, 5), ARGV[b + 3], id)
    end
    expire(i)
  end
end
return states()
`;

/**
 * Ends a call (settle: amount = its cost; release: amount = 0) → `{ 0, states... }`. Replaces its hold, or
 * the charge of its expired hold, with the amount, then marks it ended; a call that has ended changes nothing.
 */
function endCall(kind: "settled" | "released"): string {
  return `${PRELUDE}
if redis.call('EXISTS', marker) == 0 then
  for i = 1, n do
    state(i)
    local charged = tonumber(redis.call('HGET', key(i, 4), id) or '0')
    redis.call('HDEL', key(i, 2), id)
    redis.call('ZREM', key(i, 3), id)
    redis.call('HDEL', key(i, 4), id)
    redis.call('ZREM', key(i, 5), id)
    if amount ~= charged then redis.call('HINCRBY', key(i, 1), 'spent', int(amount - charged)) end
    expire(i)
  end
  redis.call('SET', marker, '${kind}', 'PX', keep)
end
return states()
`;
}

/** settle → `{ 0, states... }` after it. */
export const SETTLE = endCall("settled");

/** release → `{ 0, states... }` after it. */
export const RELEASE = endCall("released");
