--[[
  Several debits of one reservation in one atomic script (CH-2 ch2.debits): each item is applied exactly as one
  ch2.debit of it (debit-7.lua, the shared includes/debit-item.lua) — bounded by its hold, its own CDR, its own
  charge-once mark, its own usage and monitoring count — and its answer is stored under the item's own requestId,
  so a later ch2.debit of that requestId (a retry of one item) gets the same answer and changes nothing, and an
  item whose requestId was answered before (by a debit or an earlier batch) is not applied again: its stored answer
  is returned. The batch's answer (every item's answer, in request order) is stored under the batch's requestId.
  An item's idempotency key is the batch's (KEYS[2]) with the item's requestId in place of the batch's: the same
  account, the same hash-tag slot (ledger-keys.ts), so the script still touches one Redis Cluster slot.
  KEYS[1] account (hash)   KEYS[2] idempotency (the batch's stored answer)   KEYS[3] reservation (hash)
  KEYS[4] outbox (shard CDR stream)   KEYS[5] charges (shard hash: cdrId -> refundable charge)
  KEYS[6] chargedMessages (shard charge-once hash)   KEYS[7] monitoring (the account's usage-monitoring keys)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts DebitsArgs):
  A.requestId  the batch's   A.idempotencyTtl  idempotency TTL (s)   A.reservationId   A.subscriber
  A.unitPrice   A.nowIso   A.shardTag  shard tag (cdrId prefix)   A.day  day of the debits (yyyymmdd, usage counters)
  A.sessionId?   A.service  service the debits were rated for (must be the reservation's)
  A.atMs  the debits' event time (ms)
  A.items  the debits, each {requestId, itemId, outcome, octets, amount (rated), ratingGroup?}
  Returns {response JSON, notifications JSON}.
]]
--@include int
--@include answer
--@include monitoring
--@include debit-item
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
local idemBase = string.sub(KEYS[2], 1, #KEYS[2] - #A.requestId)
local ttl = int(A.idempotencyTtl)
local out = {}
for i, it in ipairs(A.items) do
  local itemKey = idemBase .. it.requestId
  local prev = redis.call('GET', itemKey)
  if prev then
    out[i] = cjson.decode(prev)
  else
    local resp = debitItem({requestId = it.requestId, reservationId = A.reservationId, itemId = it.itemId, outcome = it.outcome,
      octets = it.octets, subscriber = A.subscriber, amount = it.amount, unitPrice = A.unitPrice, nowIso = A.nowIso,
      shardTag = A.shardTag, day = A.day, sessionId = A.sessionId, service = A.service, atMs = A.atMs, ratingGroup = it.ratingGroup})
    redis.call('SET', itemKey, cjson.encode(resp), 'EX', ttl)
    out[i] = resp
  end
end
return answer({requestId = A.requestId, result = RESULT.SUCCESS, resultCode = CODE.SUCCESS, items = out})
