-- Integers go back to Redis as '%d' strings: exact, never '-0' nor an exponent, whatever the Lua number format.
local function int(n)
  return string.format('%d', n)
end
