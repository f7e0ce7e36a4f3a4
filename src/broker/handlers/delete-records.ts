// DeleteRecords: moves the log start offset of partitions forward on their leader, as Kafka's
// ReplicaManager.deleteRecordsOnLocalLog and Partition.deleteRecordsOnLeader do. Internal topics
// answer INVALID_TOPIC_EXCEPTION; partitions unknown to the cluster UNKNOWN_TOPIC_OR_PARTITION;
// partitions this broker does not lead (a follower, an offline partition) NOT_LEADER_OR_FOLLOWER;
// topics whose cleanup.policy lacks `delete` POLICY_VIOLATION. Offset -1 means the high watermark
// (the replica's, which counts the ISR); a negative offset or one beyond the high watermark is
// OFFSET_OUT_OF_RANGE; an offset below the current log start changes nothing. The answer's
// lowWatermark is the leader's log start offset afterwards (-1 with an error).
//
// Followers move their own log start when their next fetch brings the leader's (see
// src/replication/fetcher.ts). Kafka's answer waits (up to timeoutMs) until every live replica's
// log start has moved and reports the smallest; the leader here does not learn its followers'
// log starts, so the answer comes at once with the leader's and timeoutMs is not used.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import { effectiveConfig } from '../../controller/topic-configs.js'
import { defineHandler } from '../registry.js'

const HIGH_WATERMARK = -1

export const deleteRecordsHandler = defineHandler(Apis.DeleteRecords, async (ctx, req) => {
  const { broker } = ctx
  const topics = []
  for (const t of req.topics) {
    const topic = broker.metadata.topic(t.name)
    const partitions = []
    for (const p of t.partitions) {
      const out = { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: 0 }
      try {
        if (topic?.internal) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot delete records of internal topic ${t.name}`)
        // UNKNOWN_TOPIC_OR_PARTITION for partitions the cluster does not have, NOT_LEADER_OR_FOLLOWER elsewhere
        const replica = broker.replicas.leader(t.name, p.partitionIndex)
        if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        const policy = effectiveConfig('cleanup.policy', topic.configs, broker.settings)
        if (!policy.split(',').some((s) => s.trim() === 'delete')) {
          throw new KafkaError(ErrorCode.POLICY_VIOLATION, `Records of partition ${t.name}-${p.partitionIndex} can not be deleted due to the configured policy`)
        }
        const hw = replica.hw
        const offset = p.offset === HIGH_WATERMARK ? hw : p.offset
        if (offset < 0) throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `The offset ${offset} for partition ${t.name}-${p.partitionIndex} is not valid`)
        if (offset > hw) {
          throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE,
            `Cannot increment the log start offset to ${offset} of partition ${t.name}-${p.partitionIndex} since it is larger than the high watermark ${hw}`)
        }
        const log = replica.log
        if (offset > log.logStartOffset) await log.deleteRecordsBefore(offset)
        out.lowWatermark = log.logStartOffset
      } catch (err) {
        if (!(err instanceof KafkaError)) throw err
        out.errorCode = err.code === ErrorCode.LEADER_NOT_AVAILABLE.code ? ErrorCode.NOT_LEADER_OR_FOLLOWER.code : err.code
        out.lowWatermark = -1
      }
      partitions.push(out)
    }
    topics.push({ name: t.name, partitions })
  }
  return { throttleTimeMs: 0, topics }
})
