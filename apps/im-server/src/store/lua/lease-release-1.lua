--[[
  Drop a lease only if the caller owns it (a lease that ran out and was taken by another session stays theirs).
  KEYS[1] lease key   ARGV[1] owner
  Returns 1 when dropped, 0 otherwise.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
