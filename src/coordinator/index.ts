// Public entry of the coordinators: classic and KIP-848 consumer groups and their committed
// offsets, kept in the internal compacted topic __consumer_offsets. The broker opens one after its logs.

import { groupConfig, groupSettingDefs as classicGroupSettingDefs, type GroupSettingDef } from './config.js'
import { ConsumerGroupCoordinator, consumerGroupConfig, consumerGroupSettingDefs, type TopicSource } from './consumer-group-coordinator.js'
import { GroupCoordinator, type Logger } from './group-coordinator.js'
import { LogGroupStore, OFFSETS_TOPIC } from './offsets-log.js'
import type { PartitionLog } from '../storage/index.js'
import { txnSettingDefs } from './transactions/config.js'

export { GroupCoordinator, parseSubscriptionTopics } from './group-coordinator.js'
export type { TxnCommitRequest } from './group-coordinator.js'
export { openTransactionCoordinator, TransactionCoordinator, TXN_TOPIC } from './transactions/index.js'
export type { GroupState, JoinRequest, JoinResult, SyncRequest, SyncResult, LeaveResult, CommitRequest, FetchedOffset, GroupDescription, GroupListing, MemberIdentity, Protocol } from './group-coordinator.js'
export { groupConfig } from './config.js'
export { ConsumerGroupCoordinator, consumerGroupConfig, consumerGroupSettingDefs, compileSubscriptionRegex } from './consumer-group-coordinator.js'
export type { ConsumerGroupConfig, ConsumerHeartbeatRequest, ConsumerHeartbeatResult, DescribedConsumerGroup, TopicSource, TopicView } from './consumer-group-coordinator.js'
/** Every setting of the coordinators (classic and consumer protocol groups, transactions). */
export const coordinatorSettingDefs: readonly GroupSettingDef[] = [...classicGroupSettingDefs, ...consumerGroupSettingDefs, ...txnSettingDefs]
export type { GroupConfig, GroupSettingDef } from './config.js'
export { OFFSETS_TOPIC, MemoryGroupStore, LogGroupStore, partitionFor } from './offsets-log.js'
export type { GroupStore } from './offsets-log.js'

/** What the coordinator needs of its broker (the Broker satisfies it). */
export interface GroupHost {
  readonly settings: Record<string, string>
  readonly log: Logger & { child?(bindings: Record<string, unknown>): Logger }
  readonly metadata: TopicSource
  createTopics(requests: { name: string; partitions: number; replicationFactor: number; configs: Record<string, string> }[]): Promise<Array<{ error: Error } | { topic: unknown }>>
  partition(topic: string, partition: number): PartitionLog | undefined
}

/**
 * Creates __consumer_offsets when missing (compacted, internal), replays it, and returns the
 * coordinator, ready to serve.
 */
export async function openGroupCoordinator(host: GroupHost): Promise<GroupCoordinator> {
  const config = groupConfig(host.settings)
  let topic = host.metadata.topic(OFFSETS_TOPIC)
  if (!topic) {
    const [outcome] = await host.createTopics([
      {
        name: OFFSETS_TOPIC,
        partitions: config.offsetsTopicPartitions,
        replicationFactor: 1,
        configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(config.offsetsTopicSegmentBytes), 'compression.type': 'producer' },
      },
    ])
    if (outcome && 'error' in outcome) throw outcome.error
    topic = host.metadata.topic(OFFSETS_TOPIC)
    if (!topic) throw new Error(`${OFFSETS_TOPIC} was not created`)
  }
  const log = host.log.child ? host.log.child({ component: 'groups' }) : host.log
  const store = new LogGroupStore(topic.partitions, (p) => host.partition(OFFSETS_TOPIC, p))
  const coordinator = new GroupCoordinator(config, store, log)
  coordinator.consumerGroups = new ConsumerGroupCoordinator(consumerGroupConfig(host.settings), store, host.metadata, coordinator, log)
  await coordinator.load()
  return coordinator
}
