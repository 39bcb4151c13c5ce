-- Shared by the scripts that answer a CH-2 request: idempotent answer storage and threshold checks.
-- `answer` stores the response under the idempotency key (KEYS[2] by convention) in the same script that did the
-- work, so a replayed requestId gets the first answer and changes nothing (ch2-contract.md "Guarantees").
local notes = {}
local function answer(resp)
  local j = cjson.encode(resp)
  redis.call('SET', KEYS[2], j, 'EX', tonumber(ARGV[2]))
  if #notes == 0 then return {j, '[]'} end
  return {j, cjson.encode(notes)}
end

-- After a credit decrease: out-of-credit once per crossing (3GPP Event-Trigger OUT_OF_CREDIT 15), and the
-- low-balance threshold once per downward crossing.
local function afterDecrease(acctKey, service, unitPrice, balBefore, balAfter)
  local a = redis.call('HMGET', acctKey, 'reserved', 'thr:low', 'lowbal', 'currency')
  local available = balAfter - tonumber(a[1])
  if unitPrice > 0 and available < unitPrice and redis.call('HSETNX', acctKey, 'ooc:' .. service, unitPrice) == 1 then
    notes[#notes + 1] = {event = 'out-of-credit', service = service, available = available, balance = balAfter, currency = a[4]}
  end
  local low = tonumber(a[2])
  if low and balBefore >= low and balAfter < low and a[3] ~= '1' then
    redis.call('HSET', acctKey, 'lowbal', '1')
    notes[#notes + 1] = {event = 'threshold', threshold = 'low-balance', level = low, value = balAfter, balance = balAfter, currency = a[4]}
  end
end

-- After a credit increase: REALLOCATION_OF_CREDIT (16) for every service that was out of credit and can now
-- afford a unit; the low-balance threshold re-arms once the balance is back at or above it.
local function afterIncrease(acctKey, balAfter)
  local all = redis.call('HGETALL', acctKey)
  local reserved, low, lowbal, currency = 0, nil, nil, nil
  for i = 1, #all, 2 do
    local f = all[i]
    if f == 'reserved' then reserved = tonumber(all[i + 1])
    elseif f == 'thr:low' then low = tonumber(all[i + 1])
    elseif f == 'lowbal' then lowbal = all[i + 1]
    elseif f == 'currency' then currency = all[i + 1] end
  end
  local available = balAfter - reserved
  for i = 1, #all, 2 do
    local f = all[i]
    if string.sub(f, 1, 4) == 'ooc:' and available >= tonumber(all[i + 1]) then
      redis.call('HDEL', acctKey, f)
      notes[#notes + 1] = {event = 'credit-reallocated', service = string.sub(f, 5), available = available, balance = balAfter, currency = currency}
    end
  end
  if lowbal == '1' and low and balAfter >= low then redis.call('HDEL', acctKey, 'lowbal') end
end

-- Usage monitoring per day and service (3GPP usage-monitoring thresholds, adapted): count and octets, each
-- notified once when the day's total crosses the account's threshold.
local function afterUsage(acctKey, usageKey, service, count, octets, ttl)
  local t = redis.call('HMGET', acctKey, 'thr:count', 'thr:octets')
  local c = redis.call('HINCRBY', usageKey, 'count', count)
  local o = redis.call('HINCRBY', usageKey, 'octets', octets)
  redis.call('EXPIRE', usageKey, ttl)
  local tc, to = tonumber(t[1]), tonumber(t[2])
  if tc and c - count < tc and c >= tc then
    notes[#notes + 1] = {event = 'threshold', threshold = 'usage-count', service = service, level = tc, value = c}
  end
  if to and o - octets < to and o >= to then
    notes[#notes + 1] = {event = 'threshold', threshold = 'usage-octets', service = service, level = to, value = o}
  end
end
