-- Usage monitoring per monitoring key (TS 29.212 §4.5.16 in charging terms; docs/windows-and-usage.md §2). Needs `int`.
-- An account's keys live in one hash (the `monitoring` key): field = key name, value = the key's JSON state:
--   service ('*': every service)   thresholds {count?, octets?, sessionMs?} as configured   armed: those in force
--   this cycle (the configured ones, or the ones given with the last report's acknowledgement)
--   monitoringTime? (ISO) and mtMs (ms) with afterThresholds?: the thresholds after that time
--   since (ISO: the last report)   before, after {count, octets, sessionMs}: usage since then, split at monitoringTime
-- The account hash's field `mk` (the number of keys) is read with the account's other fields, so an account
-- without keys costs no Redis call here.
local MEASURES = {'count', 'octets', 'sessionMs'}

local function zeroUsage()
  return {count = 0, octets = 0, sessionMs = 0}
end

-- What a key accumulated since its last report: the totals, and when the key has a monitoring time the usage
-- before and after it (Monitoring-Time, §4.5.16: "reports for the accumulated usage before and after").
local function usageOf(k)
  local u = {service = k.service, since = k.since}
  for _, m in ipairs(MEASURES) do u[m] = k.before[m] + k.after[m] end
  if k.mtMs then
    u.monitoringTime = k.monitoringTime
    u.before = k.before
    u.after = k.after
  end
  return u
end

-- Writes one usage report of key `name` to the outbox (relayed to `ch2.usage.report` like a CDR) and starts the next
-- cycle: usage from zero, the configured thresholds armed again. A report at or after the monitoring time ends it:
-- the after-thresholds become the key's own. Returns the report's id (`<shard tag>-<outbox entry id>`).
local function usageReport(outboxKey, sub, name, k, trigger, reached, requestId, atMs, nowIso, shardTag)
  local u = usageOf(k)
  local id = redis.call('XADD', outboxKey, '*', 'type', 'usage-report', 'subscriber', sub, 'service', k.service, 'monitoringKey', name,
    'trigger', trigger, 'reached', reached, 'requestId', requestId, 'from', k.since, 'usage', cjson.encode(u), 'timestamp', nowIso)
  k.before, k.after, k.since = zeroUsage(), zeroUsage(), nowIso
  if k.mtMs and atMs >= k.mtMs then
    k.thresholds = k.afterThresholds or k.thresholds
    k.mtMs, k.monitoringTime, k.afterThresholds = nil, nil, nil
  end
  k.armed = k.thresholds
  return shardTag .. '-' .. id
end

-- Adds one usage event `e` {service, count, octets, sessionMs, atMs (event time), requestId, nowIso, shardTag} to
-- every key of the account that covers the service, and reports each key one of whose thresholds it reached: the
-- armed ones before the monitoring time, the after-thresholds (default: the armed ones) on the usage after it.
-- `flag` is the account's `mk` field (nil: no keys, nothing read).
local function monitorUsage(flag, monKey, outboxKey, sub, e)
  if not flag then return end
  local all = redis.call('HGETALL', monKey)
  local changed = {}
  for i = 1, #all, 2 do
    local k = cjson.decode(all[i + 1])
    if k.service == '*' or k.service == e.service then
      local late = k.mtMs and e.atMs >= k.mtMs
      local acc, thr = k.before, k.armed
      if late then acc, thr = k.after, k.afterThresholds or k.armed end
      acc.count, acc.octets, acc.sessionMs = acc.count + e.count, acc.octets + e.octets, acc.sessionMs + e.sessionMs
      local reached = {}
      for _, m in ipairs(MEASURES) do
        if thr[m] and acc[m] >= thr[m] then reached[#reached + 1] = m end
      end
      if #reached > 0 then
        usageReport(outboxKey, sub, all[i], k, 'threshold', table.concat(reached, ','), e.requestId, e.atMs, e.nowIso, e.shardTag)
      end
      changed[#changed + 1] = all[i]
      changed[#changed + 1] = cjson.encode(k)
    end
  end
  if #changed > 0 then redis.call('HSET', monKey, unpack(changed)) end
end
