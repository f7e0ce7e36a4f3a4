// ListTransactions: transactional ids filtered by state and producer id, and (v1) by how long
// their transaction has been running.

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'

export const listTransactionsHandler = defineHandler(Apis.ListTransactions, (ctx, req) => {
  const r = ctx.broker.transactions.list(req.stateFilters, req.producerIdFilters, ctx.version >= 1 ? req.durationFilter : -1)
  return {
    throttleTimeMs: 0,
    errorCode: r.error.code,
    unknownStateFilters: r.unknownStates,
    transactionStates: r.transactions.map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, transactionState: t.state })),
  }
})
