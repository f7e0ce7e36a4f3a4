// WriteTxnMarkers: the inter-broker request a transaction coordinator sends to partition
// leaders. On one broker the coordinator writes markers itself; this handler serves tests and,
// later, coordinators on other brokers.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import { writeMarker } from '../../coordinator/transactions/index.js'
import { defineHandler } from '../registry.js'

export const writeTxnMarkersHandler = defineHandler(Apis.WriteTxnMarkers, async (ctx, req) => {
  const { broker } = ctx
  const markers = await Promise.all(
    req.markers.map(async (m) => ({
      producerId: m.producerId,
      topics: await Promise.all(
        m.topics.map(async (t) => ({
          name: t.name,
          partitions: await Promise.all(
            t.partitionIndexes.map(async (p) => {
              let errorCode = 0
              try {
                const marker = { producerId: m.producerId, producerEpoch: m.producerEpoch, commit: m.transactionResult, coordinatorEpoch: m.coordinatorEpoch }
                if (!broker.partition(t.name, p)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
                else if (!(await writeMarker(broker, t.name, p, marker))) errorCode = ErrorCode.INVALID_PRODUCER_EPOCH.code // stale marker
              } catch (err) {
                errorCode = err instanceof KafkaError ? err.code : ErrorCode.UNKNOWN_SERVER_ERROR.code
              }
              return { partitionIndex: p, errorCode }
            }),
          ),
        })),
      ),
    })),
  )
  return { markers }
})
