--[[
  Add credit to an account (admin top-up), idempotent by requestId.
  KEYS[1] account hash   KEYS[2] idempotency key   KEYS[3] shard CDR outbox stream
  ARGV[1] requestId   ARGV[2] idempotency TTL (s)   ARGV[3] amount   ARGV[4] subscriber   ARGV[5] now (ISO)   ARGV[6] shard tag
  ARGV[7] highest balance allowed (MAX_MONEY, libs/ch2 money.ts)
  Returns {response JSON, notifications JSON}; result USER_UNKNOWN when there is no account, INVALID_REQUEST
  (nothing changed) when the balance would pass ARGV[7].
]]
--@include int
--@include answer
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return answer({requestId = requestId, result = 'USER_UNKNOWN', resultCode = 5030, message = 'no account for ' .. ARGV[4]})
end
local amount, max = tonumber(ARGV[3]), tonumber(ARGV[7])
local a = redis.call('HMGET', KEYS[1], 'balance', 'currency')
local balance, currency = tonumber(a[1]), a[2]
-- no addition before the check: a sum past 2^53 would be rounded
if amount > max - balance then
  return answer({requestId = requestId, result = 'INVALID_REQUEST', resultCode = 5004, currency = currency,
    details = {'amount: ' .. int(amount) .. ' would take the balance of ' .. a[1] .. ' above the limit of ' .. int(max)}})
end
local after = redis.call('HINCRBY', KEYS[1], 'balance', int(amount))
redis.call('HINCRBY', KEYS[1], 'sum:topup', int(amount))
local id = redis.call('XADD', KEYS[3], '*', 'type', 'top-up', 'subscriber', ARGV[4], 'service', '', 'requestId', requestId,
  'amount', int(amount), 'currency', currency, 'balanceAfter', int(after), 'timestamp', ARGV[5])
afterIncrease(KEYS[1], after)
return answer({requestId = requestId, result = 'SUCCESS', resultCode = 2001, amount = amount, balance = after,
  cdrId = ARGV[6] .. '-' .. id, currency = currency})
