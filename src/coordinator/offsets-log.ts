// The coordinator's durable state: records of the internal compacted topic __consumer_offsets.
// Keys follow Kafka's layout, so compaction keeps the last value per key and tools that read the
// topic recognise it: an offset commit key is (int16 version 1, group, topic, int32 partition),
// a group metadata key is (int16 version 2, group). Values are our own JSON (not the hot path);
// a null value is a tombstone. A group lives in the partition its id hashes to, as in Kafka.

import { ErrorCode, KafkaError } from '../protocol/errors.js'
import { ControlType, buildBatchSync, readBatchHeader, readControlRecord, readRecords } from '../protocol/records.js'
import type { PartitionLog } from '../storage/index.js'

export const OFFSETS_TOPIC = '__consumer_offsets'

const OFFSET_KEY_V0 = 0
const OFFSET_KEY_V1 = 1
const GROUP_KEY = 2

export interface OffsetValue {
  offset: number
  leaderEpoch: number
  metadata: string | null
  commitTimestamp: number
  /** Explicit expiry from OffsetCommit v2-4 retentionTimeMs; -1 when the default retention applies. */
  expireTimestamp: number
}

export interface GroupValue {
  protocolType: string
  generationId: number
  protocolName: string | null
  leader: string | null
  /** When the group entered its current state (for Empty groups: when offsets start to age). */
  stateTimestamp: number
  members: GroupMemberValue[]
}

/**
 * A member of a classic group as its group record keeps it (Kafka's MemberMetadata in
 * GroupMetadataValue): enough to restore the member when another broker loads the group. Records
 * written before members were restored lack the optional fields; such a group loads Empty.
 */
export interface GroupMemberValue {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  rebalanceTimeoutMs?: number
  sessionTimeoutMs?: number
  /** The member's metadata for the group's protocol (its subscription), base64. */
  subscription?: string
  /** The member's assignment from the group leader, base64. */
  assignment?: string
}

export type CoordinatorRecord =
  | { type: 'offset'; group: string; topic: string; partition: number; value: OffsetValue | null }
  | { type: 'group'; group: string; value: GroupValue | null }

export interface KeyValue {
  key: Buffer
  value: Buffer | null
}

function writeString(parts: Buffer[], s: string): void {
  const b = Buffer.from(s, 'utf8')
  const len = Buffer.alloc(2)
  len.writeInt16BE(b.length)
  parts.push(len, b)
}

export function encodeRecord(r: CoordinatorRecord): KeyValue {
  const parts: Buffer[] = []
  const version = Buffer.alloc(2)
  if (r.type === 'offset') {
    version.writeInt16BE(OFFSET_KEY_V1)
    parts.push(version)
    writeString(parts, r.group)
    writeString(parts, r.topic)
    const p = Buffer.alloc(4)
    p.writeInt32BE(r.partition)
    parts.push(p)
  } else {
    version.writeInt16BE(GROUP_KEY)
    parts.push(version)
    writeString(parts, r.group)
  }
  return { key: Buffer.concat(parts), value: r.value === null ? null : Buffer.from(JSON.stringify(r.value), 'utf8') }
}

/** Decodes one record of the topic; null for keys this version does not know. */
export function decodeRecord(key: Buffer, value: Buffer | null): CoordinatorRecord | null {
  let pos = 0
  const str = (): string => {
    const n = key.readInt16BE(pos)
    pos += 2
    if (n < 0 || pos + n > key.length) throw new RangeError('bad string in key')
    const s = key.toString('utf8', pos, pos + n)
    pos += n
    return s
  }
  const version = key.readInt16BE(0)
  pos = 2
  if (version === OFFSET_KEY_V0 || version === OFFSET_KEY_V1) {
    const group = str()
    const topic = str()
    const partition = key.readInt32BE(pos)
    return { type: 'offset', group, topic, partition, value: value === null ? null : (JSON.parse(value.toString('utf8')) as OffsetValue) }
  }
  if (version === GROUP_KEY) {
    const group = str()
    return { type: 'group', group, value: value === null ? null : (JSON.parse(value.toString('utf8')) as GroupValue) }
  }
  return null
}

/** Java's String.hashCode, so a group maps to the same partition as in Kafka. */
export function javaStringHash(s: string): number {
  let h = 0
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0
  return h
}

/** Kafka's `Utils.abs(groupId.hashCode) % partitions`. */
export function partitionFor(groupId: string, partitions: number): number {
  const h = javaStringHash(groupId)
  const abs = h === -2147483648 ? 0 : Math.abs(h)
  return abs % partitions
}

/** The producer of transactional offset commits (TxnOffsetCommit): its records form a transactional batch. */
export interface TxnProducer {
  producerId: number
  producerEpoch: number
}

/** Where the coordinator's records go: one partition per group, written and replayed in order. */
export interface GroupStore {
  readonly partitions: number
  /** Appends records to a partition (as a transactional batch when txn is given); resolves once they are durable as the log defines it. */
  append(partition: number, records: KeyValue[], txn?: TxnProducer): Promise<void>
  /**
   * Calls fn with every record of a partition, oldest first, with the producer id of its batch
   * when the batch is transactional (-1 otherwise); onMarker with every transaction marker.
   */
  replay(partition: number, fn: (key: Buffer, value: Buffer | null, txnProducerId: number) => void, onMarker?: (producerId: number, commit: boolean) => void): Promise<void>
}

type StoredRecord = KeyValue & { producerId?: number; marker?: boolean }

/** The store for tests: records kept in memory, replayable like the log. */
export class MemoryGroupStore implements GroupStore {
  readonly logs: StoredRecord[][]
  failNext: KafkaError | null = null
  /** While set, replays wait for it before reading (tests of COORDINATOR_LOAD_IN_PROGRESS). */
  replayGate: Promise<void> | null = null

  constructor(readonly partitions = 1) {
    this.logs = Array.from({ length: partitions }, () => [])
  }

  async append(partition: number, records: KeyValue[], txn?: TxnProducer): Promise<void> {
    await Promise.resolve()
    if (this.failNext) {
      const e = this.failNext
      this.failNext = null
      throw e
    }
    this.logs[partition]!.push(...records.map((r) => (txn ? { ...r, producerId: txn.producerId } : r)))
  }

  /** A transaction marker, as the transaction coordinator writes it (tests). */
  appendMarker(partition: number, producerId: number, commit: boolean): void {
    this.logs[partition]!.push({ key: Buffer.alloc(0), value: null, producerId, marker: commit })
  }

  async replay(partition: number, fn: (key: Buffer, value: Buffer | null, txnProducerId: number) => void, onMarker?: (producerId: number, commit: boolean) => void): Promise<void> {
    if (this.replayGate) await this.replayGate
    for (const r of [...this.logs[partition]!]) {
      if (r.marker !== undefined) onMarker?.(r.producerId!, r.marker)
      else fn(r.key, r.value, r.producerId ?? -1)
    }
  }
}

const REPLAY_READ_BYTES = 4 * 1024 * 1024

/**
 * Writes batches to a partition this broker leads and resolves once they are committed
 * (replicated: the high watermark is past them); rejects with NOT_LEADER_OR_FOLLOWER and the like
 * otherwise. The broker's appendCommitted.
 */
export type CommittedAppend = (partition: number, batches: Buffer[]) => Promise<unknown>

/**
 * The store over the partitions of an internal topic (__consumer_offsets, __transaction_state):
 * writes go through the broker's committed (replicated) append, replays read the local replica.
 */
export class LogGroupStore implements GroupStore {
  constructor(
    readonly partitions: number,
    private readonly partitionLog: (partition: number) => PartitionLog | undefined,
    private readonly appendCommitted: CommittedAppend,
  ) {}

  private log(partition: number): PartitionLog {
    const log = this.partitionLog(partition)
    if (!log) throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `partition ${partition} of the coordinator's topic is not available here`)
    return log
  }

  async append(partition: number, records: KeyValue[], txn?: TxnProducer): Promise<void> {
    const batch = buildBatchSync({
      records: records.map((r) => ({ key: r.key, value: r.value })),
      ...(txn ? { producerId: txn.producerId, producerEpoch: txn.producerEpoch, transactional: true } : {}),
    })
    await this.appendCommitted(partition, [batch])
  }

  async replay(partition: number, fn: (key: Buffer, value: Buffer | null, txnProducerId: number) => void, onMarker?: (producerId: number, commit: boolean) => void): Promise<void> {
    const log = this.log(partition)
    let offset = log.logStartOffset
    const end = log.writtenEndOffset
    while (offset < end) {
      const { batches } = await log.read(offset, REPLAY_READ_BYTES, end)
      if (batches.length === 0) break
      for (const batch of batches) {
        const h = readBatchHeader(batch)
        const next = h.baseOffset + h.lastOffsetDelta + 1
        if (next <= offset) continue
        offset = next
        if (h.isControl) {
          if (!onMarker) continue
          for (const r of readRecords(batch)) {
            const c = readControlRecord(r)
            if (c.type === ControlType.COMMIT || c.type === ControlType.ABORT) onMarker(h.producerId, c.type === ControlType.COMMIT)
          }
          continue
        }
        const txnProducerId = h.isTransactional ? h.producerId : -1
        for (const r of readRecords(batch)) {
          if (r.key) fn(r.key, r.value, txnProducerId)
        }
      }
    }
  }
}
