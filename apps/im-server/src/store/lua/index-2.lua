--[[
  Index a mailbox in its expiry bucket (docs/retrieval-flow.md "Expiry"), before the message is stored: the entry's
  score only ever goes down here, to the earliest time the mailbox needs the sweeper. Any claim a sweeper holds on
  the entry is dropped, so that sweeper will not remove or raise it on the strength of a mailbox it read before
  this deposit. A crash before the message is stored leaves an entry the sweeper visits, finds empty and drops.
  KEYS[1] bucket zset (aor -> when due)   KEYS[2] bucket claims hash (aor -> sweep token | 'empty')
  ARGV[1] aor   ARGV[2] when due (ms)
]]
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(ARGV[2]) < tonumber(s) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
