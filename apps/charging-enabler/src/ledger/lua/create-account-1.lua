--[[
  Create an account with its opening balance (the "initial" term of the conservation rule).
  KEYS[1] account (hash)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts CreateAccountArgs):
  A.subscriber   A.balance  opening balance   A.currency   A.nowIso
  A.lowBalance?  A.usageCount?  A.usageOctets?  thresholds (low balance; daily usage count and octets)
  Returns 1 when created, 0 when the account exists.
]]
--@include int
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'sub', A.subscriber, 'balance', int(A.balance), 'initial', int(A.balance), 'reserved', 0, 'currency', A.currency,
  'state', 'active', 'created', A.nowIso, 'sum:topup', 0, 'sum:refund', 0, 'sum:debit', 0)
if A.lowBalance ~= nil then redis.call('HSET', KEYS[1], 'thr:low', int(A.lowBalance)) end
if A.usageCount ~= nil then redis.call('HSET', KEYS[1], 'thr:count', int(A.usageCount)) end
if A.usageOctets ~= nil then redis.call('HSET', KEYS[1], 'thr:octets', int(A.usageOctets)) end
return 1
