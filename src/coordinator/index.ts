// Public entry of the coordinators: classic consumer groups and their committed offsets, kept in
// the internal compacted topic __consumer_offsets. The broker opens one after its logs.

import { groupConfig } from './config.js'
import { GroupCoordinator, type Logger } from './group-coordinator.js'
import { LogGroupStore, OFFSETS_TOPIC } from './offsets-log.js'
import type { PartitionLog } from '../storage/index.js'

export { GroupCoordinator, parseSubscriptionTopics } from './group-coordinator.js'
export type { GroupState, JoinRequest, JoinResult, SyncRequest, SyncResult, LeaveResult, CommitRequest, FetchedOffset, GroupDescription, GroupListing, MemberIdentity, Protocol } from './group-coordinator.js'
export { groupConfig, groupSettingDefs } from './config.js'
export type { GroupConfig, GroupSettingDef } from './config.js'
export { OFFSETS_TOPIC, MemoryGroupStore, LogGroupStore, partitionFor } from './offsets-log.js'
export type { GroupStore } from './offsets-log.js'

/** What the coordinator needs of its broker (the Broker satisfies it). */
export interface GroupHost {
  readonly settings: Record<string, string>
  readonly log: Logger & { child?(bindings: Record<string, unknown>): Logger }
  readonly metadata: { topic(name: string): { partitions: number } | undefined }
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
  await coordinator.load()
  return coordinator
}
