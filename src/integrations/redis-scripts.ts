/**
 * Lua run atomically by Redis: each script checks, holds or ends a call in every limit of one **unit** at once,
 * with Redis' own clock. On one Redis a unit is all the limits of a call; on a Redis Cluster it is one limit,
 * whose keys share a hash tag (one slot), and `redis-units.ts` composes the units into one decision.
 *
 * A limit `K` is five keys, all expiring with the limit's window:
 *
 * - `K` (hash): `spent`, an integer count of nano-USD (HINCRBY, so Redis keeps it exactly), and `reserved`,
 *   the sum of the holds in `K:holds`, kept beside them so reading a limit doesn't add up every hold (a
 *   counter written before `reserved` was kept gets it from its holds on first use);
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
-- Gives the keys of limit i written here (by part) the window's end as their expiry; keys only read keep theirs.
local function expire(i, ...)
  local at = tonumber(ARGV[4 + 2 * i])
  if at > 0 then
    for _, part in ipairs({...}) do redis.call('PEXPIREAT', key(i, part), at) end
  end
end

-- Charges the holds of limit i that expired (a worker that died or stalled mid-call counts at its worst
-- case), forgets charges older than keep, and returns spent and reserved (numbers).
local function state(i)
  local main, holds, exp, expired, expiredAt = key(i, 1), key(i, 2), key(i, 3), key(i, 4), key(i, 5)
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', expiredAt, '-inf', now - keep)) do
    redis.call('HDEL', expired, old)
    redis.call('ZREM', expiredAt, old)
  end
  local fields = redis.call('HMGET', main, 'spent', 'reserved')
  local spent, reserved = tonumber(fields[1] or '0'), tonumber(fields[2] or '-1')
  if reserved < 0 then
    -- No running sum yet: holds written by a version before it (else none, and nothing to write).
    reserved = 0
    for _, held in ipairs(redis.call('HVALS', holds)) do reserved = reserved + tonumber(held) end
    if reserved > 0 then
      redis.call('HSET', main, 'reserved', int(reserved))
      expire(i, 1)
    end
  end
  local due = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'WITHSCORES')
  for j = 1, #due, 2 do
    local call, at = due[j], due[j + 1]
    local held = redis.call('HGET', holds, call)
    redis.call('HDEL', holds, call)
    redis.call('ZREM', exp, call)
    if held then
      redis.call('HINCRBY', main, 'spent', held)
      redis.call('HINCRBY', main, 'reserved', int(-tonumber(held)))
      spent, reserved = spent + tonumber(held), reserved - tonumber(held)
      redis.call('HSET', expired, call, held)
      redis.call('ZADD', expiredAt, at, call)
    end
  end
  if #due > 0 then expire(i, 1, 4, 5) end
  return spent, reserved
end

-- Takes the call out of limit i (its hold, or the charge of its expired hold); returns what they were.
local function takeOut(i)
  local held = tonumber(redis.call('HGET', key(i, 2), id) or '0')
  local charged = tonumber(redis.call('HGET', key(i, 4), id) or '0')
  redis.call('HDEL', key(i, 2), id)
  redis.call('ZREM', key(i, 3), id)
  redis.call('HDEL', key(i, 4), id)
  redis.call('ZREM', key(i, 5), id)
  return held, charged
end

-- Moves money of limit i by these deltas (spent, reserved), in Redis and in the figures answered.
local function move(i, figures, dSpent, dReserved)
  if dSpent ~= 0 then redis.call('HINCRBY', key(i, 1), 'spent', int(dSpent)) end
  if dReserved ~= 0 then redis.call('HINCRBY', key(i, 1), 'reserved', int(dReserved)) end
  figures[2 * i] = figures[2 * i] + dSpent
  figures[2 * i + 1] = figures[2 * i + 1] + dReserved
end

-- { 0, spent1, reserved1, spent2, reserved2, ... } (numbers) after bringing every limit up to now.
local function states()
  local out = {0}
  for i = 1, n do
    local spent, reserved = state(i)
    out[#out + 1] = spent
    out[#out + 1] = reserved
  end
  return out
end

-- The answer: figures as integer strings (a Lua number ≥ 1e17 would reach the client as 1e+17).
local function answer(figures, extra)
  local out = {figures[1]}
  for j = 2, #figures do out[j] = int(figures[j]) end
  for _, v in ipairs(extra or {}) do out[#out + 1] = v end
  return out
end
`;

/** check → `{ 0, spent1, reserved1, ... }` (whether that refuses is decided over every unit: `redis-units.ts`). */
export const CHECK = `${PRELUDE}
return answer(states())
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
local own, charged = {}, {}
for i = 1, n do
  own[i] = redis.call('HGET', key(i, 2), id)
  charged[i] = redis.call('HGET', key(i, 4), id)
  local room = (limitOf(i) - (out[2 * i] - tonumber(charged[i] or '0'))) - (out[2 * i + 1] - tonumber(own[i] or '0'))
  if amount > room then
    out[1] = i
    return answer(out)
  end
end
if ttl == 0 then return answer(out) end
local before = {}
local function was(kind, amount, at)
  before[#before + 1] = kind
  before[#before + 1] = amount
  before[#before + 1] = at or '0'
end
for i = 1, n do
  if own[i] then
    was('held', own[i], redis.call('ZSCORE', key(i, 3), id))
  elseif charged[i] then
    was('charged', charged[i], redis.call('ZSCORE', key(i, 5), id))
    redis.call('HDEL', key(i, 4), id)
    redis.call('ZREM', key(i, 5), id)
  else
    was('none', '0', '0')
  end
  move(i, out, -tonumber(charged[i] or '0'), amount - tonumber(own[i] or '0'))
  redis.call('HSET', key(i, 2), id, ARGV[3])
  redis.call('ZADD', key(i, 3), int(now + ttl), id)
  expire(i, 1, 2, 3)
end
return answer(out, before)
`;

/**
 * undo → `{ 0, states... }`: takes back a reserve of this call (a later unit refused it), putting back what the
 * call had before (ARGV after the limits: kind, amount, at per limit, as `reserve` answered). If the new hold
 * has expired and been charged meanwhile, the charge is reversed too. A call that has ended changes nothing.
 */
export const UNDO = `${PRELUDE}
local out = states()
if redis.call('EXISTS', marker) == 1 then return answer(out) end
for i = 1, n do
  local b = 4 + 2 * n + 3 * (i - 1)
  local kind, was, at = ARGV[b + 1], tonumber(ARGV[b + 2]), ARGV[b + 3]
  local held, charged = takeOut(i)
  local dSpent, dReserved = -charged, -held
  if kind == 'held' then
    redis.call('HSET', key(i, 2), id, ARGV[b + 2])
    redis.call('ZADD', key(i, 3), at, id)
    dReserved = dReserved + was
  elseif kind == 'charged' then
    redis.call('HSET', key(i, 4), id, ARGV[b + 2])
    redis.call('ZADD', key(i, 5), at, id)
    dSpent = dSpent + was
  end
  move(i, out, dSpent, dReserved)
  expire(i, 1, 2, 3, 4, 5)
end
return answer(out)
`;

/**
 * Ends a call (settle: amount = its cost; release: amount = 0) → `{ 0, states... }`. Replaces its hold, or
 * the charge of its expired hold, with the amount, then marks it ended; a call that has ended changes nothing.
 */
function endCall(kind: "settled" | "released"): string {
  return `${PRELUDE}
local out = states()
if redis.call('EXISTS', marker) == 0 then
  for i = 1, n do
    local held, charged = takeOut(i)
    move(i, out, amount - charged, -held)
    expire(i, 1)
  end
  redis.call('SET', marker, '${kind}', 'PX', keep)
end
return answer(out)
`;
}

/** settle → `{ 0, states... }` after it. */
export const SETTLE = endCall("settled");

/** release → `{ 0, states... }` after it. */
export const RELEASE = endCall("released");
