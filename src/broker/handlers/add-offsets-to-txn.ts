// AddOffsetsToTxn: the transaction will commit offsets of a group, so the group's partition of
// __consumer_offsets joins the transaction and gets its marker at the end.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { OFFSETS_TOPIC } from '../../coordinator/index.js'
import { defineHandler } from '../registry.js'
import { txnErrorCode } from '../../coordinator/transactions/errors.js'

export const addOffsetsToTxnHandler = defineHandler(Apis.AddOffsetsToTxn, async (ctx, req) => {
  const { broker, version } = ctx
  if (!req.groupId) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID.code }
  const partition = broker.groups.partitionFor(req.groupId)
  const error = await broker.transactions.addPartitions(req.transactionalId, req.producerId, req.producerEpoch, [{ topic: OFFSETS_TOPIC, partition }])
  return { throttleTimeMs: 0, errorCode: txnErrorCode(error, version, 2) }
})
