/**
 * Lua run atomically by Redis: each script checks, holds or settles every limit of a call at once, with
 * Redis' own clock. A limit `K` is three keys: `K` (hash: `spent`), `K:holds` (hash: call id → amount),
 * `K:exp` (sorted set: call id → hold expiry). KEYS holds them three per limit, in that order.
 */

/** Shared prelude: drops expired holds and reads each limit's state. ARGV[1..n] are the limits in nano-USD. */
const STATES = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS / 3
local function state(i)
  local main, holds, exp = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  local expired = redis.call('ZRANGEBYSCORE', exp, '-inf', now)
  for _, id in ipairs(expired) do
    redis.call('HDEL', holds, id)
    redis.call('ZREM', exp, id)
  end
  local reserved = 0
  for _, amount in ipairs(redis.call('HVALS', holds)) do reserved = reserved + tonumber(amount) end
  local spent = tonumber(redis.call('HGET', main, 'spent') or '0')
  return spent, reserved
end
local function expire(i, at)
  if at > 0 then
    redis.call('PEXPIREAT', KEYS[3*i-2], at)
    redis.call('PEXPIREAT', KEYS[3*i-1], at)
    redis.call('PEXPIREAT', KEYS[3*i], at)
  end
end
`;

/** check(limits...) → { refusedIndex (0 = none), spent1, reserved1, spent2, reserved2, ... } */
export const CHECK = `${STATES}
local out = {0}
for i = 1, n do
  local spent, reserved = state(i)
  if out[1] == 0 and spent >= tonumber(ARGV[i]) then out[1] = i end
  table.insert(out, spent)
  table.insert(out, reserved)
end
return out
`;

/**
 * reserve(limits..., callId, amount, ttlMs, expiresAt...) → { refusedIndex, states... }. Holds the amount in
 * every limit, or in none.
 */
export const RESERVE = `${STATES}
local id, amount, ttl = ARGV[n+1], tonumber(ARGV[n+2]), tonumber(ARGV[n+3])
local out = {0}
for i = 1, n do
  local spent, reserved = state(i)
  if out[1] == 0 and spent + reserved + amount > tonumber(ARGV[i]) then out[1] = i end
  table.insert(out, spent)
  table.insert(out, reserved)
end
if out[1] == 0 then
  for i = 1, n do
    redis.call('HSET', KEYS[3*i-1], id, amount)
    redis.call('ZADD', KEYS[3*i], now + ttl, id)
    expire(i, tonumber(ARGV[n+3+i]))
  end
end
return out
`;

/**
 * settle(limits..., callId, cost, settledKeyTtlMs, expiresAt...) with one more key, the settlement marker,
 * last in KEYS → { 0, states... }. A call id settles once: a retry returns the first answer.
 */
export const SETTLE = `
local marker = table.remove(KEYS)
local done = redis.call('GET', marker)
if done then return cjson.decode(done) end
${STATES}
local id, cost, keep = ARGV[n+1], tonumber(ARGV[n+2]), tonumber(ARGV[n+3])
local out = {0}
for i = 1, n do
  redis.call('HDEL', KEYS[3*i-1], id)
  redis.call('ZREM', KEYS[3*i], id)
  redis.call('HINCRBY', KEYS[3*i-2], 'spent', cost)
  expire(i, tonumber(ARGV[n+3+i]))
  local spent, reserved = state(i)
  table.insert(out, spent)
  table.insert(out, reserved)
end
redis.call('SET', marker, cjson.encode(out), 'PX', keep)
return out
`;

/** release(callId) → 0. Drops the call's hold from every limit. */
export const RELEASE = `
local id = ARGV[1]
for i = 1, #KEYS / 3 do
  redis.call('HDEL', KEYS[3*i-1], id)
  redis.call('ZREM', KEYS[3*i], id)
end
return 0
`;
