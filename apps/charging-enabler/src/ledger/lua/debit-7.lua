--[[
  Debit the used units of one reserved item (CH-2 ch2.debit; Diameter CCR-U/T with Used-Service-Unit).
  The debit is bounded by what was reserved for the item; the item's whole hold leaves `reserved`, the difference
  returns to the available credit. An item is settled once: a second debit of it is refused.
  Charged once per message (retrieval-flow.md "Charged once, whatever crashes"): the charge-once hash KEYS[6]
  remembers, per subscriber and message id, the CDR that charged the message and its outcome. A message already
  charged — by a debit under another reservation (a redelivery after a crash between the charge and the deletion)
  or by a direct debit — is settled here without a second charge: its hold returns to the available credit, no CDR
  is written (no money moved), and the answer names the first charge (`chargedBy`). The message's charge is its first
  chargeable outcome, whichever it was: a message charged for a 4xx or a timeout is not charged again when delivered.
  Such a settlement marks the first charge as relied on (`|relied`): refund-5.lua then refuses to refund it in full.
  KEYS[1] account (hash)   KEYS[2] idempotency (stored answer)   KEYS[3] reservation (hash)
  KEYS[4] outbox (shard CDR stream)   KEYS[5] charges (shard hash: cdrId -> refundable charge)
  KEYS[6] chargedMessages (shard charge-once hash)   KEYS[7] monitoring (the account's usage-monitoring keys)
  ARGV[1] the argument object `A` (JSON, ledger-scripts.ts DebitArgs):
  A.requestId   A.idempotencyTtl  idempotency TTL (s)   A.reservationId   A.itemId   A.outcome   A.octets   A.subscriber
  A.amount      rated amount for the octets used         A.unitPrice   A.nowIso   A.shardTag  shard tag (cdrId prefix)
  A.day         day of the debit (yyyymmdd, usage counters)   A.sessionId?
  A.service     service the debit was rated for (must be the reservation's)
  A.atMs        the debit's event time (ms; monitoring keys' monitoring time)   A.ratingGroup?  written in the CDR
  Returns {response JSON, notifications JSON}.
]]
--@include int
--@include answer
--@include monitoring
--@include debit-item
local stored = redis.call('GET', KEYS[2])
if stored then return {stored, '[]'} end
return answer(debitItem(A))
