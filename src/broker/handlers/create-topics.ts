// CreateTopics: validates every topic of the request, then creates the valid ones (or, with
// validateOnly, only reports what would happen). Checks, in Kafka's order (KRaft
// ReplicationControlManager.createTopics): a name given twice (INVALID_REQUEST for each
// occurrence), the name itself and collisions ('.' vs '_') with existing topics
// (INVALID_TOPIC_EXCEPTION), TOPIC_ALREADY_EXISTS, the configs (INVALID_CONFIG naming the key; a
// null value is refused), then the manual assignment or partition count and replication factor.
// numPartitions / replicationFactor -1 take the broker defaults (num.partitions,
// default.replication.factor). A manual assignment needs both set to -1, partitions numbered
// 0..n-1, each with the same number of distinct replicas, and only broker ids that exist
// (INVALID_REPLICA_ASSIGNMENT otherwise).
// v5+ answers numPartitions, replicationFactor and the topic's effective configs (sorted by
// name); v7+ the topic id (all zeros under validateOnly, where no id is assigned).

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import { UUID_ZERO } from '../../protocol/schema.js'
import { validateTopicName } from '../../controller/topic-names.js'
import { validateTopicConfig } from '../../controller/topic-configs.js'
import { intSetting } from '../config.js'
import { defineHandler } from '../registry.js'
import { topicConfigEntries } from './describe-configs.js'

/** Kafka treats '.' and '_' alike when checking new topic names against existing ones. */
const unify = (name: string) => name.replace(/\./g, '_')

interface Planned {
  name: string
  partitions: number
  replicationFactor: number
  configs: Record<string, string>
  assignments?: number[][]
}

export const createTopicsHandler = defineHandler(Apis.CreateTopics, async (ctx, req) => {
  const { broker, version } = ctx
  const counts = new Map<string, number>()
  for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)

  const existingUnified = new Map<string, string>()
  for (const t of broker.metadata.allTopics()) if (/[._]/.test(t.name)) existingUnified.set(unify(t.name), t.name)
  const liveBrokers = new Set(broker.link.image.liveBrokers().map((b) => b.id))

  const plan = (t: (typeof req.topics)[number]): Planned => {
    validateTopicName(t.name)
    if (/[._]/.test(t.name)) {
      const other = existingUnified.get(unify(t.name))
      if (other !== undefined && other !== t.name) {
        throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${t.name}' collides with existing topic: ${other}`)
      }
    }
    if (broker.metadata.topic(t.name)) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`)

    const configs: Record<string, string> = {}
    const nulls = t.configs.filter((c) => c.value === null).map((c) => c.name)
    if (nulls.length > 0) throw new KafkaError(ErrorCode.INVALID_CONFIG, `Null value not supported for topic configs: ${nulls.join(',')}`)
    for (const c of t.configs) {
      validateTopicConfig(c.name, c.value)
      configs[c.name] = c.value!
    }

    if (t.assignments.length > 0) {
      if (t.replicationFactor !== -1) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but replication factor was not set to -1.')
      if (t.numPartitions !== -1) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but numPartitions was not set to -1.')
      const seen = new Set<number>()
      let replicas = -1
      for (const a of t.assignments) {
        if (seen.has(a.partitionIndex)) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Found multiple manual partition assignments for partition ${a.partitionIndex}`)
        seen.add(a.partitionIndex)
        checkReplicaList(a.brokerIds, liveBrokers, replicas)
        replicas = a.brokerIds.length
      }
      for (let i = 0; i < seen.size; i++) {
        if (!seen.has(i)) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partitions should be a consecutive 0-based integer sequence')
      }
      const assignments = [...t.assignments].sort((a, b) => a.partitionIndex - b.partitionIndex).map((a) => [...a.brokerIds])
      return { name: t.name, partitions: seen.size, replicationFactor: replicas, configs, assignments }
    }
    if (t.replicationFactor < -1 || t.replicationFactor === 0) {
      throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0, or -1 to use the default value.')
    }
    if (t.numPartitions < -1 || t.numPartitions === 0) {
      throw new KafkaError(ErrorCode.INVALID_PARTITIONS, 'Number of partitions was set to an invalid non-positive value.')
    }
    const replicationFactor = t.replicationFactor === -1 ? intSetting(broker.settings, 'default.replication.factor') : t.replicationFactor
    if (replicationFactor > liveBrokers.size) {
      throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR,
        `Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only ${liveBrokers.size} broker(s) are registered.`)
    }
    const partitions = t.numPartitions === -1 ? intSetting(broker.settings, 'num.partitions') : t.numPartitions
    return { name: t.name, partitions, replicationFactor, configs }
  }

  type Outcome = { error: KafkaError } | { planned: Planned }
  const outcomes: Outcome[] = req.topics.map((t) => {
    if (counts.get(t.name)! > 1) return { error: new KafkaError(ErrorCode.INVALID_REQUEST, 'Duplicate topic name.') }
    try {
      return { planned: plan(t) }
    } catch (err) {
      if (!(err instanceof KafkaError)) throw err
      return { error: err }
    }
  })

  // The broker re-validates and creates; its answer is the final word for each planned topic.
  const planned = outcomes.flatMap((o) => ('planned' in o ? [o.planned] : []))
  const created = await broker.createTopics(planned, req.validateOnly)
  let next = 0
  const topics = outcomes.map((o, i) => {
    const name = req.topics[i]!.name
    const result = 'planned' in o ? created[next++]! : o
    if ('error' in result) {
      return { name, topicId: UUID_ZERO, errorCode: result.error.code, errorMessage: result.error.message, numPartitions: -1, replicationFactor: -1, configs: [] }
    }
    const t = result.topic
    return {
      name,
      topicId: t.id || UUID_ZERO,
      errorCode: 0,
      errorMessage: null,
      numPartitions: t.partitions,
      replicationFactor: t.replicationFactor,
      configs: version >= 5
        ? topicConfigEntries(broker, t.configs).map((c) => ({ name: c.name, value: c.value, readOnly: c.readOnly, configSource: c.source, isSensitive: c.sensitive }))
        : [],
    }
  })
  return { throttleTimeMs: 0, topics }
})

/**
 * A manual replica list: not empty, each broker once, every broker known, and as long as the
 * partitions before it (`expected`, -1 when there is none yet). Shared with CreatePartitions.
 */
export function checkReplicaList(brokerIds: readonly number[], known: ReadonlySet<number>, expected: number): void {
  if (brokerIds.length === 0) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'The manual partition assignment includes an empty replica list.')
  const sorted = [...brokerIds].sort((a, b) => a - b)
  let prev: number | undefined
  for (const id of sorted) {
    if (!known.has(id)) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes broker ${id}, but no such broker is registered.`)
    if (id === prev) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes the broker ${id} more than once.`)
    prev = id
  }
  if (expected >= 0 && sorted.length !== expected) {
    throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      `The manual partition assignment includes a partition with ${sorted.length} replica(s), but this is not consistent with previous partitions, which have ${expected} replica(s).`)
  }
}
