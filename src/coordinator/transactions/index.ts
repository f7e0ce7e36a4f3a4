// Public entry of the transaction coordinator: creates __transaction_state when missing
// (compacted, internal) and returns the coordinator, serving no partition yet: the broker calls
// becomeLeader for the partitions it leads (onInternalLeadershipChange in ../index.ts). Its
// records are written with the broker's appendCommitted (replicated); transaction markers go to
// each partition's leader: this broker's log (PartitionLog.appendControl) or WriteTxnMarkers.

import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import type { PartitionLog } from '../../storage/index.js'
import type { GroupCoordinator, Logger } from '../group-coordinator.js'
import { LogGroupStore, OFFSETS_TOPIC } from '../offsets-log.js'
import { txnConfig } from './config.js'
import { TransactionCoordinator, type TxnMarker } from './coordinator.js'
import { MarkerRouter } from './markers.js'
import { TXN_TOPIC } from './txn-log.js'

export { TransactionCoordinator, COORDINATOR_EPOCH, isEpochExhausted } from './coordinator.js'
export type { MarkerTarget, TxnMarker, TxnMetadata, InitProducerIdResult, DescribedTransaction, ListedTransaction } from './coordinator.js'
export { MarkerRouter } from './markers.js'
export type { MarkerRoutes, Endpoint } from './markers.js'
export { txnConfig, txnSettingDefs } from './config.js'
export type { TxnConfig, TxnSettingDef } from './config.js'
export { TXN_TOPIC, TXN_STATES, encodeTxnRecord, decodeTxnRecord } from './txn-log.js'
export type { TxnState, TxnLogValue, TxnRecord } from './txn-log.js'

type CreateTopics = (requests: { name: string; partitions: number; replicationFactor: number; configs: Record<string, string> }[]) => Promise<Array<{ error: Error } | { topic: unknown }>>

/** What the transaction coordinator needs of its broker (the Broker satisfies it). */
export interface TxnHost {
  readonly brokerId?: number
  readonly settings: Record<string, string>
  readonly log: Logger & { child?(bindings: Record<string, unknown>): Logger }
  readonly metadata: { topic(name: string): { partitions: number } | undefined; allocateProducerId(): number }
  readonly groups: GroupCoordinator
  createTopics: CreateTopics
  partition(topic: string, partition: number): PartitionLog | undefined
  notifyAppend(topic: string, partition: number, bytes: number): void
  /** Appends to a partition this broker leads; resolves once replicated (see Broker.appendCommitted). */
  appendCommitted(topic: string, partition: number, batches: Buffer[]): Promise<unknown>
  isLeader(topic: string, partition: number): boolean
  leaderEndpoint(topic: string, partition: number): { nodeId: number; host: string; port: number } | null
}

/**
 * Writes one marker into this broker's replica of a partition it leads; for a partition of
 * __consumer_offsets the group coordinator then turns the producer's pending offsets into
 * committed ones (or drops them). False when there is nothing to end there: the partition is
 * gone, or the log already holds a newer epoch of the producer (the marker is stale, as Kafka's
 * coordinator then gives up on it). A replica this broker does not lead refuses it with
 * NOT_LEADER_OR_FOLLOWER. The write is PartitionLog.appendControl: durable in the local log,
 * not waited on for replication (see the coordinator README).
 */
export async function writeMarker(host: Pick<TxnHost, 'partition' | 'notifyAppend' | 'groups' | 'isLeader'>, topic: string, partition: number, m: TxnMarker): Promise<boolean> {
  const log = host.partition(topic, partition)
  if (!log) return false
  if (!host.isLeader(topic, partition)) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${topic}-${partition}: this broker is not its leader, the transaction marker goes to the leader`)
  let appended
  try {
    appended = log.appendControl({ producerId: m.producerId, producerEpoch: m.producerEpoch, type: m.commit ? 'COMMIT' : 'ABORT', coordinatorEpoch: m.coordinatorEpoch })
  } catch (err) {
    if (err instanceof KafkaError && (err.code === ErrorCode.INVALID_PRODUCER_EPOCH.code || err.code === ErrorCode.TRANSACTION_COORDINATOR_FENCED.code)) return false
    throw err
  }
  await appended.done
  host.notifyAppend(topic, partition, 1) // the marker may have made a transaction's records readable (read_committed)
  if (topic === OFFSETS_TOPIC) host.groups.completeTransaction(m.producerId, m.commit, partition)
  return true
}

/** Creates __transaction_state when missing; returns its partition count. */
export async function ensureTxnTopic(host: Pick<TxnHost, 'settings' | 'createTopics'> & { readonly metadata: { topic(name: string): { partitions: number } | undefined } }): Promise<{ partitions: number }> {
  const existing = host.metadata.topic(TXN_TOPIC)
  if (existing) return existing
  const config = txnConfig(host.settings)
  const [outcome] = await host.createTopics([
    {
      name: TXN_TOPIC,
      partitions: config.logPartitions,
      replicationFactor: 1,
      configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(config.logSegmentBytes), 'compression.type': 'uncompressed' },
    },
  ])
  const topic = host.metadata.topic(TXN_TOPIC)
  if (topic) return topic // created, or by a concurrent call
  if (outcome && 'error' in outcome) throw outcome.error
  throw new Error(`${TXN_TOPIC} was not created`)
}

/**
 * Creates __transaction_state when missing and returns the coordinator, serving no partition
 * until becomeLeader is called for the partitions this broker leads.
 */
export async function openTransactionCoordinator(host: TxnHost): Promise<TransactionCoordinator> {
  const config = txnConfig(host.settings)
  const topic = await ensureTxnTopic(host)
  const log = host.log.child ? host.log.child({ component: 'transactions' }) : host.log
  const store = new LogGroupStore(topic.partitions, (p) => host.partition(TXN_TOPIC, p), (p, batches) => host.appendCommitted(TXN_TOPIC, p, batches))
  const markers = new MarkerRouter(
    {
      topicExists: (t) => host.metadata.topic(t) !== undefined,
      isLeader: (t, p) => host.isLeader(t, p),
      leaderEndpoint: (t, p) => host.leaderEndpoint(t, p),
      writeLocal: (t, p, m) => writeMarker(host, t, p, m),
    },
    `fjord-txn-coordinator-${host.brokerId ?? 0}`,
    log,
  )
  return new TransactionCoordinator(config, store, markers, () => host.metadata.allocateProducerId(), log)
}
