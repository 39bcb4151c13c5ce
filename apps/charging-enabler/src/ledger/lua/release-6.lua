--[[
  Release what is left of a reservation (CH-2 ch2.release; Diameter CCR-T: the server returns unused units, RFC 4006 §5.4).
  KEYS[1] account (hash)   KEYS[2] idempotency (stored answer)   KEYS[3] reservation (hash)
  KEYS[4] expiryIndex (shard zset)   KEYS[5] outbox (shard CDR stream)
  KEYS[6] monitoring (the account's usage-monitoring keys)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts ReleaseArgs):
  A.requestId   A.idempotencyTtl  idempotency TTL (s)   A.reservationId   A.subscriber   A.nowIso
  A.shardTag    A.sessionId?
  A.nowMs       the release's time (ms): the session time is from the reserve to now
  A.atMs        the release's event time (ms; monitoring keys' monitoring time)
  Returns {response JSON, notifications JSON}.
]]
--@include int
--@include answer
--@include monitoring
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId, rid, sub = A.requestId, A.reservationId, A.subscriber
local r = redis.call('HMGET', KEYS[3], 'sub', 'svc', 'sid', 'cur', 'amt', 'at')
if not r[1] or r[1] ~= sub then
  return answer({requestId = requestId, result = RESULT.UNKNOWN_RESERVATION, resultCode = CODE.UNKNOWN_RESERVATION,
    message = 'reservation ' .. rid .. ' is unknown, expired or already released'})
end
local amt = tonumber(r[5])
-- `0 - x`, never `-x`: Lua 5.1 negates 0 to -0, which Redis refuses as an integer argument
redis.call('HINCRBY', KEYS[1], 'reserved', int(0 - amt))
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[4], rid)
local a = redis.call('HMGET', KEYS[1], 'balance', 'mk')
local balance = a[1]
local sid = A.sessionId or ''
if sid == '' then sid = r[3] end
local id = redis.call('XADD', KEYS[5], '*', 'type', 'release', 'subscriber', sub, 'service', r[2], 'requestId', requestId,
  'reservationId', rid, 'sessionId', sid, 'amount', int(amt), 'currency', r[4], 'balanceAfter', balance, 'timestamp', A.nowIso)
-- the session's time (reserve to release) for the monitoring keys; a reservation made before `at` was stored counts none
if r[6] then
  monitorUsage(a[2], KEYS[6], KEYS[5], sub, {service = r[2], count = 0, octets = 0, sessionMs = math.max(0, A.nowMs - tonumber(r[6])),
    atMs = A.atMs, requestId = requestId, nowIso = A.nowIso, shardTag = A.shardTag})
end
return answer({requestId = requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, releasedAmount = amt, currency = r[4],
  cdrId = A.shardTag .. '-' .. id})
