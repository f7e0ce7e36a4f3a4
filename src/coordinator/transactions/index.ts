// Public entry of the transaction coordinator: creates __transaction_state when missing
// (compacted, internal), replays it, and writes transaction markers straight into this broker's
// partition logs (every partition is local on one broker; replication will send WriteTxnMarkers).

import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import type { PartitionLog } from '../../storage/index.js'
import type { GroupCoordinator, Logger } from '../group-coordinator.js'
import { LogGroupStore, OFFSETS_TOPIC } from '../offsets-log.js'
import { txnConfig } from './config.js'
import { TransactionCoordinator, type MarkerTarget, type TxnMarker } from './coordinator.js'
import { TXN_TOPIC } from './txn-log.js'

export { TransactionCoordinator, COORDINATOR_EPOCH, isEpochExhausted } from './coordinator.js'
export type { MarkerTarget, TxnMarker, TxnMetadata, InitProducerIdResult, DescribedTransaction, ListedTransaction } from './coordinator.js'
export { txnConfig, txnSettingDefs } from './config.js'
export type { TxnConfig, TxnSettingDef } from './config.js'
export { TXN_TOPIC, TXN_STATES, encodeTxnRecord, decodeTxnRecord } from './txn-log.js'
export type { TxnState, TxnLogValue, TxnRecord } from './txn-log.js'

/** What the transaction coordinator needs of its broker (the Broker satisfies it). */
export interface TxnHost {
  readonly settings: Record<string, string>
  readonly log: Logger & { child?(bindings: Record<string, unknown>): Logger }
  readonly metadata: { topic(name: string): { partitions: number } | undefined; allocateProducerId(): number }
  readonly groups: GroupCoordinator
  createTopics(requests: { name: string; partitions: number; replicationFactor: number; configs: Record<string, string> }[]): Promise<Array<{ error: Error } | { topic: unknown }>>
  partition(topic: string, partition: number): PartitionLog | undefined
  notifyAppend(topic: string, partition: number, bytes: number): void
}

/**
 * Writes one marker into a partition log; for a partition of __consumer_offsets the group
 * coordinator then turns the producer's pending offsets into committed ones (or drops them).
 * False when there is nothing to end there: the partition is gone, or the log already holds a
 * newer epoch of the producer (the marker is stale, as Kafka's coordinator then gives up on it).
 */
export async function writeMarker(host: Pick<TxnHost, 'partition' | 'notifyAppend' | 'groups'>, topic: string, partition: number, m: TxnMarker): Promise<boolean> {
  const log = host.partition(topic, partition)
  if (!log) return false
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

export async function openTransactionCoordinator(host: TxnHost): Promise<TransactionCoordinator> {
  const config = txnConfig(host.settings)
  let topic = host.metadata.topic(TXN_TOPIC)
  if (!topic) {
    const [outcome] = await host.createTopics([
      {
        name: TXN_TOPIC,
        partitions: config.logPartitions,
        replicationFactor: 1,
        configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(config.logSegmentBytes), 'compression.type': 'uncompressed' },
      },
    ])
    if (outcome && 'error' in outcome) throw outcome.error
    topic = host.metadata.topic(TXN_TOPIC)
    if (!topic) throw new Error(`${TXN_TOPIC} was not created`)
  }
  const log = host.log.child ? host.log.child({ component: 'transactions' }) : host.log
  const store = new LogGroupStore(topic.partitions, (p) => host.partition(TXN_TOPIC, p))
  const markers: MarkerTarget = { writeMarker: (t, p, m) => writeMarker(host, t, p, m) }
  const coordinator = new TransactionCoordinator(config, store, markers, () => host.metadata.allocateProducerId(), log)
  await coordinator.load()
  return coordinator
}
