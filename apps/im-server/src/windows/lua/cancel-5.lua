--[[
  End a resource's booking: DELETE by its application server (the resource is gone) or the operator's withdrawal of
  its window's capacity (the resource stays, `cancelled`, with the reason). The booked volume returns to the window,
  the opportunity event still due is dropped, and the error event is queued when the window was advertised or under
  way (a DELETE during the window), or for any withdrawal of a selected resource (TS 26.512 ERROR_BACKGROUND_DATA_
  TRANSFER: cancelled before the end of the window).
  KEYS[1] resource hash   KEYS[2] booked hash   KEYS[3] ids set   KEYS[4] due events zset   KEYS[5] the window's zset
  ARGV[1] resource id   ARGV[2] mode (delete | withdraw)   ARGV[3] now (ms)   ARGV[4] error event JSON
  ARGV[5] window start (ms)   ARGV[6] window stop (ms)   ARGV[7] reason
  Returns {code, error queued 0/1}: 1 done, 0 no such resource (or, for a withdrawal, not selected).
]]
local st = redis.call('HMGET', KEYS[1], 'state', 'windowId', 'volume', 'openEvent')
if not st[1] then return {0, 0} end
local now, start, stop = tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[6])
local queued = 0
if st[1] == 'selected' then
  redis.call('HINCRBY', KEYS[2], st[2], 0 - tonumber(st[3]))
  redis.call('ZREM', KEYS[5], ARGV[1])
  local stillDue = redis.call('ZREM', KEYS[4], st[4])
  local advertised = stillDue == 0 and now >= start
  if now < stop and (ARGV[2] == 'withdraw' or advertised) then
    redis.call('ZADD', KEYS[4], now, ARGV[4])
    queued = 1
  end
elseif ARGV[2] == 'withdraw' then
  return {0, 0}
end
if ARGV[2] == 'delete' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[3], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'reason', ARGV[7])
end
return {1, queued}
