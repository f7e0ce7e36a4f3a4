// Public entry of the transaction coordinator: creates __transaction_state when missing
// (compacted, internal) and returns the coordinator, serving no partition yet: the broker calls
// becomeLeader for the partitions it leads (onInternalLeadershipChange in ../index.ts). Its
// records are written with the broker's appendCommitted (replicated); transaction markers go to
// each partition's leader: this broker's log (PartitionLog.appendControl, then waitCommitted) or
// WriteTxnMarkers.

import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import type { PartitionLog } from '../../storage/index.js'
import type { GroupCoordinator, Logger } from '../group-coordinator.js'
import { ensureInternalTopic, type CreateTopics, type InternalTopicHost } from '../internal-topics.js'
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

/** What the transaction coordinator needs of its broker (the Broker satisfies it). */
export interface TxnHost extends InternalTopicHost {
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
  /** Resolves once the high watermark of a partition this broker leads reaches endOffset (see Broker.waitCommitted). */
  waitCommitted(topic: string, partition: number, endOffset: number): Promise<void>
  isLeader(topic: string, partition: number): boolean
  leaderEndpoint(topic: string, partition: number): { nodeId: number; host: string; port: number } | null
}

/**
 * Writes one marker into this broker's replica of a partition it leads; for a partition of
 * __consumer_offsets the group coordinator then turns the producer's pending offsets into
 * committed ones (or drops them). False when there is nothing to end there: the partition is
 * gone, or the log already holds a newer epoch of the producer (the marker is stale, as Kafka's
 * coordinator then gives up on it). A replica this broker does not lead refuses it with
 * NOT_LEADER_OR_FOLLOWER. The write is PartitionLog.appendControl, and the marker counts as
 * written once it is replicated (the high watermark passes it), like every coordinator write:
 * a leadership lost meanwhile rejects with NOT_LEADER_OR_FOLLOWER (the coordinator retries at the
 * new leader).
 */
export async function writeMarker(host: Pick<TxnHost, 'partition' | 'notifyAppend' | 'groups' | 'isLeader' | 'waitCommitted'>, topic: string, partition: number, m: TxnMarker): Promise<boolean> {
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
  host.notifyAppend(topic, partition, 1) // followers fetch it; the high watermark moves when the ISR has it
  await host.waitCommitted(topic, partition, appended.lastOffset + 1)
  if (topic === OFFSETS_TOPIC) host.groups.completeTransaction(m.producerId, m.commit, partition)
  return true
}

/**
 * Creates __transaction_state when missing (compacted, internal,
 * `transaction.state.log.replication.factor` replicas, at most the live brokers, and
 * min.insync.replicas `transaction.state.log.min.isr`, at most that factor, as Kafka sets it);
 * returns its partition count.
 */
export function ensureTxnTopic(host: InternalTopicHost): Promise<{ partitions: number }> {
  const config = txnConfig(host.settings)
  return ensureInternalTopic(host, {
    name: TXN_TOPIC,
    partitions: config.logPartitions,
    replicationFactor: config.logReplicationFactor,
    replicationSetting: 'transaction.state.log.replication.factor',
    configs: (replicationFactor) => ({
      'cleanup.policy': 'compact',
      'segment.bytes': String(config.logSegmentBytes),
      'compression.type': 'uncompressed',
      'min.insync.replicas': String(Math.max(1, Math.min(config.logMinIsr, replicationFactor))),
    }),
  })
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
