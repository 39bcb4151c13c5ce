--[[
  Change an account's state or thresholds (admin PATCH); never its money.
  KEYS[1] account hash
  ARGV[1] state or ''   ARGV[2] low-balance threshold, '' unchanged, '-' remove
  ARGV[3] daily usage count threshold (same rule)   ARGV[4] daily usage octets threshold (same rule)
  Returns 1 when updated, 0 when there is no account.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[1]) end
local function set(field, v)
  if v == '-' then redis.call('HDEL', KEYS[1], field) elseif v ~= '' then redis.call('HSET', KEYS[1], field, v) end
end
set('thr:low', ARGV[2])
set('thr:count', ARGV[3])
set('thr:octets', ARGV[4])
return 1
