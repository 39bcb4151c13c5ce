--[[
  Reserve credit for the longest affordable prefix of the items (CH-2 ch2.reserve; Diameter CCR-I, ECUR reserve).
  KEYS[1] account hash      KEYS[2] idempotency key     KEYS[3] reservation hash     KEYS[4] shard expiry zset
  ARGV[1] requestId   ARGV[2] idempotency TTL (s)   ARGV[3] now (ms)   ARGV[4] validity (s)
  ARGV[5] reservationId   ARGV[6] tariff currency   ARGV[7] subscriber   ARGV[8] service   ARGV[9] sessionId or ''
  ARGV[10] unit price of the service (out-of-credit test)   ARGV[11] expiresAt (ISO)   ARGV[12] item count n
  ARGV[13 + 2i], ARGV[14 + 2i] item i id and price (i = 0 .. n-1)
  Returns {response JSON, notifications JSON}. A stored answer for the requestId is returned unchanged.
]]
--@include int
--@include answer
--@include chargeable
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local requestId, service = ARGV[1], ARGV[8]
local acct, refused = chargeable(KEYS[1], requestId, ARGV[7], service, ARGV[6])
if not acct then return refused end
local balance, reserved, currency = acct.balance, acct.reserved, acct.currency
local n = tonumber(ARGV[12])
local sum = 0
for i = 0, n - 1 do sum = sum + tonumber(ARGV[14 + 2 * i]) end
if sum == 0 then
  return answer({requestId = requestId, result = 'CREDIT_CONTROL_NOT_APPLICABLE', resultCode = 4011, currency = currency,
    message = service .. ' is free for this subscriber'})
end
local available = balance - reserved
local total, granted, ids, prices = 0, 0, {}, {}
for i = 0, n - 1 do
  local price = tonumber(ARGV[14 + 2 * i])
  if total + price > available then break end
  total = total + price
  granted = granted + 1
  ids[granted] = ARGV[13 + 2 * i]
  prices[granted] = price
end
if granted == 0 then
  local unit = tonumber(ARGV[10])
  if unit > 0 and available < unit and redis.call('HSETNX', KEYS[1], 'ooc:' .. service, unit) == 1 then
    notes[#notes + 1] = {event = 'out-of-credit', service = service, available = available, balance = balance, currency = currency}
  end
  return answer({requestId = requestId, result = 'CREDIT_LIMIT_REACHED', resultCode = 4012, currency = currency,
    message = 'available credit ' .. available .. ' cannot cover the first item (' .. ARGV[14] .. ')'})
end
local expMs = tonumber(ARGV[3]) + tonumber(ARGV[4]) * 1000
-- the reservation and its per-item holds (no TTL: release or the expiry sweeper deletes it, so its held amount is
-- always known when it is returned): one HSET for a usual request, batches for a large one (Lua's unpack is
-- bounded by the C stack)
local fields = {'sub', ARGV[7], 'svc', service, 'sid', ARGV[9], 'cur', currency, 'amt', int(total), 'exp', int(expMs), 'rq', requestId}
for i = 1, granted do
  fields[#fields + 1] = 'i:' .. ids[i]
  fields[#fields + 1] = int(prices[i])
  if #fields >= 1000 or i == granted then
    redis.call('HSET', KEYS[3], unpack(fields))
    fields = {}
  end
end
redis.call('HSET', KEYS[1], 'reserved', int(reserved + total))
redis.call('ZADD', KEYS[4], expMs, ARGV[5])
return answer({requestId = requestId, result = 'SUCCESS', resultCode = 2001, reservationId = ARGV[5], grantedItems = ids,
  reservedAmount = total, validitySeconds = tonumber(ARGV[4]), expiresAt = ARGV[11], currency = currency})
