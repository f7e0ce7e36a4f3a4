// OffsetForLeaderEpoch: the end offset of a leader epoch, which consumers (KIP-320, replicaId -1)
// and followers use to detect log truncation. Fjord is a single broker whose partitions have
// always had leader epoch 0, so its epoch cache holds one entry, (epoch 0, log start offset), and
// Kafka's LeaderEpochFileCache.endOffsetFor gives:
// - requested epoch 0 (the current one): leaderEpoch 0, endOffset = the log end offset;
// - requested epoch -1 (undefined) or above 0 (unknown to this log): leaderEpoch -1, endOffset -1,
//   with no error (Kafka answers NONE with undefined values);
// - requested epoch below -1 (older than every known one): that epoch, with the start offset of
//   the first known epoch (the log start offset).
// currentLeaderEpoch (v2+) fences like Kafka: -1 skips the check, a lower epoch than 0 is
// FENCED_LEADER_EPOCH, a higher one UNKNOWN_LEADER_EPOCH. Unknown partitions:
// UNKNOWN_TOPIC_OR_PARTITION.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

const LEADER_EPOCH = 0
const NO_EPOCH = -1

export const offsetForLeaderEpochHandler = defineHandler(Apis.OffsetForLeaderEpoch, (ctx, req) => {
  const { broker } = ctx
  const topics = req.topics.map((t) => ({
    topic: t.topic,
    partitions: t.partitions.map((p) => {
      const out = { partition: p.partition, errorCode: 0, leaderEpoch: NO_EPOCH, endOffset: -1 }
      const log = broker.partition(t.topic, p.partition)
      if (!log) return { ...out, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code }
      if (p.currentLeaderEpoch !== NO_EPOCH) {
        if (p.currentLeaderEpoch < LEADER_EPOCH) return { ...out, errorCode: ErrorCode.FENCED_LEADER_EPOCH.code }
        if (p.currentLeaderEpoch > LEADER_EPOCH) return { ...out, errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH.code }
      }
      if (p.leaderEpoch === LEADER_EPOCH) return { ...out, leaderEpoch: LEADER_EPOCH, endOffset: log.logEndOffset }
      if (p.leaderEpoch < NO_EPOCH) return { ...out, leaderEpoch: p.leaderEpoch, endOffset: log.logStartOffset }
      return out
    }),
  }))
  return { throttleTimeMs: 0, topics }
})
