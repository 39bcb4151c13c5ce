--[[
  Sweep one shard's charge-once marks older than CHARGE_ONCE_DAYS, a slice at a time (HSCAN), so that they do not
  grow without bound. A mark `<cdrId>|<outcome>[|relied]` is dated by its CDR id (`<shard tag>-<ms>-<seq>`, the
  outbox entry id). The marks must outlive every stored message that could be delivered again: CHARGE_ONCE_DAYS
  (default 400) is above the im-server's longest IM_MESSAGE_TTL_SECONDS (365 days); a mark of a message that can
  no longer exist is all a sweep removes. Independent of CDR_RETENTION_DAYS: a CDR may leave the outbox long before.
  KEYS[1] shard charge-once hash
  ARGV[1] HSCAN cursor   ARGV[2] cutoff (ms): marks of CDRs written before it go   ARGV[3] fields to look at per call
  Returns {next cursor ('0' when the pass is done), marks removed}.
]]
local scan = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', tonumber(ARGV[3]))
local fields, removed, cutoff = scan[2], 0, tonumber(ARGV[2])
for i = 1, #fields, 2 do
  local ms = string.match(fields[i + 1], '%-(%d+)%-%d+|')
  if ms and tonumber(ms) < cutoff then
    redis.call('HDEL', KEYS[1], fields[i])
    removed = removed + 1
  end
end
return {scan[1], removed}
