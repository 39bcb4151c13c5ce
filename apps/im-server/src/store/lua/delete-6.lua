--[[
  Delete a delivered message (only after its delivery was confirmed, retrieval-flow.md step 10).
  KEYS[1] message order zset   KEYS[2] expiry zset   KEYS[3] octets hash   KEYS[4] usage hash   KEYS[5] message hash
  KEYS[6] negative-delivery watch hash (a delivered message will never need a `failed` IMDN)
  ARGV[1] id
  Returns 1 when deleted here, 0 when it was already gone.
]]
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local o = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[6], ARGV[1])
redis.call('HINCRBY', KEYS[4], 'count', -1)
redis.call('HINCRBY', KEYS[4], 'bytes', 0 - o)
redis.call('DEL', KEYS[5])
return 1
