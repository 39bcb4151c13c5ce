--[[
  A check turned out a wrong guess: it leaves the checks in flight and counts in the fixed window of wrong guesses
  (ARGV[2] ms from the window's first wrong guess; refused attempts never extend it, so a lockout ends at most one
  window after it began). One script, so no check can slip in between the two.
  KEYS[1] wrong guesses   KEYS[2] checks in flight (same hash tag)   ARGV[1] ticket   ARGV[2] window (ms)
  Returns the wrong guesses in the window.
]]
redis.call('ZREM', KEYS[2], ARGV[1])
--@include window-count
return n
