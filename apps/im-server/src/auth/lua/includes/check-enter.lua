-- the verdict on one more credential check (sets nothing): `known` is set by the including script before this
-- KEYS[1] confirmed wrong guesses (a fixed window)   KEYS[2] checks in flight (sorted set: ticket → deadline, ms)
-- ARGV[1] limit   ARGV[2] ticket   ARGV[3] how long a check may hold its place (ms)
local limit = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- a check whose replica died never reports back: its place is freed at its deadline
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
if not known then
  if failures >= limit then
    local left = redis.call('PTTL', KEYS[1])
    return {1, left > 0 and left or 1000}
  end
  -- every check in flight may still turn out a wrong guess: together they stay within the limit
  if failures + redis.call('ZCARD', KEYS[2]) >= limit then return {2, 0} end
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
return {0, failures}
