--[[
  Release what is left of a reservation (CH-2 ch2.release; Diameter CCR-T: the server returns unused units, RFC 4006 §5.4).
  KEYS[1] account hash   KEYS[2] idempotency key   KEYS[3] reservation hash   KEYS[4] shard expiry zset
  KEYS[5] shard CDR outbox stream
  ARGV[1] requestId   ARGV[2] idempotency TTL (s)   ARGV[3] reservationId   ARGV[4] subscriber   ARGV[5] now (ISO)
  ARGV[6] shard tag   ARGV[7] sessionId or ''
  Returns {response JSON, notifications JSON}.
]]
--@include int
--@include answer
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId, rid = ARGV[1], ARGV[3]
local r = redis.call('HMGET', KEYS[3], 'sub', 'svc', 'sid', 'cur', 'amt')
if not r[1] or r[1] ~= ARGV[4] then
  return answer({requestId = requestId, result = 'UNKNOWN_RESERVATION', resultCode = 5002,
    message = 'reservation ' .. rid .. ' is unknown, expired or already released'})
end
local amt = tonumber(r[5])
-- `0 - x`, never `-x`: Lua 5.1 negates 0 to -0, which Redis refuses as an integer argument
redis.call('HINCRBY', KEYS[1], 'reserved', int(0 - amt))
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[4], rid)
local balance = redis.call('HGET', KEYS[1], 'balance')
local sid = ARGV[7]
if sid == '' then sid = r[3] end
local id = redis.call('XADD', KEYS[5], '*', 'type', 'release', 'subscriber', ARGV[4], 'service', r[2], 'requestId', requestId,
  'reservationId', rid, 'sessionId', sid, 'amount', int(amt), 'currency', r[4], 'balanceAfter', balance, 'timestamp', ARGV[5])
return answer({requestId = requestId, result = 'SUCCESS', resultCode = 2001, releasedAmount = amt, currency = r[4],
  cdrId = ARGV[6] .. '-' .. id})
