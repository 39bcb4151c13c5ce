--[[
  Add credit to an account (admin top-up), idempotent by requestId.
  KEYS[1] account (hash)   KEYS[2] idempotency (stored answer)   KEYS[3] outbox (shard CDR stream)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts TopUpArgs):
  A.requestId   A.idempotencyTtl  idempotency TTL (s)   A.amount   A.subscriber   A.nowIso   A.shardTag
  A.maxBalance  highest balance allowed (MAX_MONEY, libs/ch2 money.ts)
  Returns {response JSON, notifications JSON}; result USER_UNKNOWN when there is no account, INVALID_REQUEST
  (nothing changed) when the balance would pass A.maxBalance.
]]
--@include int
--@include answer
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId, sub = A.requestId, A.subscriber
if redis.call('EXISTS', KEYS[1]) == 0 then
  return answer({requestId = requestId, result = RESULT.USER_UNKNOWN, resultCode = CODE.USER_UNKNOWN, message = 'no account for ' .. sub})
end
local amount, max = A.amount, A.maxBalance
local a = redis.call('HMGET', KEYS[1], 'balance', 'currency')
local balance, currency = tonumber(a[1]), a[2]
-- no addition before the check: a sum past 2^53 would be rounded
if amount > max - balance then
  return answer({requestId = requestId, result = RESULT.INVALID_REQUEST, resultCode = CODE.INVALID_REQUEST, currency = currency,
    details = {'amount: ' .. int(amount) .. ' would take the balance of ' .. a[1] .. ' above the limit of ' .. int(max)}})
end
local after = redis.call('HINCRBY', KEYS[1], 'balance', int(amount))
redis.call('HINCRBY', KEYS[1], 'sum:topup', int(amount))
local id = redis.call('XADD', KEYS[3], '*', 'type', 'top-up', 'subscriber', sub, 'service', '', 'requestId', requestId,
  'amount', int(amount), 'currency', currency, 'balanceAfter', int(after), 'timestamp', A.nowIso)
afterIncrease(KEYS[1], after)
return answer({requestId = requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, amount = amount, balance = after,
  cdrId = A.shardTag .. '-' .. id, currency = currency})
