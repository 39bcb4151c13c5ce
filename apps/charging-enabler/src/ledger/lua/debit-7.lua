--[[
  Debit the used units of one reserved item (CH-2 ch2.debit; Diameter CCR-U/T with Used-Service-Unit).
  The debit is bounded by what was reserved for the item; the item's whole hold leaves `reserved`, the difference
  returns to the available credit. An item is settled once: a second debit of it is refused.
  Charged once per message (retrieval-flow.md "Charged once, whatever crashes"): the charge-once hash KEYS[6]
  remembers, per subscriber and message id, the CDR that charged the message and its outcome. A message already
  charged — by a debit under another reservation (a redelivery after a crash between the charge and the deletion)
  or by a direct debit — is settled here without a second charge: its hold returns to the available credit, no CDR
  is written (no money moved), and the answer names the first charge (`chargedBy`). The message's charge is its first
  chargeable outcome, whichever it was: a message charged for a 4xx or a timeout is not charged again when delivered.
  Such a settlement marks the first charge as relied on (`|relied`): refund-5.lua then refuses to refund it in full.
  KEYS[1] account (hash)   KEYS[2] idempotency (stored answer)   KEYS[3] reservation (hash)
  KEYS[4] outbox (shard CDR stream)   KEYS[5] charges (shard hash: cdrId -> refundable charge)
  KEYS[6] chargedMessages (shard charge-once hash)   KEYS[7] monitoring (the account's usage-monitoring keys)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts DebitArgs):
  A.requestId   A.idempotencyTtl  idempotency TTL (s)   A.reservationId   A.itemId   A.outcome   A.octets   A.subscriber
  A.amount      rated amount for the octets used         A.unitPrice   A.nowIso   A.shardTag  shard tag (cdrId prefix)
  A.day         day of the debit (yyyymmdd, usage counters)   A.sessionId?
  A.service     service the debit was rated for (must be the reservation's)
  A.atMs        the debit's event time (ms; monitoring keys' monitoring time)   A.ratingGroup?  written in the CDR
  Returns {response JSON, notifications JSON}.
]]
--@include int
--@include answer
--@include monitoring
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId, rid, itemId, sub, outcome = A.requestId, A.reservationId, A.itemId, A.subscriber, A.outcome
local r = redis.call('HMGET', KEYS[3], 'sub', 'svc', 'sid', 'cur', 'i:' .. itemId, 'd:' .. itemId, 'amt')
if not r[1] or r[1] ~= sub then
  return answer({requestId = requestId, result = RESULT.UNKNOWN_RESERVATION, resultCode = CODE.UNKNOWN_RESERVATION,
    message = 'reservation ' .. rid .. ' is unknown, expired or released'})
end
if not r[5] then
  return answer({requestId = requestId, result = RESULT.UNKNOWN_RESERVATION, resultCode = CODE.UNKNOWN_RESERVATION, currency = r[4],
    message = 'item ' .. itemId .. ' is not part of reservation ' .. rid})
end
if r[6] then
  -- `settled`: the item was charged by an earlier debit (a caller must not charge it another way)
  return answer({requestId = requestId, result = RESULT.UNKNOWN_RESERVATION, resultCode = CODE.UNKNOWN_RESERVATION, currency = r[4], settled = true,
    message = 'item ' .. itemId .. ' of reservation ' .. rid .. ' was already debited'})
end
local service, currency = r[2], r[4]
if A.service ~= service then
  return answer({requestId = requestId, result = RESULT.INVALID_REQUEST, resultCode = CODE.INVALID_REQUEST, currency = currency,
    details = {'service: ' .. A.service .. ' differs from the reservation\'s service ' .. service}})
end
local hold = tonumber(r[5])
local amount = A.amount
if amount > hold then amount = hold end
local acct = readAccount(KEYS[1], service)
if not acct then
  return answer({requestId = requestId, result = RESULT.USER_UNKNOWN, resultCode = CODE.USER_UNKNOWN, currency = currency,
    message = 'no account for ' .. sub})
end
local onceField = sub .. '\n' .. itemId
local first = redis.call('HGET', KEYS[6], onceField)
if first then
  -- `<cdrId>|<outcome>[|relied]`: this delivery now relies on that charge, so it may no longer be refunded in full
  -- (refund-5.lua): a queued before-send refund must not leave a delivered message uncharged
  if string.sub(first, -7) ~= '|relied' then redis.call('HSET', KEYS[6], onceField, first .. '|relied') end
  local firstCdr, firstOutcome = string.match(first, '^([^|]*)|([^|]*)')
  local left = tonumber(r[7]) - hold
  redis.call('HSET', KEYS[1], 'reserved', int(acct.reserved - hold))
  redis.call('HSET', KEYS[3], 'amt', int(left), 'd:' .. itemId, '0')
  return answer({requestId = requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, debitedAmount = 0, remainingReserved = left,
    currency = currency, chargedBy = {cdrId = firstCdr, outcome = firstOutcome}})
end
-- one write for the account's counters and the day's usage, one for the reservation (values computed here, exact)
local balance, reserved = acct.balance - amount, acct.reserved - hold
local usage, usageNotes = usageAfter(acct, service, 1, A.octets, A.day)
redis.call('HSET', KEYS[1], 'balance', int(balance), 'reserved', int(reserved), 'sum:debit', int(acct.debits + amount),
  'u:' .. service, usage)
local remaining = tonumber(r[7]) - hold
redis.call('HSET', KEYS[3], 'amt', int(remaining), 'd:' .. itemId, int(amount))
local sid = A.sessionId or ''
if sid == '' then sid = r[3] end
local id = redis.call('XADD', KEYS[4], '*', 'type', 'debit', 'subscriber', sub, 'service', service, 'requestId', requestId,
  'reservationId', rid, 'sessionId', sid, 'itemId', itemId, 'octets', int(A.octets), 'outcome', outcome, 'amount', int(amount),
  'currency', currency, 'balanceAfter', int(balance), 'timestamp', A.nowIso, 'ratingGroup', A.ratingGroup or '')
local cdrId = A.shardTag .. '-' .. id
redis.call('HSET', KEYS[5], cdrId, int(amount) .. '|0|' .. sub .. '|' .. service .. '|' .. currency .. '|' .. outcome .. '|' .. itemId)
redis.call('HSET', KEYS[6], onceField, cdrId .. '|' .. outcome)
afterDecrease(KEYS[1], acct, service, A.unitPrice, balance, reserved)
raise(usageNotes)
monitorUsage(acct.mk, KEYS[7], KEYS[4], sub, {service = service, count = 1, octets = A.octets, sessionMs = 0, atMs = A.atMs,
  requestId = requestId, nowIso = A.nowIso, shardTag = A.shardTag})
return answer({requestId = requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, debitedAmount = amount, cdrId = cdrId,
  remainingReserved = remaining, currency = currency})
