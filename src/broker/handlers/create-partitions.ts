// CreatePartitions: raises the partition count of topics, as Kafka's ReplicationControlManager
// does: a topic named twice is INVALID_REQUEST for each occurrence; an unknown topic is
// UNKNOWN_TOPIC_OR_PARTITION; a count equal to or below the current one is INVALID_PARTITIONS.
// Manual assignments, when given, must list one replica set per new partition, each with the
// topic's replication factor, distinct and existing broker ids (INVALID_REPLICA_ASSIGNMENT
// otherwise). validateOnly checks without creating.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'
import { checkReplicaList } from './create-topics.js'

export const createPartitionsHandler = defineHandler(Apis.CreatePartitions, async (ctx, req) => {
  const { broker } = ctx
  const counts = new Map<string, number>()
  for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)
  const known = new Set(broker.link.image.liveBrokers().map((b) => b.id))

  const results = []
  for (const t of req.topics) {
    try {
      if (counts.get(t.name)! > 1) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Duplicate topic name.')
      const topic = broker.metadata.topic(t.name)
      if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.message)
      if (t.count === topic.partitions) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Topic already has ${topic.partitions} partition(s).`)
      if (t.count < topic.partitions) {
        throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `The topic ${t.name} currently has ${topic.partitions} partition(s); ${t.count} would not be an increase.`)
      }
      if (t.assignments !== null) {
        const additional = t.count - topic.partitions
        if (t.assignments.length !== additional) {
          throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            `Attempted to add ${additional} additional partition(s), but only ${t.assignments.length} assignment(s) were specified.`)
        }
        for (const a of t.assignments) checkReplicaList(a.brokerIds, known, topic.replicationFactor)
      }
      await broker.createPartitions(t.name, t.count, req.validateOnly, t.assignments?.map((a) => [...a.brokerIds]))
      results.push({ name: t.name, errorCode: 0, errorMessage: null })
    } catch (err) {
      if (!(err instanceof KafkaError)) throw err
      results.push({ name: t.name, errorCode: err.code, errorMessage: err.message })
    }
  }
  return { throttleTimeMs: 0, results }
})
