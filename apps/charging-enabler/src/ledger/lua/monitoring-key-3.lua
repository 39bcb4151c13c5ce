--[[
  Set or remove one usage-monitoring key of an account (admin PUT/DELETE monitoring-keys; Gx Usage-Monitoring-
  Information, TS 29.212 §4.5.16). Setting a key that exists replaces its configuration and arms its thresholds,
  keeping the usage accumulated since its last report. Removing a key with usage since its last report writes that
  usage as a final report (`removed`; §4.5.17.3: disabling a key reports its usage). The account field `mk` counts
  the keys, so the charging scripts read nothing more for an account without any.
  KEYS[1] account (hash)   KEYS[2] monitoring (the account's keys)   KEYS[3] outbox (shard CDR stream)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts MonitoringKeyArgs):
  A.subscriber   A.name  the key   A.config?  absent: remove the key; else {service, thresholds, monitoringTime?,
  mtMs?, afterThresholds?}   A.atMs   A.nowIso   A.shardTag
  Returns the key's state (JSON) when set, `{"removed":…,"reportId":…}` when removed, 0 when there is no account.
]]
--@include int
--@include monitoring
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[2], A.name)
local k = old and cjson.decode(old)
local result
if A.config == nil then
  if not k then return cjson.encode({removed = false}) end
  local reportId = ''
  if k.before.count + k.after.count + k.before.octets + k.after.octets + k.before.sessionMs + k.after.sessionMs > 0 then
    reportId = usageReport(KEYS[3], A.subscriber, A.name, k, 'removed', '', '', A.atMs, A.nowIso, A.shardTag)
  end
  redis.call('HDEL', KEYS[2], A.name)
  result = cjson.encode({removed = true, reportId = reportId})
else
  k = k or {before = zeroUsage(), after = zeroUsage(), since = A.nowIso}
  local c = A.config
  k.service, k.thresholds, k.armed = c.service, c.thresholds, c.thresholds
  k.monitoringTime, k.mtMs, k.afterThresholds = c.monitoringTime, c.mtMs, c.afterThresholds
  result = cjson.encode(k)
  redis.call('HSET', KEYS[2], A.name, result)
end
local n = redis.call('HLEN', KEYS[2])
if n == 0 then redis.call('HDEL', KEYS[1], 'mk') else redis.call('HSET', KEYS[1], 'mk', n) end
return result
