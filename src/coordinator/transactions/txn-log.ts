// Records of the internal compacted topic __transaction_state. The key is Kafka's
// TransactionLogKey v0 (int16 version 0, string transactional id), so compaction keeps the last
// state per id; the value is our own JSON (not the hot path), null for a tombstone (an expired id).
// A transactional id lives in the partition its id hashes to, as in Kafka.

import type { KeyValue } from '../offsets-log.js'

export const TXN_TOPIC = '__transaction_state'

export const TXN_STATES = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'Dead', 'PrepareEpochFence'] as const
export type TxnState = (typeof TXN_STATES)[number]

export interface TxnLogValue {
  producerId: number
  lastProducerId: number
  producerEpoch: number
  lastProducerEpoch: number
  timeoutMs: number
  state: TxnState
  partitions: { topic: string; partitions: number[] }[]
  txnStartTimestamp: number
  txnLastUpdateTimestamp: number
}

export interface TxnRecord {
  transactionalId: string
  value: TxnLogValue | null
}

const KEY_VERSION = 0

export function encodeTxnRecord(r: TxnRecord): KeyValue {
  const id = Buffer.from(r.transactionalId, 'utf8')
  const key = Buffer.alloc(4 + id.length)
  key.writeInt16BE(KEY_VERSION, 0)
  key.writeInt16BE(id.length, 2)
  id.copy(key, 4)
  return { key, value: r.value === null ? null : Buffer.from(JSON.stringify(r.value), 'utf8') }
}

/** Decodes one record; null for key versions this code does not know. */
export function decodeTxnRecord(key: Buffer, value: Buffer | null): TxnRecord | null {
  if (key.length < 4) throw new RangeError('transaction log key too short')
  if (key.readInt16BE(0) !== KEY_VERSION) return null
  const n = key.readInt16BE(2)
  if (n < 0 || 4 + n > key.length) throw new RangeError('bad transactional id in key')
  const transactionalId = key.toString('utf8', 4, 4 + n)
  return { transactionalId, value: value === null ? null : (JSON.parse(value.toString('utf8')) as TxnLogValue) }
}
