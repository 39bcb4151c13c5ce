--[[
  window-hit for an account: the same count, but a source that logged in to this account before (KEYS[2] exists)
  is not refused when the account is over its limit — guesses from elsewhere cannot lock the real user out of a
  device they used before.
  KEYS[1] counter   KEYS[2] known-source marker (same hash tag)   ARGV[1] limit   ARGV[2] window (ms)
  Returns {0, count} to go ahead, {1, ms left in the window} when over the limit and the source is not known.
]]
--@include window-count
if n > tonumber(ARGV[1]) and redis.call('EXISTS', KEYS[2]) == 0 then return {1, left} end
return {0, n}
