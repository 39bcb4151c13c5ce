-- One debit of one reserved item, as ch2.debit applies it (debit-7.lua) and ch2.debits applies each of its items
-- (debits-7.lua); after `int`, `answer` and `monitoring`. `D` holds the debit's fields (debit-7.lua's `A`: requestId,
-- reservationId, itemId, outcome, octets, subscriber, amount, unitPrice, nowIso, shardTag, day, sessionId, service,
-- atMs, ratingGroup). Keys as debit-7.lua's (KEYS[2], the idempotency key, is not touched here). Returns the CH-2
-- answer as a table; the caller stores it under the requestId's idempotency key.
local function debitItem(D)
  local requestId, rid, itemId, sub, outcome = D.requestId, D.reservationId, D.itemId, D.subscriber, D.outcome
  local r = redis.call('HMGET', KEYS[3], 'sub', 'svc', 'sid', 'cur', 'i:' .. itemId, 'd:' .. itemId, 'amt')
  if not r[1] or r[1] ~= sub then
    return {requestId = requestId, result = RESULT.UNKNOWN_RESERVATION, resultCode = CODE.UNKNOWN_RESERVATION,
      message = 'reservation ' .. rid .. ' is unknown, expired or released'}
  end
  if not r[5] then
    return {requestId = requestId, result = RESULT.UNKNOWN_RESERVATION, resultCode = CODE.UNKNOWN_RESERVATION, currency = r[4],
      message = 'item ' .. itemId .. ' is not part of reservation ' .. rid}
  end
  if r[6] then
    -- `settled`: the item was charged by an earlier debit (a caller must not charge it another way)
    return {requestId = requestId, result = RESULT.UNKNOWN_RESERVATION, resultCode = CODE.UNKNOWN_RESERVATION, currency = r[4], settled = true,
      message = 'item ' .. itemId .. ' of reservation ' .. rid .. ' was already debited'}
  end
  local service, currency = r[2], r[4]
  if D.service ~= service then
    return {requestId = requestId, result = RESULT.INVALID_REQUEST, resultCode = CODE.INVALID_REQUEST, currency = currency,
      details = {'service: ' .. D.service .. ' differs from the reservation\'s service ' .. service}}
  end
  local hold = tonumber(r[5])
  local amount = D.amount
  if amount > hold then amount = hold end
  local acct = readAccount(KEYS[1], service)
  if not acct then
    return {requestId = requestId, result = RESULT.USER_UNKNOWN, resultCode = CODE.USER_UNKNOWN, currency = currency,
      message = 'no account for ' .. sub}
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
    return {requestId = requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, debitedAmount = 0, remainingReserved = left,
      currency = currency, chargedBy = {cdrId = firstCdr, outcome = firstOutcome}}
  end
  -- one write for the account's counters and the day's usage, one for the reservation (values computed here, exact)
  local balance, reserved = acct.balance - amount, acct.reserved - hold
  local usage, usageNotes = usageAfter(acct, service, 1, D.octets, D.day)
  redis.call('HSET', KEYS[1], 'balance', int(balance), 'reserved', int(reserved), 'sum:debit', int(acct.debits + amount),
    'u:' .. service, usage)
  local remaining = tonumber(r[7]) - hold
  redis.call('HSET', KEYS[3], 'amt', int(remaining), 'd:' .. itemId, int(amount))
  local sid = D.sessionId or ''
  if sid == '' then sid = r[3] end
  local id = redis.call('XADD', KEYS[4], '*', 'type', 'debit', 'subscriber', sub, 'service', service, 'requestId', requestId,
    'reservationId', rid, 'sessionId', sid, 'itemId', itemId, 'octets', int(D.octets), 'outcome', outcome, 'amount', int(amount),
    'currency', currency, 'balanceAfter', int(balance), 'timestamp', D.nowIso, 'ratingGroup', D.ratingGroup or '')
  local cdrId = D.shardTag .. '-' .. id
  redis.call('HSET', KEYS[5], cdrId, int(amount) .. '|0|' .. sub .. '|' .. service .. '|' .. currency .. '|' .. outcome .. '|' .. itemId)
  redis.call('HSET', KEYS[6], onceField, cdrId .. '|' .. outcome)
  afterDecrease(KEYS[1], acct, service, D.unitPrice, balance, reserved)
  raise(usageNotes)
  monitorUsage(acct.mk, KEYS[7], KEYS[4], sub, {service = service, count = 1, octets = D.octets, sessionMs = 0, atMs = D.atMs,
    requestId = requestId, nowIso = D.nowIso, shardTag = D.shardTag})
  return {requestId = requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, debitedAmount = amount, cdrId = cdrId,
    remainingReserved = remaining, currency = currency}
end
