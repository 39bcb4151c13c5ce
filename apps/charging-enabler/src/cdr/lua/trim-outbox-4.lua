--[[
  Trim one shard's CDR outbox after the retention period (CDR_RETENTION_DAYS), never past the relay position (a CDR
  leaves Redis only once JetStream acknowledged it), folding what leaves into the shard's opening figures in the same
  script, so that opening figures + the CDRs still in the outbox always account for every change of every balance:
  per account `t:<sub>` += top-ups, `r:<sub>` += refunds, `d:<sub>` += debits and direct debits; `upto` = the last
  trimmed entry id. A trimmed charge leaves the refund index too: it can no longer be refunded through CH-2.
  KEYS[1] shard CDR outbox stream   KEYS[2] shard relay position   KEYS[3] shard charges hash (refund index)
  KEYS[4] shard opening figures hash
  ARGV[1] cutoff (ms): entries written before it are past retention   ARGV[2] most entries to trim in this call
  ARGV[3] shard tag (cdrId prefix)
  Returns {entries trimmed, last trimmed entry id or ''}.
]]
local pos = redis.call('GET', KEYS[2])
if not pos then return {0, ''} end
local last = pos
local posMs = string.match(pos, '^(%d+)-')
if tonumber(posMs) >= tonumber(ARGV[1]) then last = '(' .. ARGV[1] .. '-0' end
local entries = redis.call('XRANGE', KEYS[1], '-', last, 'COUNT', tonumber(ARGV[2]))
if #entries == 0 then return {0, ''} end
local prefix = {['top-up'] = 't:', refund = 'r:', debit = 'd:', ['direct-debit'] = 'd:'}
for i = 1, #entries do
  local id, f = entries[i][1], entries[i][2]
  local t, sub, amount
  for j = 1, #f, 2 do
    local k = f[j]
    if k == 'type' then t = f[j + 1] elseif k == 'subscriber' then sub = f[j + 1] elseif k == 'amount' then amount = f[j + 1] end
  end
  local p = prefix[t]
  -- HINCRBY with the stored decimal string: Redis adds exactly in 64-bit integers
  if p and sub and amount then redis.call('HINCRBY', KEYS[4], p .. sub, amount) end
  if p == 'd:' then redis.call('HDEL', KEYS[3], ARGV[3] .. '-' .. id) end
end
local lastId = entries[#entries][1]
redis.call('HSET', KEYS[4], 'upto', lastId)
local ms, seq = string.match(lastId, '^(%d+)-(%d+)$')
redis.call('XTRIM', KEYS[1], 'MINID', ms .. '-' .. string.format('%d', tonumber(seq) + 1))
return {#entries, lastId}
