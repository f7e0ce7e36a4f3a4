// TxnOffsetCommit: offsets committed as part of a transaction. They are written to the group's
// partition as the producer's transactional records and become visible to OffsetFetch only when
// the transaction commits (its marker reaches that partition).

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { OFFSETS_TOPIC } from '../../coordinator/index.js'
import { defineHandler } from '../registry.js'
import { txnErrorCode } from '../../coordinator/transactions/errors.js'

export const txnOffsetCommitHandler = defineHandler(Apis.TxnOffsetCommit, async (ctx, req) => {
  const { broker, version } = ctx
  const answer = (code: (topic: string, partition: number) => number) => ({
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code(t.name, p.partitionIndex) })) })),
  })
  if (!req.groupId) return answer(() => ErrorCode.INVALID_GROUP_ID.code)
  const check = broker.transactions.checkTxnOffsetCommit(req.transactionalId, req.producerId, req.producerEpoch, OFFSETS_TOPIC, broker.groups.partitionFor(req.groupId))
  if (check !== ErrorCode.NONE) {
    const code = txnErrorCode(check, version, 3)
    return answer(() => code)
  }
  const offsets = []
  for (const t of req.topics) {
    for (const p of t.partitions) {
      if (!broker.partition(t.name, p.partitionIndex)) continue
      offsets.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: version >= 2 ? p.committedLeaderEpoch : -1, metadata: p.committedMetadata })
    }
  }
  const codes = await broker.groups.commitTxnOffsets({
    groupId: req.groupId,
    producerId: req.producerId,
    producerEpoch: req.producerEpoch,
    generationId: version >= 3 ? req.generationId : -1,
    memberId: version >= 3 ? req.memberId : '',
    groupInstanceId: version >= 3 ? req.groupInstanceId ?? null : null,
    offsets,
  })
  const byPartition = new Map(offsets.map((o, i) => [`${o.topic}\0${o.partition}`, codes[i]!]))
  return answer((topic, partition) => byPartition.get(`${topic}\0${partition}`) ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code)
})
