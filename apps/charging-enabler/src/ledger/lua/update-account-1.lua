--[[
  Change an account's state or thresholds (admin PATCH); never its money.
  KEYS[1] account (hash)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts UpdateAccountArgs):
  A.state?   A.lowBalance?   A.usageCount?   A.usageOctets?
  A threshold absent is unchanged, `null` (cjson.null) removes it, a number sets it.
  Returns 1 when updated, 0 when there is no account.
]]
--@include int
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if A.state ~= nil and A.state ~= '' then redis.call('HSET', KEYS[1], 'state', A.state) end
local function set(field, v)
  if v == cjson.null then redis.call('HDEL', KEYS[1], field) elseif v ~= nil then redis.call('HSET', KEYS[1], field, int(v)) end
end
set('thr:low', A.lowBalance)
set('thr:count', A.usageCount)
set('thr:octets', A.usageOctets)
return 1
