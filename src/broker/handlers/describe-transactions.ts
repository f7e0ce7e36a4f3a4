// DescribeTransactions: the state of transactional ids at this (their only) coordinator.

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'

export const describeTransactionsHandler = defineHandler(Apis.DescribeTransactions, (ctx, req) => ({
  throttleTimeMs: 0,
  transactionStates: req.transactionalIds.map((id) => {
    const d = ctx.broker.transactions.describe(id)
    return {
      errorCode: d.error.code,
      transactionalId: d.transactionalId,
      transactionState: d.state,
      transactionTimeoutMs: d.timeoutMs,
      transactionStartTimeMs: d.startTimeMs,
      producerId: d.producerId,
      producerEpoch: d.producerEpoch,
      topics: d.topics,
    }
  }),
}))
