// DeleteRecords: moves the log start offset of partitions forward, as Kafka's
// ReplicaManager.deleteRecordsOnLocalLog and Partition.deleteRecordsOnLeader do. Offset -1 means
// the high watermark; an offset beyond the high watermark (or negative) is OFFSET_OUT_OF_RANGE; an
// offset below the current log start changes nothing. The answer's lowWatermark is the log start
// offset afterwards. Internal topics answer INVALID_TOPIC_EXCEPTION, topics whose cleanup.policy
// lacks `delete` POLICY_VIOLATION, unknown partitions UNKNOWN_TOPIC_OR_PARTITION (lowWatermark -1).
// With a single replica there is nothing to wait for, so timeoutMs is not used.

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
        const log = topic ? broker.partition(t.name, p.partitionIndex) : undefined
        if (!topic || !log) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        if (topic.internal) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot delete records of internal topic ${t.name}`)
        const policy = effectiveConfig('cleanup.policy', topic.configs, broker.settings)
        if (!policy.split(',').some((s) => s.trim() === 'delete')) {
          throw new KafkaError(ErrorCode.POLICY_VIOLATION, `Records of partition ${t.name}-${p.partitionIndex} can not be deleted due to the configured policy`)
        }
        const hw = log.highWatermark
        const offset = p.offset === HIGH_WATERMARK ? hw : p.offset
        if (offset < 0) throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `The offset ${offset} for partition ${t.name}-${p.partitionIndex} is not valid`)
        if (offset > hw) {
          throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE,
            `Cannot increment the log start offset to ${offset} of partition ${t.name}-${p.partitionIndex} since it is larger than the high watermark ${hw}`)
        }
        await log.deleteRecordsBefore(offset)
        out.lowWatermark = log.logStartOffset
      } catch (err) {
        if (!(err instanceof KafkaError)) throw err
        out.errorCode = err.code
        out.lowWatermark = -1
      }
      partitions.push(out)
    }
    topics.push({ name: t.name, partitions })
  }
  return { throttleTimeMs: 0, topics }
})
