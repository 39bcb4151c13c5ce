--[[
  Drop a user's expired messages (their hashes expire by themselves; the indexes and caps are updated here), then
  list the pending ids oldest first. Expired messages are never offered, hence never charged. An expired message
  whose deposit asked negative-delivery leaves its watch entry on the user's due list, for the sweeper to send the
  `failed` IMDN (RFC 5438) — in the same script, so no expiry is missed and none is noticed twice.
  KEYS[1] message order zset   KEYS[2] expiry zset   KEYS[3] octets hash   KEYS[4] usage hash
  KEYS[5] negative-delivery watch hash   KEYS[6] due list of `failed` notices
  ARGV[1] now (ms)   ARGV[2] limit   ARGV[3] '1' for the sweeper (expiry-index.ts)
  Returns the ids, oldest first; for the sweeper {earliest expiry left (ms, -1 when none), notices on the due list}.
]]
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  local o = tonumber(redis.call('HGET', KEYS[3], id) or '0')
  if redis.call('ZREM', KEYS[1], id) == 1 then
    redis.call('HINCRBY', KEYS[4], 'count', -1)
    redis.call('HINCRBY', KEYS[4], 'bytes', 0 - o)
  end
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  local w = redis.call('HGET', KEYS[5], id)
  if w then
    redis.call('RPUSH', KEYS[6], w)
    redis.call('HDEL', KEYS[5], id)
  end
end
if ARGV[3] == '1' then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {first[2] and tonumber(first[2]) or -1, redis.call('LLEN', KEYS[6])}
end
return redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
