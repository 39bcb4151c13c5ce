--[[
  Gives back an attempt counted by window-hit when it was not a wrong guess (a success, a stale nonce, a bad
  request). Never below 0 and never on a window that already ended (no key without TTL is created).
  KEYS[1] counter
  Returns the count left.
]]
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= 0 then return 0 end
return redis.call('DECR', KEYS[1])
