--[[
  Count messages against a resource's booking at reserve time: per user at most the booked volume per user, and at
  most the booked number of users. A message counted once stays counted (a second reservation of it — a retrieval
  retried, a reservation renewed — is within the booking again, never counted twice).
  KEYS[1] the resource's use hash (`n` users, `t:<aor>` octets per user, `m:<aor> <message id>` octets per message)
  ARGV[1] aor   ARGV[2] volume per user (octets)   ARGV[3] number of users   ARGV[4] expiry of the hash (ms epoch)
  ARGV[5..] message id, octets pairs
  Returns one 1 (within the booking) or 0 per message, in order.
]]
local aor, quota, maxUsers = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local tField = 't:' .. aor
local out = {}
for i = 5, #ARGV, 2 do
  local mField = 'm:' .. aor .. ' ' .. ARGV[i]
  local octets = tonumber(ARGV[i + 1])
  if redis.call('HEXISTS', KEYS[1], mField) == 1 then
    out[#out + 1] = 1
  else
    local used = redis.call('HGET', KEYS[1], tField)
    local ok = true
    if not used then
      if tonumber(redis.call('HGET', KEYS[1], 'n') or '0') >= maxUsers then ok = false end
    end
    if ok and tonumber(used or '0') + octets > quota then ok = false end
    if ok then
      if not used then redis.call('HINCRBY', KEYS[1], 'n', 1) end
      redis.call('HINCRBY', KEYS[1], tField, octets)
      redis.call('HSET', KEYS[1], mField, octets)
      out[#out + 1] = 1
    else
      out[#out + 1] = 0
    end
  end
end
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return out
