--[[
  Refund all or part of an earlier charge (CH-2 ch2.refund; Diameter Requested-Action REFUND_ACCOUNT).
  Bounded by what that charge took minus what was already refunded, and refused (nothing changed) when it would
  take the balance above A.maxBalance.
  A charge of one message refunded in full no longer counts as the message's charge: its charge-once mark (KEYS[5])
  is removed, so a later delivery of the message is charged (a `before-send` charge whose message never left) — unless
  a later delivery already relied on it (the mark ends `|relied`): then a full refund is refused, a partial one allowed. The
  refund CDR names the message and the outcome of the charge it refunds, when the charge was for one message.
  KEYS[1] account (hash)   KEYS[2] idempotency (stored answer)   KEYS[3] outbox (shard CDR stream)
  KEYS[4] charges (shard hash: cdrId -> refundable charge)   KEYS[5] chargedMessages (shard charge-once hash)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts RefundArgs):
  A.requestId   A.idempotencyTtl  idempotency TTL (s)   A.cdrId  the charge   A.amount?  absent: all that is left
  A.subscriber  A.nowIso   A.shardTag   A.sessionId?
  A.maxBalance  highest balance allowed (MAX_MONEY, libs/ch2 money.ts)
  Returns {response JSON, notifications JSON}.
]]
--@include int
--@include answer
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId, cdrId, subscriber = A.requestId, A.cdrId, A.subscriber
local c = redis.call('HGET', KEYS[4], cdrId)
-- amount|refunded|subscriber|service|currency[|outcome|itemId] (charges written before the charge-once mark lack the last two)
local charged, refunded, sub, service, currency, outcome, itemId
if c then
  charged, refunded, sub, service, currency, outcome, itemId = string.match(c, '^(%d+)|(%d+)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  if not charged then charged, refunded, sub, service, currency = string.match(c, '^(%d+)|(%d+)|([^|]*)|([^|]*)|(.*)$') end
end
if not c or sub ~= subscriber or redis.call('EXISTS', KEYS[1]) == 0 then
  return answer({requestId = requestId, result = RESULT.UNKNOWN_RESERVATION, resultCode = CODE.UNKNOWN_RESERVATION,
    message = 'no refundable charge ' .. cdrId .. ' for ' .. subscriber})
end
local left = tonumber(charged) - tonumber(refunded)
local amount = left
if A.amount ~= nil then amount = A.amount end
if amount > left or amount <= 0 then
  return answer({requestId = requestId, result = RESULT.INVALID_REQUEST, resultCode = CODE.INVALID_REQUEST, currency = currency,
    details = {'amount: ' .. amount .. ' exceeds what charge ' .. cdrId .. ' can still refund (' .. left .. ')'}})
end
-- a charge a later delivery of the same message relied on (debit-7.lua settled it as `chargedBy` this charge) is never
-- refunded in full: that would leave a delivered message uncharged (a queued before-send refund replayed after the
-- message was delivered in another session). A partial refund is still allowed.
if itemId and itemId ~= '' and amount == left then
  local mark = redis.call('HGET', KEYS[5], sub .. '\n' .. itemId)
  if mark and string.sub(mark, 1, #cdrId + 1) == cdrId .. '|' and string.sub(mark, -7) == '|relied' then
    return answer({requestId = requestId, result = RESULT.INVALID_REQUEST, resultCode = CODE.INVALID_REQUEST, currency = currency,
      details = {'cdrId: charge ' .. cdrId .. ' covers message ' .. itemId .. ', delivered since relying on it: it cannot be refunded in full'}})
  end
end
local balance, max = redis.call('HGET', KEYS[1], 'balance'), A.maxBalance
-- no addition before the check: a sum past 2^53 would be rounded
if amount > max - tonumber(balance) then
  return answer({requestId = requestId, result = RESULT.INVALID_REQUEST, resultCode = CODE.INVALID_REQUEST, currency = currency,
    details = {'amount: ' .. int(amount) .. ' would take the balance of ' .. balance .. ' above the limit of ' .. int(max)}})
end
local after = redis.call('HINCRBY', KEYS[1], 'balance', int(amount))
redis.call('HINCRBY', KEYS[1], 'sum:refund', int(amount))
local rest = ''
if outcome then rest = '|' .. outcome .. '|' .. itemId end
redis.call('HSET', KEYS[4], cdrId, charged .. '|' .. int(tonumber(refunded) + amount) .. '|' .. sub .. '|' .. service .. '|' .. currency .. rest)
local cdr = {'type', 'refund', 'subscriber', sub, 'service', service, 'requestId', requestId, 'sessionId', A.sessionId or '',
  'refundOf', cdrId, 'amount', int(amount), 'currency', currency, 'balanceAfter', int(after), 'timestamp', A.nowIso}
if itemId and itemId ~= '' then
  cdr[#cdr + 1] = 'itemId'
  cdr[#cdr + 1] = itemId
  if amount == left then
    local field = sub .. '\n' .. itemId
    local mark = redis.call('HGET', KEYS[5], field)
    if mark and string.sub(mark, 1, #cdrId + 1) == cdrId .. '|' then redis.call('HDEL', KEYS[5], field) end
  end
end
if outcome and outcome ~= '' then
  cdr[#cdr + 1] = 'outcome'
  cdr[#cdr + 1] = outcome
end
local id = redis.call('XADD', KEYS[3], '*', unpack(cdr))
afterIncrease(KEYS[1], after)
return answer({requestId = requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, refundedAmount = amount,
  cdrId = A.shardTag .. '-' .. id, currency = currency})
