// Public entry of the coordinators: classic and KIP-848 consumer groups and their committed
// offsets, kept in the internal compacted topic __consumer_offsets, and transactions, kept in
// __transaction_state. The broker opens both after its logs; each serves the partitions of its
// topic this broker leads, told by onInternalLeadershipChange (becomeLeader / resign).

import { groupConfig, groupSettingDefs as classicGroupSettingDefs, type GroupSettingDef } from './config.js'
import { ConsumerGroupCoordinator, consumerGroupConfig, consumerGroupSettingDefs, type TopicSource } from './consumer-group-coordinator.js'
import { GroupCoordinator, type Logger } from './group-coordinator.js'
import { LogGroupStore, OFFSETS_TOPIC, partitionFor } from './offsets-log.js'
import type { PartitionLog } from '../storage/index.js'
import { ensureInternalTopic, type CreateTopics, type InternalTopicHost } from './internal-topics.js'
import { txnSettingDefs } from './transactions/config.js'
import { TXN_TOPIC, ensureTxnTopic, type TransactionCoordinator } from './transactions/index.js'

export { GroupCoordinator, parseSubscriptionTopics } from './group-coordinator.js'
export type { TxnCommitRequest } from './group-coordinator.js'
export { openTransactionCoordinator, ensureTxnTopic, TransactionCoordinator, TXN_TOPIC } from './transactions/index.js'
export type { GroupState, JoinRequest, JoinResult, SyncRequest, SyncResult, LeaveResult, CommitRequest, FetchedOffset, GroupDescription, GroupListing, MemberIdentity, Protocol } from './group-coordinator.js'
export { groupConfig } from './config.js'
export { ConsumerGroupCoordinator, consumerGroupConfig, consumerGroupSettingDefs, compileSubscriptionRegex } from './consumer-group-coordinator.js'
export type { ConsumerGroupConfig, ConsumerHeartbeatRequest, ConsumerHeartbeatResult, DescribedConsumerGroup, TopicSource, TopicView } from './consumer-group-coordinator.js'
/** Every setting of the coordinators (classic and consumer protocol groups, transactions). */
export const coordinatorSettingDefs: readonly GroupSettingDef[] = [...classicGroupSettingDefs, ...consumerGroupSettingDefs, ...txnSettingDefs]
export type { GroupConfig, GroupSettingDef } from './config.js'
export { OFFSETS_TOPIC, MemoryGroupStore, LogGroupStore, partitionFor } from './offsets-log.js'
export type { GroupStore, CommittedAppend } from './offsets-log.js'
export { ensureInternalTopic, INTERNAL_TOPIC_BROKER_WAIT_MS } from './internal-topics.js'
export type { InternalTopicHost, InternalTopicSpec } from './internal-topics.js'

/** What the group coordinator needs of its broker (the Broker satisfies it). */
export interface GroupHost extends InternalTopicHost {
  readonly settings: Record<string, string>
  readonly log: Logger & { child?(bindings: Record<string, unknown>): Logger }
  readonly metadata: TopicSource
  createTopics: CreateTopics
  /** The local replica (leader or follower), for replays. */
  partition(topic: string, partition: number): PartitionLog | undefined
  /** Appends to a partition this broker leads; resolves once replicated (see Broker.appendCommitted). */
  appendCommitted(topic: string, partition: number, batches: Buffer[]): Promise<unknown>
}

/**
 * Creates __consumer_offsets when missing (compacted, internal, `offsets.topic.replication.factor`
 * replicas, at most the live brokers); returns its partition count.
 */
export function ensureOffsetsTopic(host: InternalTopicHost): Promise<{ partitions: number }> {
  const config = groupConfig(host.settings)
  return ensureInternalTopic(host, {
    name: OFFSETS_TOPIC,
    partitions: config.offsetsTopicPartitions,
    replicationFactor: config.offsetsTopicReplicationFactor,
    replicationSetting: 'offsets.topic.replication.factor',
    configs: () => ({ 'cleanup.policy': 'compact', 'segment.bytes': String(config.offsetsTopicSegmentBytes), 'compression.type': 'producer' }),
  })
}

/**
 * Creates __consumer_offsets when missing and returns the coordinator, serving no partition
 * until becomeLeader is called for the partitions this broker leads.
 */
export async function openGroupCoordinator(host: GroupHost): Promise<GroupCoordinator> {
  const config = groupConfig(host.settings)
  const topic = await ensureOffsetsTopic(host)
  const log = host.log.child ? host.log.child({ component: 'groups' }) : host.log
  const store = new LogGroupStore(topic.partitions, (p) => host.partition(OFFSETS_TOPIC, p), (p, batches) => host.appendCommitted(OFFSETS_TOPIC, p, batches))
  const coordinator = new GroupCoordinator(config, store, log)
  coordinator.consumerGroups = new ConsumerGroupCoordinator(consumerGroupConfig(host.settings), store, host.metadata, coordinator, log)
  return coordinator
}

// ---- Leadership of the internal partitions ---------------------------------------------------------

/** The broker as the coordinators' leadership hooks see it. */
export interface CoordinatorsHost {
  readonly groups: GroupCoordinator
  readonly transactions: TransactionCoordinator
  readonly log: Logger
  readonly metadata: { topic(name: string): { partitions: number } | undefined }
  isLeader(topic: string, partition: number): boolean
}

/** Whether a topic is one whose partitions' leadership moves a coordinator. */
export function isCoordinatorTopic(topic: string): boolean {
  return topic === OFFSETS_TOPIC || topic === TXN_TOPIC
}

/**
 * The broker calls this whenever it becomes, or stops being, the leader of a partition of
 * __consumer_offsets or __transaction_state (other topics are ignored, so it may be called for
 * every leadership change). Becoming leader loads the partition's groups (transactional ids) by
 * replaying it; the returned promise settles when they are served (for __transaction_state, once
 * its Prepare* transactions are completed too). Losing leadership drops them at once (resign is
 * synchronous). `leaderEpoch`, when known, lets a newer leadership that arrives without a resign
 * in between reload the partition, and is the coordinator epoch of transaction markers: pass it
 * always or never (see becomeLeaderOfLedPartitions). Never rejects: a failed load is logged and
 * the partition answers NOT_COORDINATOR until the next call.
 */
export async function onInternalLeadershipChange(host: CoordinatorsHost, topic: string, partition: number, isLeader: boolean, leaderEpoch?: number): Promise<void> {
  const coordinator = topic === OFFSETS_TOPIC ? host.groups : topic === TXN_TOPIC ? host.transactions : undefined
  if (!coordinator) return
  if (!isLeader) {
    coordinator.resign(partition)
    return
  }
  try {
    await coordinator.becomeLeader(partition, leaderEpoch ?? -1)
  } catch (err) {
    host.log.error({ err, topic, partition }, 'the coordinator could not load a partition it leads')
  }
}

/**
 * Calls becomeLeader for every partition of the internal topics this broker leads now (the
 * offsets topic first: the transaction coordinator's recovery may write markers there). For
 * Broker.open; rejects when a load fails, as the broker cannot serve its coordinators then.
 * `leaderEpoch` names the partitions' leader epochs; pass it if onInternalLeadershipChange is
 * given epochs too (a marker's coordinator epoch must never go down, or the partition fences
 * the markers of a legitimate coordinator).
 */
export async function becomeLeaderOfLedPartitions(host: CoordinatorsHost, leaderEpoch?: (topic: string, partition: number) => number): Promise<void> {
  for (const [topic, coordinator] of [[OFFSETS_TOPIC, host.groups], [TXN_TOPIC, host.transactions]] as const) {
    const partitions = host.metadata.topic(topic)?.partitions ?? 0
    for (let p = 0; p < partitions; p++) if (host.isLeader(topic, p)) await coordinator.becomeLeader(p, leaderEpoch?.(topic, p) ?? -1)
  }
}

/**
 * The partition of the internal topic coordinating a key (a group id, key type 0; a transactional
 * id, key type 1), creating the topic when it does not exist yet (as Kafka does on the first
 * FindCoordinator): null then, and while creating it fails, so the caller answers
 * COORDINATOR_NOT_AVAILABLE and the client asks again.
 */
export function coordinatorPartition(host: InternalTopicHost, keyType: 'group' | 'transaction', key: string): { topic: string; partition: number } | null {
  const topic = keyType === 'group' ? OFFSETS_TOPIC : TXN_TOPIC
  const t = host.metadata.topic(topic)
  if (t) return { topic, partition: partitionFor(key, t.partitions) }
  let byTopic = creations.get(host)
  if (!byTopic) creations.set(host, (byTopic = new Map()))
  const inFlight = byTopic
  let creating = inFlight.get(topic)
  if (!creating) {
    creating = (keyType === 'group' ? ensureOffsetsTopic(host) : ensureTxnTopic(host))
      .then(
        () => undefined,
        (err: unknown) => host.log.warn({ err, topic }, 'could not create an internal topic asked for by FindCoordinator'),
      )
      .finally(() => inFlight.delete(topic))
    inFlight.set(topic, creating)
  }
  return null
}

/** Internal topics being created for FindCoordinator, per broker (one creation at a time). */
const creations = new WeakMap<object, Map<string, Promise<void>>>()
