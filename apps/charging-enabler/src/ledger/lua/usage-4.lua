--[[
  Usage of an account's monitoring keys since their last report (CH-2 ch2.usage; Gx Usage-Monitoring-Report
  USAGE_MONITORING_REPORT_REQUIRED, TS 29.212 §4.5.16), for one key or all. With A.reset each key's usage is reported
  (a `request` usage report in the outbox) and starts again from zero; with A.rearm the key's thresholds for the
  cycle in progress are the ones given (the acknowledgement of a report). Only a request that changes something
  (reset, rearm) stores its answer under the requestId; a plain read is read again when replayed.
  KEYS[1] account (hash)   KEYS[2] idempotency (stored answer)   KEYS[3] monitoring (the account's keys)
  KEYS[4] outbox (shard CDR stream)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts UsageArgs):
  A.requestId   A.idempotencyTtl  idempotency TTL (s)   A.subscriber   A.monitoringKey?  absent: every key
  A.reset       report and reset   A.rearm?  thresholds {count?, octets?, sessionMs?} (needs monitoringKey)
  A.atMs        the request's event time (ms)   A.nowIso   A.shardTag
  Returns {response JSON, notifications JSON}.
]]
--@include int
--@include answer
--@include monitoring
local changes = A.reset or A.rearm ~= nil
if changes then
  local stored = redis.call('GET', KEYS[2])
  if stored then return {stored, '[]'} end
end
local function reply(resp)
  if changes then return answer(resp) end
  return {cjson.encode(resp), '[]'}
end
local requestId, sub, only = A.requestId, A.subscriber, A.monitoringKey
if redis.call('EXISTS', KEYS[1]) == 0 then
  return reply({requestId = requestId, result = RESULT.USER_UNKNOWN, resultCode = CODE.USER_UNKNOWN, message = 'no account for ' .. sub})
end
local all = redis.call('HGETALL', KEYS[3])
local out, changed = {}, {}
for i = 1, #all, 2 do
  local name = all[i]
  if only == nil or name == only then
    local k = cjson.decode(all[i + 1])
    local u = usageOf(k)
    u.thresholds = k.armed
    if A.reset then u.reportId = usageReport(KEYS[4], sub, name, k, 'request', '', requestId, A.atMs, A.nowIso, A.shardTag) end
    if A.rearm ~= nil then k.armed = A.rearm end
    if changes then
      changed[#changed + 1] = name
      changed[#changed + 1] = cjson.encode(k)
    end
    out[name] = u
  end
end
if only ~= nil and out[only] == nil then
  return reply({requestId = requestId, result = RESULT.INVALID_REQUEST, resultCode = CODE.INVALID_REQUEST,
    details = {'monitoringKey: ' .. sub .. ' has no monitoring key ' .. only}})
end
if #changed > 0 then redis.call('HSET', KEYS[3], unpack(changed)) end
return reply({requestId = requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, monitoringKeys = out, reset = A.reset})
