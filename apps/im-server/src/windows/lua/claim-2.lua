--[[
  Claim the events that are due, for one replica to publish: each is moved from `due` to `claimed` with a lease, so
  two replicas never both take it. A claim whose replica died before acknowledging it (ZREM from `claimed`) lapses
  and is claimed again: an event is published once, or — only across such a crash — at least once.
  KEYS[1] due events zset   KEYS[2] claimed events zset
  ARGV[1] now (ms)   ARGV[2] lease (ms)   ARGV[3] at most this many
  Returns the event JSONs claimed.
]]
local now, lease, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for _, key in ipairs({KEYS[2], KEYS[1]}) do
  local members = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, limit)
  for _, m in ipairs(members) do
    redis.call('ZREM', key, m)
    redis.call('ZADD', KEYS[2], now + lease, m)
    out[#out + 1] = m
  end
end
return out
