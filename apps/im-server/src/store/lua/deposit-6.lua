--[[
  Store one deferred message for a user, within the user's caps, atomically: nothing is partially stored
  (retrieval-flow.md "Deposit").
  KEYS[1] user's message order zset   KEYS[2] new message hash   KEYS[3] user's usage hash
  KEYS[4] user's expiry zset   KEYS[5] user's octets hash (id -> octets)
  KEYS[6] user's negative-delivery watch hash (id -> what a `failed` IMDN needs once the message expires)
  ARGV[1] id   ARGV[2] octets   ARGV[3] max messages   ARGV[4] max bytes   ARGV[5] expiresAt (ms)
  ARGV[6] the watch entry ('' when the deposit asked no negative-delivery)
  ARGV[7..] field/value pairs of the message hash
  Returns {1, count} when stored, {-1, count} over the message cap, {-2, bytes} over the byte cap.
]]
local u = redis.call('HMGET', KEYS[3], 'count', 'bytes')
local count, bytes, octets = tonumber(u[1] or '0'), tonumber(u[2] or '0'), tonumber(ARGV[2])
if count + 1 > tonumber(ARGV[3]) then return {-1, count} end
if bytes + octets > tonumber(ARGV[4]) then return {-2, bytes} end
local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], 'seq', seq, unpack(fields))
redis.call('PEXPIREAT', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
redis.call('HSET', KEYS[5], ARGV[1], octets)
if ARGV[6] ~= '' then redis.call('HSET', KEYS[6], ARGV[1], ARGV[6]) end
redis.call('HINCRBY', KEYS[3], 'count', 1)
redis.call('HINCRBY', KEYS[3], 'bytes', octets)
return {1, count + 1}
