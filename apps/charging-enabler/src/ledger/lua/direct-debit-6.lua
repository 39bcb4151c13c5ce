--[[
  Debit the price of the items at once, all or nothing (CH-2 ch2.direct-debit; Diameter IEC, Requested-Action
  DIRECT_DEBITING, RFC 4006 §6.3).
  Charged once per message (retrieval-flow.md "Charged once, whatever crashes"): an item the charge-once hash KEYS[5]
  already names (charged by a debit or an earlier direct debit) is left out of the charge; when every item was
  charged before, nothing is charged, no CDR is written, and the answer names the first charge (`chargedBy`).
  The CDR names the message (`itemId`, when one item is charged) and the outcome that caused the charge.
  KEYS[1] account (hash)   KEYS[2] idempotency (stored answer)   KEYS[3] outbox (shard CDR stream)
  KEYS[4] charges (shard hash: cdrId -> refundable charge)   KEYS[5] chargedMessages (shard charge-once hash)
  KEYS[6] monitoring (the account's usage-monitoring keys)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts DirectDebitArgs):
  A.requestId   A.idempotencyTtl  idempotency TTL (s)   A.subscriber   A.service   A.sessionId?
  A.currency    tariff currency   A.total  total price of all the items
  A.outcome?    outcome that caused the charge (delivered | rejected | timeout)   A.unitPrice   A.nowIso
  A.shardTag    A.day  day (yyyymmdd, usage counters)
  A.itemIds     A.prices   A.octets   the items' ids, prices and octets (parallel arrays, n items)
  A.atMs        the charge's event time (ms; monitoring keys' monitoring time)
  A.ratingGroup?  the rating group every item was priced at (written in the CDR)
  Returns {response JSON, notifications JSON}.
]]
--@include int
--@include answer
--@include chargeable
--@include monitoring
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId, sub, service, outcome = A.requestId, A.subscriber, A.service, A.outcome or ''
local acct, refused = chargeable(KEYS[1], requestId, sub, service, A.currency)
if not acct then return refused end
local balance, reserved, currency = acct.balance, acct.reserved, acct.currency
if A.total == 0 then
  return answer({requestId = requestId, result = RESULT.CREDIT_CONTROL_NOT_APPLICABLE, resultCode = CODE.CREDIT_CONTROL_NOT_APPLICABLE, currency = currency,
    message = service .. ' is free for this subscriber'})
end
-- the items not charged yet (a message charged before is never charged again)
local itemIds, prices, itemOctets = A.itemIds, A.prices, A.octets
local total, octets, fresh, first = 0, 0, {}, nil
for i = 1, #itemIds do
  local id = itemIds[i]
  local field = sub .. '\n' .. id
  local mark = redis.call('HGET', KEYS[5], field)
  if mark then
    first = first or mark
    -- this charge covers the item now: it may no longer be refunded in full (refund-5.lua)
    if string.sub(mark, -7) ~= '|relied' then redis.call('HSET', KEYS[5], field, mark .. '|relied') end
  else
    fresh[#fresh + 1] = id
    total = total + prices[i]
    octets = octets + itemOctets[i]
  end
end
if #fresh == 0 then
  local firstCdr, firstOutcome = string.match(first, '^([^|]*)|([^|]*)')
  return answer({requestId = requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, debitedAmount = 0, currency = currency,
    chargedBy = {cdrId = firstCdr, outcome = firstOutcome}})
end
if balance - reserved < total then
  return answer({requestId = requestId, result = RESULT.CREDIT_LIMIT_REACHED, resultCode = CODE.CREDIT_LIMIT_REACHED, currency = currency,
    message = 'available credit ' .. (balance - reserved) .. ' cannot cover ' .. total})
end
local after = balance - total
local usage, usageNotes = usageAfter(acct, service, #fresh, octets, A.day)
redis.call('HSET', KEYS[1], 'balance', int(after), 'sum:debit', int(acct.debits + total), 'u:' .. service, usage)
local itemId = ''
if #fresh == 1 then itemId = fresh[1] end
local cdr = {'type', 'direct-debit', 'subscriber', sub, 'service', service, 'requestId', requestId, 'sessionId', A.sessionId or '',
  'octets', int(octets), 'items', int(#fresh), 'amount', int(total), 'currency', currency, 'balanceAfter', int(after),
  'timestamp', A.nowIso}
if itemId ~= '' then
  cdr[#cdr + 1] = 'itemId'
  cdr[#cdr + 1] = itemId
end
if outcome ~= '' then
  cdr[#cdr + 1] = 'outcome'
  cdr[#cdr + 1] = outcome
end
if A.ratingGroup then
  cdr[#cdr + 1] = 'ratingGroup'
  cdr[#cdr + 1] = A.ratingGroup
end
local id = redis.call('XADD', KEYS[3], '*', unpack(cdr))
local cdrId = A.shardTag .. '-' .. id
redis.call('HSET', KEYS[4], cdrId, int(total) .. '|0|' .. sub .. '|' .. service .. '|' .. currency .. '|' .. outcome .. '|' .. itemId)
for i = 1, #fresh do redis.call('HSET', KEYS[5], sub .. '\n' .. fresh[i], cdrId .. '|' .. outcome) end
afterDecrease(KEYS[1], acct, service, A.unitPrice, after, reserved)
raise(usageNotes)
monitorUsage(acct.mk, KEYS[6], KEYS[3], sub, {service = service, count = #fresh, octets = octets, sessionMs = 0, atMs = A.atMs,
  requestId = requestId, nowIso = A.nowIso, shardTag = A.shardTag})
return answer({requestId = requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, debitedAmount = total, cdrId = cdrId, currency = currency})
