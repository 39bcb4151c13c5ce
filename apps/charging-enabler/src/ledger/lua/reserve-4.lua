--[[
  Reserve credit for the longest affordable prefix of the items (CH-2 ch2.reserve; Diameter CCR-I, ECUR reserve).
  KEYS[1] account (hash)   KEYS[2] idempotency (stored answer)   KEYS[3] reservation (hash)
  KEYS[4] expiryIndex (shard zset)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts ReserveArgs):
  A.requestId               A.idempotencyTtl  idempotency TTL (s)   A.nowMs   A.validitySeconds
  A.reservationId           A.currency        tariff currency       A.subscriber   A.service   A.sessionId?
  A.unitPrice               unit price of the service (out-of-credit test)   A.expiresAt (ISO)
  A.itemIds                 A.prices          the items' ids and prices (parallel arrays, n items)
  Returns {response JSON, notifications JSON}. A stored answer for the requestId is returned unchanged.
]]
--@include int
--@include answer
--@include chargeable
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId, service = A.requestId, A.service
local acct, refused = chargeable(KEYS[1], requestId, A.subscriber, service, A.currency)
if not acct then return refused end
local balance, reserved, currency = acct.balance, acct.reserved, acct.currency
local itemIds, prices = A.itemIds, A.prices
local n = #itemIds
local sum = 0
for i = 1, n do sum = sum + prices[i] end
if sum == 0 then
  return answer({requestId = requestId, result = RESULT.CREDIT_CONTROL_NOT_APPLICABLE, resultCode = CODE.CREDIT_CONTROL_NOT_APPLICABLE, currency = currency,
    message = service .. ' is free for this subscriber'})
end
local available = balance - reserved
local total, granted, ids, granted_prices = 0, 0, {}, {}
for i = 1, n do
  local price = prices[i]
  if total + price > available then break end
  total = total + price
  granted = granted + 1
  ids[granted] = itemIds[i]
  granted_prices[granted] = price
end
if granted == 0 then
  local unit = A.unitPrice
  if unit > 0 and available < unit and redis.call('HSETNX', KEYS[1], 'ooc:' .. service, int(unit)) == 1 then
    notes[#notes + 1] = {event = 'out-of-credit', service = service, available = available, balance = balance, currency = currency}
  end
  return answer({requestId = requestId, result = RESULT.CREDIT_LIMIT_REACHED, resultCode = CODE.CREDIT_LIMIT_REACHED, currency = currency,
    message = 'available credit ' .. available .. ' cannot cover the first item (' .. int(prices[1]) .. ')'})
end
local expMs = A.nowMs + A.validitySeconds * 1000
-- the reservation and its per-item holds (no TTL: release or the expiry sweeper deletes it, so its held amount is
-- always known when it is returned): one HSET for a usual request, batches for a large one (Lua's unpack is
-- bounded by the C stack)
local fields = {'sub', A.subscriber, 'svc', service, 'sid', A.sessionId or '', 'cur', currency, 'amt', int(total), 'exp', int(expMs), 'rq', requestId, 'at', int(A.nowMs)}
for i = 1, granted do
  fields[#fields + 1] = 'i:' .. ids[i]
  fields[#fields + 1] = int(granted_prices[i])
  if #fields >= 1000 or i == granted then
    redis.call('HSET', KEYS[3], unpack(fields))
    fields = {}
  end
end
redis.call('HSET', KEYS[1], 'reserved', int(reserved + total))
redis.call('ZADD', KEYS[4], int(expMs), A.reservationId)
return answer({requestId = requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, reservationId = A.reservationId, grantedItems = ids,
  reservedAmount = total, validitySeconds = A.validitySeconds, expiresAt = A.expiresAt, currency = currency})
