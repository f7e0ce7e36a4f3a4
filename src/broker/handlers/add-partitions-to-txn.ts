// AddPartitionsToTxn: a transactional producer adds partitions to its transaction before it
// produces to them. v0-3 carry one transaction (clients); v4+ batch several and may only verify
// that partitions are part of a transaction (verifyOnly, KIP-890 — sent by brokers to the id's
// coordinator: NOT_COORDINATOR elsewhere, COORDINATOR_LOAD_IN_PROGRESS while its partition loads).

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, type KafkaErrorInfo } from '../../protocol/errors.js'
import { defineHandler, type RequestContext } from '../registry.js'
import { txnErrorCode } from '../../coordinator/transactions/errors.js'

interface TopicPartitions {
  name: string
  partitions: number[]
}

function results(topics: TopicPartitions[], code: (topic: string, partition: number) => number) {
  return topics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: code(t.name, p) })) }))
}

async function addOne(ctx: RequestContext, transactionalId: string, producerId: number, producerEpoch: number, topics: TopicPartitions[], verifyOnly: boolean) {
  const { broker, version } = ctx
  const txns = broker.transactions
  if (verifyOnly) {
    return results(topics, (topic, p) => {
      const e = txns.verifyInTransaction(transactionalId, producerId, producerEpoch, topic, p)
      return e === ErrorCode.INVALID_PRODUCER_EPOCH ? ErrorCode.PRODUCER_FENCED.code : e.code
    })
  }
  // Partitions that do not exist fail the request; the others are then not attempted (as Kafka).
  const unknown = topics.some((t) => t.partitions.some((p) => !broker.partition(t.name, p)))
  if (unknown) {
    return results(topics, (topic, p) => (broker.partition(topic, p) ? ErrorCode.OPERATION_NOT_ATTEMPTED.code : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code))
  }
  const partitions = topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })))
  const error: KafkaErrorInfo = await txns.addPartitions(transactionalId, producerId, producerEpoch, partitions)
  const code = txnErrorCode(error, version, 2)
  return results(topics, () => code)
}

export const addPartitionsToTxnHandler = defineHandler(Apis.AddPartitionsToTxn, async (ctx, req) => {
  if (ctx.version < 4) {
    const topics = await addOne(ctx, req.v3AndBelowTransactionalId, req.v3AndBelowProducerId, req.v3AndBelowProducerEpoch, req.v3AndBelowTopics, false)
    return { throttleTimeMs: 0, resultsByTopicV3AndBelow: topics }
  }
  const resultsByTransaction = await Promise.all(
    req.transactions.map(async (t) => ({
      transactionalId: t.transactionalId,
      topicResults: await addOne(ctx, t.transactionalId, t.producerId, t.producerEpoch, t.topics, t.verifyOnly),
    })),
  )
  return { throttleTimeMs: 0, errorCode: 0, resultsByTransaction }
})
