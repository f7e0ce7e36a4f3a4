// The operations behind `fjord topic` and `fjord group`, as plain data: what a table or a JSON
// document is printed from. Each sends the requests Kafka's own tools send (Metadata,
// CreateTopics, DeleteTopics, DescribeConfigs, ListGroups, DescribeGroups, OffsetFetch,
// ListOffsets, OffsetCommit, DeleteGroups) to the broker that owns the answer: partition leaders
// for offsets, the group's coordinator for group state.

import { Apis } from '../protocol/apis.js'
import { ErrorCode, KafkaError, errorInfo } from '../protocol/errors.js'
import { UUID_ZERO } from '../protocol/schema.js'
import { decodeConsumerAssignment, type TopicPartitions } from './consumer-protocol.js'
import { check, type KafkaClient } from './kafka-client.js'

// ---------------------------------------------------------------------------------------------
// Offsets of partitions

export interface TopicPartition { topic: string; partition: number }

const EARLIEST = -2
const LATEST = -1

export function tpKey(tp: TopicPartition): string {
  return `${tp.topic}:${tp.partition}` // ':' cannot occur in a topic name
}

function byTopicPartition<T extends TopicPartition>(a: T, b: T): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition
}

export interface ListedOffset { offset: number; timestamp: number; errorCode: number }

/**
 * ListOffsets for each partition at `timestamp(tp)` (-2 earliest, -1 latest, or a time in ms),
 * sent to each partition's leader. Partitions of unknown topics come back with their error.
 */
export async function listOffsets(client: KafkaClient, tps: readonly TopicPartition[], timestamp: (tp: TopicPartition) => number): Promise<Map<string, ListedOffset>> {
  const out = new Map<string, ListedOffset>()
  if (tps.length === 0) return out
  const topics = [...new Set(tps.map((tp) => tp.topic))]
  const md = await client.metadata(topics)
  const leaders = new Map<string, number>()
  for (const t of md.topics) {
    for (const p of t.partitions) leaders.set(tpKey({ topic: t.name ?? '', partition: p.partitionIndex }), t.errorCode !== 0 ? -1 : p.errorCode !== 0 ? -1 : p.leaderId)
  }
  const topicError = new Map(md.topics.map((t) => [t.name ?? '', t.errorCode]))
  const byLeader = new Map<number, TopicPartition[]>()
  for (const tp of tps) {
    const leader = leaders.get(tpKey(tp))
    if (leader === undefined || leader < 0) {
      const code = topicError.get(tp.topic) || (leader === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code : ErrorCode.LEADER_NOT_AVAILABLE.code)
      out.set(tpKey(tp), { offset: -1, timestamp: -1, errorCode: code })
      continue
    }
    let list = byLeader.get(leader)
    if (!list) byLeader.set(leader, (list = []))
    list.push(tp)
  }
  await Promise.all([...byLeader].map(async ([leader, list]) => {
    const conn = await client.node(leader)
    const grouped = new Map<string, TopicPartition[]>()
    for (const tp of list) grouped.set(tp.topic, [...(grouped.get(tp.topic) ?? []), tp])
    const { body, version } = await conn.send(Apis.ListOffsets, () => ({
      replicaId: -1,
      isolationLevel: 0,
      topics: [...grouped].map(([name, ps]) => ({ name, partitions: ps.map((tp) => ({ partitionIndex: tp.partition, timestamp: timestamp(tp) })) })),
      timeoutMs: 30_000,
    }))
    for (const t of body.topics) {
      for (const p of t.partitions) {
        const offset = version === 0 ? (p.oldStyleOffsets[0] ?? -1) : p.offset
        out.set(tpKey({ topic: t.name, partition: p.partitionIndex }), { offset, timestamp: p.timestamp, errorCode: p.errorCode })
      }
    }
  }))
  return out
}

// ---------------------------------------------------------------------------------------------
// Topics

export interface TopicSummary {
  name: string
  topicId: string | null
  internal: boolean
  partitions: number
  replicationFactor: number
}

export async function listTopics(client: KafkaClient): Promise<TopicSummary[]> {
  const md = await client.metadata(null)
  return md.topics
    .map((t) => ({
      name: t.name ?? '',
      topicId: t.topicId === UUID_ZERO ? null : t.topicId,
      internal: t.isInternal,
      partitions: t.partitions.length,
      replicationFactor: t.partitions[0]?.replicaNodes.length ?? 0,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

export interface PartitionDescription {
  partition: number
  leader: number
  replicas: number[]
  isr: number[]
  logStartOffset: number | null
  logEndOffset: number | null
}

export interface ConfigEntry { name: string; value: string | null; source: string; readOnly: boolean; sensitive: boolean }

export interface TopicDescription extends TopicSummary {
  partitionDetails: PartitionDescription[]
  configs: ConfigEntry[]
}

const CONFIG_SOURCES: Record<number, string> = {
  1: 'DYNAMIC_TOPIC_CONFIG', 2: 'DYNAMIC_BROKER_CONFIG', 3: 'DYNAMIC_DEFAULT_BROKER_CONFIG',
  4: 'STATIC_BROKER_CONFIG', 5: 'DEFAULT_CONFIG', 6: 'DYNAMIC_BROKER_LOGGER_CONFIG', 7: 'CLIENT_METRICS_CONFIG',
}
const TOPIC_RESOURCE = 2

export async function describeTopic(client: KafkaClient, name: string): Promise<TopicDescription> {
  const md = await client.metadata([name])
  const t = md.topics.find((x) => x.name === name)
  if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`)
  if (t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`)
  check(t.errorCode, null, `topic '${name}'`)
  const tps = t.partitions.map((p) => ({ topic: name, partition: p.partitionIndex }))
  const [earliest, latest, configs] = await Promise.all([
    listOffsets(client, tps, () => EARLIEST),
    listOffsets(client, tps, () => LATEST),
    client.any.send(Apis.DescribeConfigs, () => ({
      resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configurationKeys: null }],
      includeSynonyms: false,
      includeDocumentation: false,
    })),
  ])
  const result = configs.body.results[0]
  if (!result) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'DescribeConfigs returned no result')
  check(result.errorCode, result.errorMessage, `configs of topic '${name}'`)
  const offset = (m: Map<string, ListedOffset>, tp: TopicPartition) => {
    const o = m.get(tpKey(tp))
    return o && o.errorCode === 0 && o.offset >= 0 ? o.offset : null
  }
  return {
    name,
    topicId: t.topicId === UUID_ZERO ? null : t.topicId,
    internal: t.isInternal,
    partitions: t.partitions.length,
    replicationFactor: t.partitions[0]?.replicaNodes.length ?? 0,
    partitionDetails: t.partitions
      .map((p) => {
        const tp = { topic: name, partition: p.partitionIndex }
        return { partition: p.partitionIndex, leader: p.leaderId, replicas: p.replicaNodes, isr: p.isrNodes, logStartOffset: offset(earliest, tp), logEndOffset: offset(latest, tp) }
      })
      .sort((a, b) => a.partition - b.partition),
    configs: result.configs
      .map((c) => ({
        name: c.name,
        value: c.value,
        source: configs.version === 0 ? (c.isDefault ? 'DEFAULT_CONFIG' : 'DYNAMIC_TOPIC_CONFIG') : CONFIG_SOURCES[c.configSource] ?? 'UNKNOWN',
        readOnly: c.readOnly,
        sensitive: c.isSensitive,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  }
}

export interface CreateTopicOptions {
  /** Omitted: the broker's num.partitions. */
  partitions?: number
  /** Omitted: the broker's default.replication.factor. */
  replicationFactor?: number
  configs?: Record<string, string>
}

export async function createTopic(client: KafkaClient, name: string, opts: CreateTopicOptions = {}): Promise<{ name: string; topicId: string | null; partitions: number; replicationFactor: number }> {
  const { body, version } = await client.any.send(Apis.CreateTopics, () => ({
    topics: [{
      name,
      numPartitions: opts.partitions ?? -1,
      replicationFactor: opts.replicationFactor ?? -1,
      assignments: [],
      configs: Object.entries(opts.configs ?? {}).map(([k, v]) => ({ name: k, value: v })),
    }],
    timeoutMs: 30_000,
    validateOnly: false,
  }))
  const t = body.topics[0]
  if (!t) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'CreateTopics returned no result')
  check(t.errorCode, t.errorMessage, `cannot create topic '${name}'`)
  return {
    name,
    topicId: t.topicId === UUID_ZERO ? null : t.topicId,
    partitions: version >= 5 ? t.numPartitions : opts.partitions ?? -1,
    replicationFactor: version >= 5 ? t.replicationFactor : opts.replicationFactor ?? -1,
  }
}

export async function deleteTopic(client: KafkaClient, name: string): Promise<void> {
  const { body } = await client.any.send(Apis.DeleteTopics, (v) =>
    v >= 6 ? { topics: [{ name, topicId: UUID_ZERO }], timeoutMs: 30_000 } : { topicNames: [name], timeoutMs: 30_000 })
  const r = body.responses[0]
  if (!r) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'DeleteTopics returned no result')
  check(r.errorCode, r.errorMessage, `cannot delete topic '${name}'`)
}

// ---------------------------------------------------------------------------------------------
// Groups

export interface GroupListing {
  groupId: string
  /** null before ListGroups v4 */
  state: string | null
  protocolType: string
  /** classic or consumer (KIP-848); null before ListGroups v5 */
  type: string | null
}

/** Every group of every broker (each broker lists the groups it coordinates). */
export async function listGroups(client: KafkaClient): Promise<GroupListing[]> {
  const brokers = await client.brokers()
  const lists = await Promise.all(brokers.map(async (b) => {
    const { body, version } = await (await client.node(b.nodeId)).send(Apis.ListGroups, () => ({ statesFilter: [], typesFilter: [] }))
    check(body.errorCode, null, `ListGroups at broker ${b.nodeId}`)
    return body.groups.map((g) => ({ groupId: g.groupId, state: version >= 4 ? g.groupState : null, protocolType: g.protocolType, type: version >= 5 ? g.groupType : null }))
  }))
  const seen = new Map<string, GroupListing>()
  for (const g of lists.flat()) seen.set(g.groupId, g)
  return [...seen.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0))
}

export interface GroupMember {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  host: string
  assignment: TopicPartitions[]
}

export interface PartitionLag {
  topic: string
  partition: number
  /** null: the group has committed no offset for this partition */
  currentOffset: number | null
  /** null: the partition's end is unknown (its topic was deleted) */
  logEndOffset: number | null
  lag: number | null
  memberId: string | null
  clientId: string | null
  host: string | null
}

export interface GroupDescription {
  groupId: string
  state: string
  protocolType: string
  protocol: string
  coordinator: { nodeId: number; host: string; port: number }
  members: GroupMember[]
  partitions: PartitionLag[]
}

interface GroupState {
  groupId: string
  state: string
  protocolType: string
  protocol: string
  members: GroupMember[]
  coordinator: { nodeId: number; host: string; port: number }
}

async function groupState(client: KafkaClient, groupId: string): Promise<GroupState> {
  return client.withCoordinator(groupId, async (conn, node) => {
    const { body } = await conn.send(Apis.DescribeGroups, () => ({ groups: [groupId], includeAuthorizedOperations: false }))
    const g = body.groups.find((x) => x.groupId === groupId) ?? body.groups[0]
    if (!g) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'DescribeGroups returned no group')
    check(g.errorCode, null, `group '${groupId}'`)
    const consumer = g.protocolType === 'consumer' || g.protocolType === ''
    return {
      groupId,
      state: g.groupState,
      protocolType: g.protocolType,
      protocol: g.protocolData,
      coordinator: { nodeId: node.nodeId, host: node.host, port: node.port },
      members: g.members
        .map((m) => {
          let assignment: TopicPartitions[] = []
          if (consumer) {
            try { assignment = decodeConsumerAssignment(m.memberAssignment) } catch { assignment = [] }
          }
          return { memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, host: m.clientHost, assignment }
        })
        .sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0)),
    }
  })
}

/** Committed offsets of a group: every partition it committed (topics=null, v2+). */
export async function committedOffsets(client: KafkaClient, groupId: string, topicsForOldVersions: string[]): Promise<Map<string, number>> {
  return client.withCoordinator(groupId, async (conn) => {
    const { body, version } = await conn.send(Apis.OffsetFetch, (v) =>
      v >= 8
        ? { groups: [{ groupId, memberId: null, memberEpoch: -1, topics: null }], requireStable: false }
        : { groupId, topics: v >= 2 ? null : topicsForOldVersions.map((name) => ({ name, partitionIndexes: [] })), requireStable: false })
    let topics: { name: string; partitions: { partitionIndex: number; committedOffset: number; errorCode: number }[] }[]
    if (version >= 8) {
      const g = body.groups.find((x) => x.groupId === groupId)
      if (!g) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'OffsetFetch returned no group')
      check(g.errorCode, null, `offsets of group '${groupId}'`)
      topics = g.topics
    } else {
      check(version >= 2 ? body.errorCode : 0, null, `offsets of group '${groupId}'`)
      topics = body.topics
    }
    const out = new Map<string, number>()
    for (const t of topics) {
      for (const p of t.partitions) {
        check(p.errorCode, null, `offset of ${t.name}-${p.partitionIndex} in group '${groupId}'`)
        if (p.committedOffset >= 0) out.set(tpKey({ topic: t.name, partition: p.partitionIndex }), p.committedOffset)
      }
    }
    return out
  })
}

function parseKey(key: string): TopicPartition {
  const i = key.lastIndexOf(':')
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) }
}

/**
 * State, members and, per partition the group consumes or committed, its committed offset, the
 * log end offset and the lag between them (like kafka-consumer-groups.sh --describe).
 */
export async function describeGroup(client: KafkaClient, groupId: string): Promise<GroupDescription> {
  const g = await groupState(client, groupId)
  const assignedTopics = [...new Set(g.members.flatMap((m) => m.assignment.map((a) => a.topic)))]
  const committed = await committedOffsets(client, groupId, assignedTopics)
  if (g.state === 'Dead' && committed.size === 0) throw new KafkaError(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group '${groupId}' does not exist.`)
  const owner = new Map<string, GroupMember>()
  for (const m of g.members) for (const a of m.assignment) for (const p of a.partitions) owner.set(tpKey({ topic: a.topic, partition: p }), m)
  const keys = [...new Set([...committed.keys(), ...owner.keys()])]
  const tps = keys.map(parseKey).sort(byTopicPartition)
  const ends = await listOffsets(client, tps, () => LATEST)
  const partitions = tps.map((tp) => {
    const key = tpKey(tp)
    const current = committed.get(key) ?? null
    const end = ends.get(key)
    const logEndOffset = end && end.errorCode === 0 && end.offset >= 0 ? end.offset : null
    const m = owner.get(key)
    return {
      topic: tp.topic,
      partition: tp.partition,
      currentOffset: current,
      logEndOffset,
      lag: current !== null && logEndOffset !== null ? logEndOffset - current : null,
      memberId: m?.memberId ?? null,
      clientId: m?.clientId ?? null,
      host: m?.host ?? null,
    }
  })
  return { ...g, partitions }
}

export type ResetStrategy =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'datetime'; timestamp: number }
  | { kind: 'offset'; offset: number }

/** A topic with some partitions, or (partitions null) all of them. */
export interface ResetTarget { topic: string; partitions: number[] | null }

export interface ResetPlanEntry extends TopicPartition {
  currentOffset: number | null
  newOffset: number
}

export interface ResetPlan {
  groupId: string
  state: string
  partitions: ResetPlanEntry[]
  /** Requested offsets moved into the log's range, as Kafka's tool does. */
  warnings: string[]
}

const INACTIVE_STATES = new Set(['Empty', 'Dead'])

/**
 * Where `strategy` would move the group's offsets. Refuses (NON_EMPTY_GROUP) unless the group
 * is Empty or Dead: members of an active group would overwrite the new offsets with their own.
 * `targets` null means every topic the group has committed offsets for.
 */
export async function planOffsetReset(client: KafkaClient, groupId: string, targets: readonly ResetTarget[] | null, strategy: ResetStrategy): Promise<ResetPlan> {
  const g = await groupState(client, groupId)
  if (!INACTIVE_STATES.has(g.state)) {
    const who = g.members.map((m) => `${m.clientId} (${m.memberId}) on ${m.host}`).join(', ')
    throw new KafkaError(ErrorCode.NON_EMPTY_GROUP,
      `offsets of group '${groupId}' can only be reset while it is inactive (Empty or Dead), but it is ${g.state}` +
      (g.members.length > 0 ? ` with ${g.members.length} active member${g.members.length === 1 ? '' : 's'}: ${who}` : '') +
      '. Stop its consumers first.')
  }
  const committed = await committedOffsets(client, groupId, (targets ?? []).map((t) => t.topic))
  let wanted: ResetTarget[]
  if (targets === null) {
    const topics = new Map<string, number[]>()
    for (const key of committed.keys()) {
      const tp = parseKey(key)
      topics.set(tp.topic, [...(topics.get(tp.topic) ?? []), tp.partition])
    }
    wanted = [...topics].map(([topic, partitions]) => ({ topic, partitions }))
  } else wanted = [...targets]
  const md = await client.metadata([...new Set(wanted.map((t) => t.topic))])
  const tps: TopicPartition[] = []
  for (const t of wanted) {
    const m = md.topics.find((x) => x.name === t.topic)
    if (!m || m.errorCode !== 0) {
      const info = errorInfo(m?.errorCode || ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code)
      throw new KafkaError(info, info.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code ? `Topic '${t.topic}' does not exist.` : `topic '${t.topic}': ${info.message}`)
    }
    const all = m.partitions.map((p) => p.partitionIndex)
    for (const p of t.partitions ?? all) {
      if (!all.includes(p)) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${t.topic}' has no partition ${p} (it has ${all.length}).`)
      tps.push({ topic: t.topic, partition: p })
    }
  }
  const unique = [...new Map(tps.map((tp) => [tpKey(tp), tp])).values()].sort(byTopicPartition)
  const fetchOk = (m: Map<string, ListedOffset>, tp: TopicPartition): number => {
    const o = m.get(tpKey(tp))
    if (!o) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `ListOffsets did not answer for ${tp.topic}-${tp.partition}`)
    check(o.errorCode, null, `${tp.topic}-${tp.partition}`)
    return o.offset
  }
  const [earliest, latest] = await Promise.all([listOffsets(client, unique, () => EARLIEST), listOffsets(client, unique, () => LATEST)])
  const byTime = strategy.kind === 'datetime' ? await listOffsets(client, unique, () => strategy.timestamp) : null
  const warnings: string[] = []
  const partitions = unique.map((tp) => {
    const start = fetchOk(earliest, tp)
    const end = fetchOk(latest, tp)
    let newOffset: number
    switch (strategy.kind) {
      case 'earliest': newOffset = start; break
      case 'latest': newOffset = end; break
      case 'datetime': {
        const at = fetchOk(byTime!, tp)
        newOffset = at < 0 ? end : at // no record at or after that time: the end
        break
      }
      case 'offset':
        newOffset = strategy.offset
        if (newOffset > end) {
          warnings.push(`new offset ${newOffset} is past the end of ${tp.topic}-${tp.partition}; using its log end offset ${end}`)
          newOffset = end
        } else if (newOffset < start) {
          warnings.push(`new offset ${newOffset} is before the start of ${tp.topic}-${tp.partition}; using its log start offset ${start}`)
          newOffset = start
        }
        break
    }
    return { ...tp, currentOffset: committed.get(tpKey(tp)) ?? null, newOffset }
  })
  return { groupId, state: g.state, partitions, warnings }
}

/** Commits a plan's offsets from outside the group (generation -1, no member id). */
export async function executeOffsetReset(client: KafkaClient, plan: ResetPlan): Promise<void> {
  if (plan.partitions.length === 0) return
  const topics = new Map<string, ResetPlanEntry[]>()
  for (const e of plan.partitions) topics.set(e.topic, [...(topics.get(e.topic) ?? []), e])
  await client.withCoordinator(plan.groupId, async (conn) => {
    const { body } = await conn.send(Apis.OffsetCommit, () => ({
      groupId: plan.groupId,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [...topics].map(([name, es]) => ({
        name,
        partitions: es.map((e) => ({ partitionIndex: e.partition, committedOffset: e.newOffset, committedLeaderEpoch: -1, committedMetadata: '' })),
      })),
    }))
    for (const t of body.topics) {
      for (const p of t.partitions) check(p.errorCode, null, `cannot commit the offset of ${t.name}-${p.partitionIndex} for group '${plan.groupId}'`)
    }
  })
}

export async function deleteGroup(client: KafkaClient, groupId: string): Promise<void> {
  await client.withCoordinator(groupId, async (conn) => {
    const { body } = await conn.send(Apis.DeleteGroups, () => ({ groupsNames: [groupId] }))
    const r = body.results.find((x) => x.groupId === groupId) ?? body.results[0]
    if (!r) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'DeleteGroups returned no result')
    const notFound = r.errorCode === ErrorCode.GROUP_ID_NOT_FOUND.code
    check(r.errorCode, notFound ? `Consumer group '${groupId}' does not exist.` : null, notFound ? undefined : `cannot delete group '${groupId}'`)
  })
}
