--[[
  Records a digest nonce-count if it is higher than every count recorded before for that nonce and username
  (RFC 2617 §3.2.2: "if the same nc-value is seen twice, then the request is a replay"). Atomic, so two replicas
  that see the same captured request at once cannot both accept it.
  KEYS[1] nonce-count key   ARGV[1] nonce-count   ARGV[2] TTL (ms), longer than the nonce lives
  Returns 1 when recorded (go ahead), 0 when the count is not higher (a replay).
]]
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
