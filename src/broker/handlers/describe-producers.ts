// DescribeProducers (KIP-664): the active producers of each partition as its log's producer
// state knows them — epoch, last sequence, last timestamp, coordinator epoch and the first offset
// of the open transaction (-1 when none). Unknown partitions answer UNKNOWN_TOPIC_OR_PARTITION.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

export const describeProducersHandler = defineHandler(Apis.DescribeProducers, async (ctx, req) => {
  const { broker } = ctx
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => {
        const log = broker.partition(t.name, partitionIndex)
        if (!log) {
          return { partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code, errorMessage: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.message, activeProducers: [] }
        }
        const activeProducers = log.producers.activeProducers().sort((a, b) => a.producerId - b.producerId)
        return { partitionIndex, errorCode: 0, errorMessage: null, activeProducers }
      }),
    })),
  }
})
