// EndTxn: commits or aborts the producer's transaction (markers on every partition of it).

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'
import { txnErrorCode } from '../../coordinator/transactions/errors.js'

export const endTxnHandler = defineHandler(Apis.EndTxn, async (ctx, req) => {
  const error = await ctx.broker.transactions.endTxn(req.transactionalId, req.producerId, req.producerEpoch, req.committed)
  return { throttleTimeMs: 0, errorCode: txnErrorCode(error, ctx.version, 2) }
})
