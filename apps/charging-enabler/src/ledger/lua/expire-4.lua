--[[
  Expire a reservation whose validity time has passed (RFC 4006 §5.7 Validity-Time; Tcc supervision on the server):
  the held amount returns to the available credit and an `expire` CDR is written. Safe to run from several
  replicas at once: the script decides, and a reservation already gone or renewed is left alone.
  KEYS[1] account hash   KEYS[2] reservation hash   KEYS[3] shard expiry zset   KEYS[4] shard CDR outbox stream
  ARGV[1] reservationId   ARGV[2] now (ms)   ARGV[3] now (ISO)
  Returns 1 when expired here, 0 otherwise.
]]
--@include int
local r = redis.call('HMGET', KEYS[2], 'sub', 'svc', 'sid', 'cur', 'amt', 'exp', 'rq')
if not r[1] then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
if tonumber(r[6]) > tonumber(ARGV[2]) then return 0 end
local amt = tonumber(r[5])
redis.call('HINCRBY', KEYS[1], 'reserved', int(0 - amt))
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
local balance = redis.call('HGET', KEYS[1], 'balance') or '0'
redis.call('XADD', KEYS[4], '*', 'type', 'expire', 'subscriber', r[1], 'service', r[2], 'requestId', r[7],
  'reservationId', ARGV[1], 'sessionId', r[3], 'amount', int(amt), 'currency', r[4], 'balanceAfter', balance, 'timestamp', ARGV[3])
return 1
