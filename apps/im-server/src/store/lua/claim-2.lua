--[[
  A sweeper takes the due entries of one expiry bucket: each is pushed a lease ahead (another replica sweeping at
  the same time skips it; a sweeper that dies leaves it due again when the lease ends) and marked with the sweep's
  token, which a deposit into that mailbox drops (index-2.lua).
  KEYS[1] bucket zset   KEYS[2] bucket claims hash
  ARGV[1] now (ms)   ARGV[2] lease (ms)   ARGV[3] at most this many   ARGV[4] the sweep's token
  Returns {aor, previous mark ('' or 'empty': found empty at the last visit, no deposit since), ...}.
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local until_ = tonumber(ARGV[1]) + tonumber(ARGV[2])
local out = {}
for _, aor in ipairs(due) do
  local prev = redis.call('HGET', KEYS[2], aor)
  redis.call('ZADD', KEYS[1], until_, aor)
  redis.call('HSET', KEYS[2], aor, ARGV[4])
  out[#out + 1] = aor
  out[#out + 1] = (prev == 'empty') and 'empty' or ''
end
return out
