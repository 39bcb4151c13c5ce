--[[
  Expire a reservation whose validity time has passed (RFC 4006 §5.7 Validity-Time; Tcc supervision on the server):
  the held amount returns to the available credit and an `expire` CDR is written. Safe to run from several
  replicas at once: the script decides, and a reservation already gone or renewed is left alone.
  KEYS[1] account (hash)   KEYS[2] reservation (hash)   KEYS[3] expiryIndex (shard zset)
  KEYS[4] outbox (shard CDR stream)   KEYS[5] monitoring (the account's usage-monitoring keys)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts ExpireArgs):
  A.reservationId   A.nowMs   A.nowIso   A.shardTag  shard tag (usage report ids)
  Returns 1 when expired here, 0 otherwise.
]]
--@include int
--@include monitoring
local r = redis.call('HMGET', KEYS[2], 'sub', 'svc', 'sid', 'cur', 'amt', 'exp', 'rq', 'at')
if not r[1] then
  redis.call('ZREM', KEYS[3], A.reservationId)
  return 0
end
if tonumber(r[6]) > A.nowMs then return 0 end
local amt = tonumber(r[5])
redis.call('HINCRBY', KEYS[1], 'reserved', int(0 - amt))
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], A.reservationId)
local a = redis.call('HMGET', KEYS[1], 'balance', 'mk')
local balance = a[1] or '0'
redis.call('XADD', KEYS[4], '*', 'type', 'expire', 'subscriber', r[1], 'service', r[2], 'requestId', r[7],
  'reservationId', A.reservationId, 'sessionId', r[3], 'amount', int(amt), 'currency', r[4], 'balanceAfter', balance, 'timestamp', A.nowIso)
-- an expired session's time runs from the reserve to the end of its validity
if r[8] then
  monitorUsage(a[2], KEYS[5], KEYS[4], r[1], {service = r[2], count = 0, octets = 0, sessionMs = math.max(0, tonumber(r[6]) - tonumber(r[8])),
    atMs = A.nowMs, requestId = r[7], nowIso = A.nowIso, shardTag = A.shardTag})
end
return 1
