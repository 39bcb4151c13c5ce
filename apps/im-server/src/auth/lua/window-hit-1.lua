--[[
  Counts one credential check of a source in its window and says whether it may go ahead. The count is taken
  before the check (so a burst of parallel guesses cannot slip past it) and given back by window-release when the
  check turns out not to be a wrong guess. The window is fixed from its first attempt: refused attempts do not
  extend it, so a lockout ends at most one window after it began.
  KEYS[1] counter   ARGV[1] limit   ARGV[2] window (ms)
  Returns {0, count} to go ahead, {1, ms left in the window} when over the limit.
]]
--@include window-count
if n > tonumber(ARGV[1]) then return {1, left} end
return {0, n}
