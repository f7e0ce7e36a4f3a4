// Creation of the coordinators' internal topics (__consumer_offsets, __transaction_state), as
// Kafka's AutoTopicCreationManager does for them: compacted, with the partition count and
// replication factor of the broker settings. Kafka refuses to create one while fewer brokers are
// alive than its replication factor asks for; here the factor is capped at the live brokers (with
// a warning), so a standalone broker, or a cluster smaller than the setting, keeps working.
//
// Brokers of a cluster usually start together, and the first one to open its coordinators may
// see only itself registered: a broker with a controller elsewhere (`controller.endpoints`) waits
// a while for more brokers before it settles for fewer replicas. This only happens when the topic
// does not exist yet, i.e. on a cluster's first start.

import { ErrorCode, KafkaError } from '../protocol/errors.js'
import type { Logger } from './group-coordinator.js'

export type CreateTopics = (requests: { name: string; partitions: number; replicationFactor: number; configs: Record<string, string> }[]) => Promise<Array<{ error: Error } | { topic: unknown }>>

/** What creating an internal topic needs of the broker (the Broker satisfies it). */
export interface InternalTopicHost {
  readonly settings: Record<string, string>
  readonly log: Logger
  readonly metadata: { topic(name: string): { partitions: number } | undefined }
  /** Brokers registered and not fenced now (the Broker's liveBrokerCount). */
  readonly liveBrokerCount: number
  createTopics: CreateTopics
}

export interface InternalTopicSpec {
  name: string
  partitions: number
  /** The replication factor the settings ask for, and the setting's name (for the warning). */
  replicationFactor: number
  replicationSetting: string
  /** The topic's configs for the replication factor it gets. */
  configs: (replicationFactor: number) => Record<string, string>
}

/** How long a clustered broker waits for enough brokers before creating an internal topic with fewer replicas. */
export const INTERNAL_TOPIC_BROKER_WAIT_MS = 10_000
const POLL_MS = 100

function clustered(host: InternalTopicHost): boolean {
  return (host.settings['controller.endpoints'] ?? '').trim() !== ''
}

/** Creates the topic when missing (or returns it); rejects when the controller refuses it. */
export async function ensureInternalTopic(host: InternalTopicHost, spec: InternalTopicSpec, waitMs = INTERNAL_TOPIC_BROKER_WAIT_MS): Promise<{ partitions: number }> {
  const existing = host.metadata.topic(spec.name)
  if (existing) return existing
  const wanted = Math.max(1, Math.floor(spec.replicationFactor))
  if (clustered(host) && host.liveBrokerCount < wanted) {
    const until = Date.now() + waitMs
    while (host.liveBrokerCount < wanted && !host.metadata.topic(spec.name) && Date.now() < until) await new Promise((r) => setTimeout(r, POLL_MS))
    const created = host.metadata.topic(spec.name)
    if (created) return created // by another broker meanwhile
  }
  let replicationFactor = Math.max(1, Math.min(wanted, host.liveBrokerCount))
  for (;;) {
    if (replicationFactor < wanted) {
      host.log.warn(
        { topic: spec.name, [spec.replicationSetting]: wanted, liveBrokers: host.liveBrokerCount, replicationFactor },
        `${spec.replicationSetting} is ${wanted} but ${host.liveBrokerCount} broker(s) are alive: ${spec.name} is created with replication factor ${replicationFactor} (Kafka would refuse to create it); set ${spec.replicationSetting} to the cluster's size to silence this`,
      )
    }
    const [outcome] = await host.createTopics([{ name: spec.name, partitions: spec.partitions, replicationFactor, configs: spec.configs(replicationFactor) }])
    const topic = host.metadata.topic(spec.name)
    if (topic) return topic // created, or by a concurrent call
    const error = outcome && 'error' in outcome ? outcome.error : undefined
    // The controller saw fewer live brokers than this broker's image did: settle for fewer.
    if (error instanceof KafkaError && error.code === ErrorCode.INVALID_REPLICATION_FACTOR.code && replicationFactor > 1) {
      replicationFactor--
      continue
    }
    if (error) throw error
    throw new Error(`${spec.name} was not created`)
  }
}
