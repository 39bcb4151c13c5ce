--[[
  Add credit to an account (admin top-up), idempotent by requestId.
  KEYS[1] account hash   KEYS[2] idempotency key   KEYS[3] shard CDR outbox stream
  ARGV[1] requestId   ARGV[2] idempotency TTL (s)   ARGV[3] amount   ARGV[4] subscriber   ARGV[5] now (ISO)   ARGV[6] shard tag
  Returns {response JSON, notifications JSON}; result USER_UNKNOWN when there is no account.
]]
--@include answer
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return answer({requestId = requestId, result = 'USER_UNKNOWN', resultCode = 5030, message = 'no account for ' .. ARGV[4]})
end
local amount = tonumber(ARGV[3])
local after = redis.call('HINCRBY', KEYS[1], 'balance', amount)
redis.call('HINCRBY', KEYS[1], 'sum:topup', amount)
local currency = redis.call('HGET', KEYS[1], 'currency')
local id = redis.call('XADD', KEYS[3], '*', 'type', 'top-up', 'subscriber', ARGV[4], 'service', '', 'requestId', requestId,
  'amount', amount, 'currency', currency, 'balanceAfter', after, 'timestamp', ARGV[5])
afterIncrease(KEYS[1], after)
return answer({requestId = requestId, result = 'SUCCESS', resultCode = 2001, amount = amount, balance = after,
  cdrId = ARGV[6] .. '-' .. id, currency = currency})
