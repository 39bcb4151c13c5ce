--[[
  Debit the price of the items at once, all or nothing (CH-2 ch2.direct-debit; Diameter IEC, Requested-Action
  DIRECT_DEBITING, RFC 4006 §6.3).
  KEYS[1] account hash   KEYS[2] idempotency key   KEYS[3] shard CDR outbox stream   KEYS[4] shard charges hash
  KEYS[5] usage hash (subscriber, service, day)
  ARGV[1] requestId   ARGV[2] idempotency TTL (s)   ARGV[3] subscriber   ARGV[4] service   ARGV[5] sessionId or ''
  ARGV[6] tariff currency   ARGV[7] total price   ARGV[8] item count   ARGV[9] total octets   ARGV[10] unit price
  ARGV[11] now (ISO)   ARGV[12] shard tag   ARGV[13] usage TTL (s)
  Returns {response JSON, notifications JSON}.
]]
--@include answer
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId, service = ARGV[1], ARGV[4]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return answer({requestId = requestId, result = 'USER_UNKNOWN', resultCode = 5030, message = 'no account for ' .. ARGV[3]})
end
local a = redis.call('HMGET', KEYS[1], 'balance', 'reserved', 'currency', 'state')
local balance, reserved, currency, state = tonumber(a[1]), tonumber(a[2]), a[3], a[4]
if state ~= 'active' then
  return answer({requestId = requestId, result = 'END_USER_SERVICE_DENIED', resultCode = 4010, message = 'account is ' .. state, currency = currency})
end
if currency ~= ARGV[6] then
  return answer({requestId = requestId, result = 'RATING_FAILED', resultCode = 5031, currency = currency,
    message = 'tariff for ' .. service .. ' is in ' .. ARGV[6] .. ' but the account is in ' .. currency})
end
local total = tonumber(ARGV[7])
if total == 0 then
  return answer({requestId = requestId, result = 'CREDIT_CONTROL_NOT_APPLICABLE', resultCode = 4011, currency = currency,
    message = service .. ' is free for this subscriber'})
end
if balance - reserved < total then
  return answer({requestId = requestId, result = 'CREDIT_LIMIT_REACHED', resultCode = 4012, currency = currency,
    message = 'available credit ' .. (balance - reserved) .. ' cannot cover ' .. total})
end
local after = redis.call('HINCRBY', KEYS[1], 'balance', 0 - total)
redis.call('HINCRBY', KEYS[1], 'sum:debit', total)
local id = redis.call('XADD', KEYS[3], '*', 'type', 'direct-debit', 'subscriber', ARGV[3], 'service', service,
  'requestId', requestId, 'sessionId', ARGV[5], 'octets', ARGV[9], 'items', ARGV[8], 'amount', total, 'currency', currency,
  'balanceAfter', after, 'timestamp', ARGV[11])
local cdrId = ARGV[12] .. '-' .. id
redis.call('HSET', KEYS[4], cdrId, total .. '|0|' .. ARGV[3] .. '|' .. service .. '|' .. currency)
afterDecrease(KEYS[1], service, tonumber(ARGV[10]), balance, after)
afterUsage(KEYS[1], KEYS[5], service, tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[13]))
return answer({requestId = requestId, result = 'SUCCESS', resultCode = 2001, debitedAmount = total, cdrId = cdrId, currency = currency})
