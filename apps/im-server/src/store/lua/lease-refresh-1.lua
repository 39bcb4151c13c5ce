--[[
  Extend a lease (the one-retrieval-per-user lock) only if the caller still owns it.
  KEYS[1] lease key   ARGV[1] owner   ARGV[2] TTL (ms)
  Returns 1 when extended, 0 when the lease is gone or held by someone else.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
