--[[
  Debit the price of the items at once, all or nothing (CH-2 ch2.direct-debit; Diameter IEC, Requested-Action
  DIRECT_DEBITING, RFC 4006 §6.3).
  Charged once per message (retrieval-flow.md "Charged once, whatever crashes"): an item the charge-once hash KEYS[5]
  already names (charged by a debit or an earlier direct debit) is left out of the charge; when every item was
  charged before, nothing is charged, no CDR is written, and the answer names the first charge (`chargedBy`).
  The CDR names the message (`itemId`, when one item is charged) and the outcome that caused the charge.
  KEYS[1] account hash   KEYS[2] idempotency key   KEYS[3] shard CDR outbox stream   KEYS[4] shard charges hash
  KEYS[5] shard charge-once hash (sub\nitemId -> cdrId|outcome)
  ARGV[1] requestId   ARGV[2] idempotency TTL (s)   ARGV[3] subscriber   ARGV[4] service   ARGV[5] sessionId or ''
  ARGV[6] tariff currency   ARGV[7] total price of all the items   ARGV[8] item count n
  ARGV[9] outcome that caused the charge or '' (delivered | rejected | timeout)   ARGV[10] unit price   ARGV[11] now (ISO)
  ARGV[12] shard tag   ARGV[13] day (yyyymmdd, usage counters)
  ARGV[14 + 3i], ARGV[15 + 3i], ARGV[16 + 3i] item i id, price and octets (i = 0 .. n-1)
  Returns {response JSON, notifications JSON}.
]]
--@include int
--@include answer
--@include chargeable
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId, sub, service, outcome = ARGV[1], ARGV[3], ARGV[4], ARGV[9]
local acct, refused = chargeable(KEYS[1], requestId, sub, service, ARGV[6])
if not acct then return refused end
local balance, reserved, currency = acct.balance, acct.reserved, acct.currency
if tonumber(ARGV[7]) == 0 then
  return answer({requestId = requestId, result = 'CREDIT_CONTROL_NOT_APPLICABLE', resultCode = 4011, currency = currency,
    message = service .. ' is free for this subscriber'})
end
-- the items not charged yet (a message charged before is never charged again)
local n = tonumber(ARGV[8])
local total, octets, fresh, first = 0, 0, {}, nil
for i = 0, n - 1 do
  local id = ARGV[14 + 3 * i]
  local mark = redis.call('HGET', KEYS[5], sub .. '\n' .. id)
  if mark then
    first = first or mark
  else
    fresh[#fresh + 1] = id
    total = total + tonumber(ARGV[15 + 3 * i])
    octets = octets + tonumber(ARGV[16 + 3 * i])
  end
end
if #fresh == 0 then
  local firstCdr, firstOutcome = string.match(first, '^([^|]*)|(.*)$')
  return answer({requestId = requestId, result = 'SUCCESS', resultCode = 2001, debitedAmount = 0, currency = currency,
    chargedBy = {cdrId = firstCdr, outcome = firstOutcome}})
end
if balance - reserved < total then
  return answer({requestId = requestId, result = 'CREDIT_LIMIT_REACHED', resultCode = 4012, currency = currency,
    message = 'available credit ' .. (balance - reserved) .. ' cannot cover ' .. total})
end
local after = balance - total
local usage, usageNotes = usageAfter(acct, service, #fresh, octets, ARGV[13])
redis.call('HSET', KEYS[1], 'balance', int(after), 'sum:debit', int(acct.debits + total), 'u:' .. service, usage)
local itemId = ''
if #fresh == 1 then itemId = fresh[1] end
local cdr = {'type', 'direct-debit', 'subscriber', sub, 'service', service, 'requestId', requestId, 'sessionId', ARGV[5],
  'octets', int(octets), 'items', int(#fresh), 'amount', int(total), 'currency', currency, 'balanceAfter', int(after),
  'timestamp', ARGV[11]}
if itemId ~= '' then
  cdr[#cdr + 1] = 'itemId'
  cdr[#cdr + 1] = itemId
end
if outcome ~= '' then
  cdr[#cdr + 1] = 'outcome'
  cdr[#cdr + 1] = outcome
end
local id = redis.call('XADD', KEYS[3], '*', unpack(cdr))
local cdrId = ARGV[12] .. '-' .. id
redis.call('HSET', KEYS[4], cdrId, int(total) .. '|0|' .. sub .. '|' .. service .. '|' .. currency .. '|' .. outcome .. '|' .. itemId)
for i = 1, #fresh do redis.call('HSET', KEYS[5], sub .. '\n' .. fresh[i], cdrId .. '|' .. outcome) end
afterDecrease(KEYS[1], acct, service, tonumber(ARGV[10]), after, reserved)
raise(usageNotes)
return answer({requestId = requestId, result = 'SUCCESS', resultCode = 2001, debitedAmount = total, cdrId = cdrId, currency = currency})
