-- Shared by the scripts that answer a CH-2 request: idempotent answer storage and threshold checks (after `int`).
-- `answer` stores the response under the idempotency key (KEYS[2] by convention) for `A.idempotencyTtl` seconds in the same script that did the
-- work, so a replayed requestId gets the first answer and changes nothing (ch2-contract.md "Guarantees").
local notes = {}
local function answer(resp)
  local j = cjson.encode(resp)
  redis.call('SET', KEYS[2], j, 'EX', int(A.idempotencyTtl))
  if #notes == 0 then return {j, '[]'} end
  return {j, cjson.encode(notes)}
end

-- The account fields the charging scripts need, read with one HMGET (with the day's usage of `service` when given).
-- `nil` when the account does not exist.
local function readAccount(acctKey, service)
  local a = redis.call('HMGET', acctKey, 'balance', 'reserved', 'currency', 'state', 'sum:debit', 'thr:low', 'lowbal',
    'thr:count', 'thr:octets', 'u:' .. (service or ''), 'mk')
  if not a[1] then return nil end
  return {balance = tonumber(a[1]), reserved = tonumber(a[2]), currency = a[3], state = a[4], debits = tonumber(a[5] or '0'),
    low = tonumber(a[6]), lowbal = a[7], thrCount = tonumber(a[8]), thrOctets = tonumber(a[9]), usage = a[10], mk = a[11]}
end

-- After a credit decrease (account `acct` as read by readAccount, before the change): out-of-credit once per
-- crossing (3GPP Event-Trigger OUT_OF_CREDIT 15), and the low-balance threshold once per downward crossing.
local function afterDecrease(acctKey, acct, service, unitPrice, balAfter, reservedAfter)
  local available = balAfter - reservedAfter
  if unitPrice > 0 and available < unitPrice and redis.call('HSETNX', acctKey, 'ooc:' .. service, unitPrice) == 1 then
    notes[#notes + 1] = {event = 'out-of-credit', service = service, available = available, balance = balAfter, currency = acct.currency}
  end
  local low = acct.low
  if low and acct.balance >= low and balAfter < low and acct.lowbal ~= '1' then
    redis.call('HSET', acctKey, 'lowbal', '1')
    notes[#notes + 1] = {event = 'threshold', threshold = 'low-balance', level = low, value = balAfter, balance = balAfter, currency = acct.currency}
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

-- Usage monitoring per day and service (3GPP usage-monitoring thresholds, adapted): the day's count and octets of
-- a service live in the account hash as one field `u:<service>` = "<yyyymmdd>|<count>|<octets>" (a new day starts
-- from zero), written with the account's other counters; each threshold is notified once when the day's total
-- crosses it. Returns the field's new value and the notifications to raise.
local function usageAfter(acct, service, count, octets, day)
  local c, o = 0, 0
  if acct.usage then
    local d, uc, uo = string.match(acct.usage, '^(%d+)|(%d+)|(%d+)$')
    if d == day then c, o = tonumber(uc), tonumber(uo) end
  end
  local raised = {}
  local tc, to = acct.thrCount, acct.thrOctets
  if tc and c < tc and c + count >= tc then
    raised[#raised + 1] = {event = 'threshold', threshold = 'usage-count', service = service, level = tc, value = c + count}
  end
  if to and o < to and o + octets >= to then
    raised[#raised + 1] = {event = 'threshold', threshold = 'usage-octets', service = service, level = to, value = o + octets}
  end
  return day .. '|' .. int(c + count) .. '|' .. int(o + octets), raised
end

local function raise(list)
  for i = 1, #list do notes[#notes + 1] = list[i] end
end
