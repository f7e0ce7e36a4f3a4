// InitProducerId. Without a transactional id: a fresh producer id (epoch 0), as Kafka does for
// idempotent producers — even when a v3+ request names its previous id, since the new id alone
// is enough to restart its sequence numbers (KIP-360). With one: the transaction coordinator
// bumps the epoch of the id's producer (fencing older ones) or hands out a new producer id.

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'
import { txnErrorCode } from '../../coordinator/transactions/errors.js'

export const initProducerIdHandler = defineHandler(Apis.InitProducerId, async (ctx, req) => {
  if (req.transactionalId === null || req.transactionalId === '') {
    return { throttleTimeMs: 0, errorCode: 0, producerId: ctx.broker.metadata.allocateProducerId(), producerEpoch: 0 }
  }
  const expected = ctx.version >= 3 && req.producerId >= 0 ? { producerId: req.producerId, producerEpoch: req.producerEpoch } : null
  const r = await ctx.broker.transactions.initProducerId(req.transactionalId, req.transactionTimeoutMs, expected)
  return { throttleTimeMs: 0, errorCode: txnErrorCode(r.error, ctx.version, 4), producerId: r.producerId, producerEpoch: r.producerEpoch }
})
