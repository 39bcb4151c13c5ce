--[[
  Create an account with its opening balance (the "initial" term of the conservation rule).
  KEYS[1] account hash
  ARGV[1] subscriber   ARGV[2] opening balance   ARGV[3] currency   ARGV[4] now (ISO)   ARGV[5] low-balance threshold or ''
  ARGV[6] daily usage count threshold or ''   ARGV[7] daily usage octets threshold or ''
  Returns 1 when created, 0 when the account exists.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'sub', ARGV[1], 'balance', ARGV[2], 'initial', ARGV[2], 'reserved', 0, 'currency', ARGV[3],
  'state', 'active', 'created', ARGV[4], 'sum:topup', 0, 'sum:refund', 0, 'sum:debit', 0)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'thr:low', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'thr:count', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'thr:octets', ARGV[7]) end
return 1
