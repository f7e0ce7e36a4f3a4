// InitProducerId: hands an idempotent producer a fresh producer id (epoch 0), as Kafka does for
// producers without a transactional id — even when a v3+ request names its previous id, since
// the new id alone is enough to restart its sequence numbers (KIP-360).
// Transactional ids need the transaction coordinator (exactly-once, a later issue): until it
// exists they are refused with a non-retriable error rather than half-served.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

export const initProducerIdHandler = defineHandler(Apis.InitProducerId, (ctx, req) => {
  if (req.transactionalId !== null && req.transactionalId !== '') {
    return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED.code, producerId: -1, producerEpoch: -1 }
  }
  return { throttleTimeMs: 0, errorCode: 0, producerId: ctx.broker.metadata.allocateProducerId(), producerEpoch: 0 }
})
