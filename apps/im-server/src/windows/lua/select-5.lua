--[[
  Select a transfer policy and book its volume in its window, atomically: a window is never booked past its
  capacity, whichever replica answers which PATCH.
  KEYS[1] resource hash   KEYS[2] booked hash (windowId -> octets; `#seq`: the booking sequence, which orders the
  window's zset so that the latest booking is the first cancelled)   KEYS[3] capacity hash (windowId -> octets)
  KEYS[4] the window's resource zset   KEYS[5] due events zset
  ARGV[1] resource id   ARGV[2] policy id   ARGV[3] windowId   ARGV[4] volume (octets: per user x users)
  ARGV[5] default capacity (octets)   ARGV[6] now (ms)   ARGV[7] opportunity event JSON   ARGV[8] window start (ms)
  Returns {code, capacity left}: 1 selected, 2 already selected (this policy), -1 no such resource,
  -2 not enough capacity left, -3 another policy is selected, -4 the resource was cancelled.
]]
local st = redis.call('HMGET', KEYS[1], 'state', 'selected')
if not st[1] then return {-1, 0} end
if st[1] == 'selected' then
  if st[2] == ARGV[2] then return {2, 0} end
  return {-3, 0}
end
if st[1] ~= 'offered' then return {-4, 0} end
local cap = tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or ARGV[5])
local booked = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
local volume = tonumber(ARGV[4])
if booked + volume > cap then return {-2, cap - booked} end
redis.call('HINCRBY', KEYS[2], ARGV[3], volume)
redis.call('ZADD', KEYS[4], redis.call('HINCRBY', KEYS[2], '#seq', 1), ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'selected', 'selected', ARGV[2], 'windowId', ARGV[3], 'volume', volume,
  'openEvent', ARGV[7], 'selectedAt', ARGV[6])
redis.call('ZADD', KEYS[5], ARGV[8], ARGV[7])
return {1, cap - booked - volume}
