--[[
  A sweeper re-indexes a mailbox it visited. Still holding its claim (no deposit since): the entry takes the
  mailbox's next due time; an empty mailbox's entry is kept one grace period marked 'empty' (a deposit indexed
  just before the visit may not have stored its message yet) and removed at the next visit if still empty and
  unmarked by a deposit. Claim lost (a deposit came, or another replica took the entry): the score may only go down.
  KEYS[1] bucket zset   KEYS[2] bucket claims hash
  ARGV[1] aor   ARGV[2] token   ARGV[3] next due (ms, '' when the mailbox is empty)   ARGV[4] grace end (ms)
  ARGV[5] '1' when the mailbox was already found empty at the previous visit
  Returns 1 when settled under the claim, 0 otherwise.
]]
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  if ARGV[3] ~= '' then
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
    redis.call('HDEL', KEYS[2], ARGV[1])
  elseif ARGV[5] == '1' then
    redis.call('ZREM', KEYS[1], ARGV[1])
    redis.call('HDEL', KEYS[2], ARGV[1])
  else
    redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
    redis.call('HSET', KEYS[2], ARGV[1], 'empty')
  end
  return 1
end
if ARGV[3] ~= '' then
  local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not s or tonumber(ARGV[3]) < tonumber(s) then redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
end
return 0
