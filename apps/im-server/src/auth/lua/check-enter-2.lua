--[[
  Lets one credential check of a source begin, makes it wait, or refuses it. Confirmed wrong guesses (KEYS[1],
  counted by check-failed) lock the source out for their window once they reach the limit; checks still in flight
  (KEYS[2]) only make the next one wait while wrong guesses + checks in flight would exceed the limit — so N
  parallel wrong guesses get at most `limit` tries, and N parallel right ones all get theirs, a few at a time.
  KEYS[1] wrong guesses   KEYS[2] checks in flight (same hash tag)   ARGV[1] limit   ARGV[2] ticket   ARGV[3] ms a check may hold its place
  Returns {0, wrong guesses} to go ahead (the ticket is in flight), {1, ms left in the window} when refused,
  {2, 0} to wait and ask again.
]]
local known = false
--@include check-enter
