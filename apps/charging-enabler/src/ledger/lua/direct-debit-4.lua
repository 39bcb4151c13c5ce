--[[
  Debit the price of the items at once, all or nothing (CH-2 ch2.direct-debit; Diameter IEC, Requested-Action
  DIRECT_DEBITING, RFC 4006 §6.3).
  KEYS[1] account hash   KEYS[2] idempotency key   KEYS[3] shard CDR outbox stream   KEYS[4] shard charges hash
  ARGV[1] requestId   ARGV[2] idempotency TTL (s)   ARGV[3] subscriber   ARGV[4] service   ARGV[5] sessionId or ''
  ARGV[6] tariff currency   ARGV[7] total price   ARGV[8] item count   ARGV[9] total octets   ARGV[10] unit price
  ARGV[11] now (ISO)   ARGV[12] shard tag   ARGV[13] day (yyyymmdd, usage counters)
  Returns {response JSON, notifications JSON}.
]]
--@include int
--@include answer
--@include chargeable
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId, service = ARGV[1], ARGV[4]
local acct, refused = chargeable(KEYS[1], requestId, ARGV[3], service, ARGV[6])
if not acct then return refused end
local balance, reserved, currency = acct.balance, acct.reserved, acct.currency
local total = tonumber(ARGV[7])
if total == 0 then
  return answer({requestId = requestId, result = 'CREDIT_CONTROL_NOT_APPLICABLE', resultCode = 4011, currency = currency,
    message = service .. ' is free for this subscriber'})
end
if balance - reserved < total then
  return answer({requestId = requestId, result = 'CREDIT_LIMIT_REACHED', resultCode = 4012, currency = currency,
    message = 'available credit ' .. (balance - reserved) .. ' cannot cover ' .. total})
end
local after = balance - total
local usage, usageNotes = usageAfter(acct, service, tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[13])
redis.call('HSET', KEYS[1], 'balance', int(after), 'sum:debit', int(acct.debits + total), 'u:' .. service, usage)
local id = redis.call('XADD', KEYS[3], '*', 'type', 'direct-debit', 'subscriber', ARGV[3], 'service', service,
  'requestId', requestId, 'sessionId', ARGV[5], 'octets', ARGV[9], 'items', ARGV[8], 'amount', int(total), 'currency', currency,
  'balanceAfter', int(after), 'timestamp', ARGV[11])
local cdrId = ARGV[12] .. '-' .. id
redis.call('HSET', KEYS[4], cdrId, int(total) .. '|0|' .. ARGV[3] .. '|' .. service .. '|' .. currency)
afterDecrease(KEYS[1], acct, service, tonumber(ARGV[10]), after, reserved)
raise(usageNotes)
return answer({requestId = requestId, result = 'SUCCESS', resultCode = 2001, debitedAmount = total, cdrId = cdrId, currency = currency})
