--[[
  check-enter for an account: the same verdict, but a source that logged in to this account before (KEYS[3] exists)
  is neither refused nor made to wait — guesses from elsewhere cannot lock the real user out of a device they used
  before. Its check is still in flight like any other (a wrong guess from it counts).
  KEYS[1] wrong guesses   KEYS[2] checks in flight   KEYS[3] known-source marker (same hash tag)
  ARGV[1] limit   ARGV[2] ticket   ARGV[3] ms a check may hold its place
  Returns as check-enter.
]]
local known = redis.call('EXISTS', KEYS[3]) == 1
--@include check-enter
