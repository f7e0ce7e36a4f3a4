// Producer state of one partition (Kafka's ProducerStateManager): for each producer id, its
// epoch, the metadata of its last five batches, its coordinator epoch, the first offset of its
// ongoing transaction and the time of its last write.
//
// - A retried batch whose sequence range matches one of the last five is a duplicate and is
//   answered with its original offset; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is
//   a fenced zombie, INVALID_PRODUCER_EPOCH (`check`, called by the broker before appending).
// - Storage itself updates the state from the fixed header fields of every appended batch
//   (`onBatch`), so that replaying the log after a restart runs exactly the same code. Control
//   batches (transaction markers) end the producer's ongoing transaction.
// - Durable through snapshots (`encode`/`decode`, written by PartitionLog at segment roll and on
//   clean shutdown) plus replay of batch headers from the snapshot's offset to the log end.
// - Producers idle for producer.id.expiration.ms are forgotten, unless a transaction is open.

import { crc32c } from '@node-rs/crc32'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import { Attributes, BatchOffset, readInt64, writeInt64 } from '../protocol/record-batch.js'

export const MAX_TRACKED_BATCHES = 5
const NO_EPOCH = -1
const INT32_MAX = 2 ** 31 - 1

export interface BatchMetadata {
  firstSeq: number
  lastSeq: number
  firstOffset: number
  lastOffset: number
}

/** One producer as DescribeProducers shows it. */
export interface ProducerInfo {
  producerId: number
  producerEpoch: number
  /** Last sequence of the newest batch, -1 when none is tracked. */
  lastSequence: number
  lastTimestamp: number
  coordinatorEpoch: number
  /** First offset of the ongoing transaction, -1 when none. */
  currentTxnStartOffset: number
}

/** An aborted transaction as the transaction index stores it (Kafka's AbortedTxn). */
export interface AbortedTxn {
  producerId: number
  firstOffset: number
  /** Offset of the ABORT marker. */
  lastOffset: number
  lastStableOffset: number
}

/** What appending a control batch did to the producer's transaction. */
export interface CompletedTxn {
  producerId: number
  /** First offset of the transaction the marker ends; -1 when none was open. */
  firstOffset: number
  markerOffset: number
  aborted: boolean
}

export interface ProducerEntry {
  producerId: number
  epoch: number
  batches: BatchMetadata[]
  /** Max timestamp of its last batch or marker (producer.id.expiration.ms counts from here). */
  lastTimestamp: number
  coordinatorEpoch: number
  /** First offset of the ongoing transaction in this partition, -1 when none. */
  currentTxnFirstOffset: number
  /** The last marker, kept to undo it if its write fails. Not in snapshots. */
  lastMarker?: { offset: number; txnFirstOffset: number; coordinatorEpoch: number }
}

function nextSeq(seq: number): number {
  return seq === INT32_MAX ? 0 : seq + 1
}

const SNAPSHOT_VERSION = 1
const SNAPSHOT_HEADER = 2 + 4 + 8 + 4 // version, crc, offset, count
const ENTRY_FIXED = 8 + 2 + 4 + 8 + 8 + 1 // pid, epoch, coordinatorEpoch, txnFirstOffset, lastTimestamp, nbatches
const BATCH_ENTRY = 4 + 4 + 8 + 8

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>()
  /** Producers with an ongoing transaction in this partition → its first offset. */
  private readonly ongoing = new Map<number, number>()

  /**
   * Checks a batch before it is appended. Returns the original batch when this one is a
   * duplicate; throws a KafkaError when it must be refused.
   */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number): BatchMetadata | undefined {
    const entry = this.producers.get(producerId)
    if (!entry) return undefined
    if (epoch < entry.epoch) {
      throw new KafkaError(ErrorCode.INVALID_PRODUCER_EPOCH, `Epoch of producer ${producerId} is ${epoch}, older than the current ${entry.epoch}`)
    }
    if (epoch > entry.epoch) {
      if (firstSeq !== 0 && entry.epoch !== NO_EPOCH) {
        throw new KafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `Invalid sequence number ${firstSeq} for new epoch ${epoch} of producer ${producerId}: expected 0`)
      }
      return undefined
    }
    const duplicate = entry.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq)
    if (duplicate) return duplicate
    const last = entry.batches[entry.batches.length - 1]
    if (last && firstSeq !== nextSeq(last.lastSeq)) {
      throw new KafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `Out of order sequence number for producer ${producerId}: ${firstSeq} (incoming seq. number), ${last.lastSeq} (current end sequence number)`)
    }
    return undefined
  }

  /**
   * Checks a transaction marker before it is appended: an older producer epoch is
   * INVALID_PRODUCER_EPOCH, an older coordinator epoch TRANSACTION_COORDINATOR_FENCED.
   */
  checkMarker(producerId: number, epoch: number, coordinatorEpoch: number): void {
    const entry = this.producers.get(producerId)
    if (!entry) return
    if (epoch < entry.epoch) {
      throw new KafkaError(ErrorCode.INVALID_PRODUCER_EPOCH, `Marker epoch ${epoch} of producer ${producerId} is older than the current ${entry.epoch}`)
    }
    if (coordinatorEpoch < entry.coordinatorEpoch) {
      throw new KafkaError(ErrorCode.TRANSACTION_COORDINATOR_FENCED, `Coordinator epoch ${coordinatorEpoch} of the marker for producer ${producerId} is older than ${entry.coordinatorEpoch}`)
    }
  }

  /**
   * Updates the state from an appended batch (its base offset already assigned), from header
   * fields only. Control batches pass the marker's type and coordinator epoch (read from their
   * one record). Never throws: replay after a restart runs through here too. Returns the
   * transaction a marker completed.
   */
  onBatch(batch: Buffer, at = 0, marker?: { commit: boolean; coordinatorEpoch: number }): CompletedTxn | undefined {
    const producerId = readInt64(batch, at + BatchOffset.producerId)
    if (producerId < 0) return undefined
    const attributes = batch.readInt16BE(at + BatchOffset.attributes)
    const epoch = batch.readInt16BE(at + BatchOffset.producerEpoch)
    const firstOffset = readInt64(batch, at + BatchOffset.baseOffset)
    const lastOffsetDelta = batch.readInt32BE(at + BatchOffset.lastOffsetDelta)
    const lastOffset = firstOffset + lastOffsetDelta
    const timestamp = readInt64(batch, at + BatchOffset.maxTimestamp)
    let entry = this.producers.get(producerId)
    if (!entry) {
      entry = { producerId, epoch, batches: [], lastTimestamp: timestamp, coordinatorEpoch: -1, currentTxnFirstOffset: -1 }
      this.producers.set(producerId, entry)
    } else if (epoch !== entry.epoch) {
      entry.epoch = epoch
      entry.batches = []
    }
    if (timestamp > entry.lastTimestamp || timestamp < 0) entry.lastTimestamp = Math.max(timestamp, entry.lastTimestamp)
    if ((attributes & Attributes.control) !== 0) {
      if (!marker) return undefined // a control batch that is not a transaction marker
      const completed: CompletedTxn = { producerId, firstOffset: entry.currentTxnFirstOffset, markerOffset: firstOffset, aborted: !marker.commit }
      entry.lastMarker = { offset: firstOffset, txnFirstOffset: entry.currentTxnFirstOffset, coordinatorEpoch: entry.coordinatorEpoch }
      entry.coordinatorEpoch = marker.coordinatorEpoch
      entry.currentTxnFirstOffset = -1
      this.ongoing.delete(producerId)
      return completed
    }
    const baseSequence = batch.readInt32BE(at + BatchOffset.baseSequence)
    if (baseSequence >= 0) {
      const lastSeq = (baseSequence + lastOffsetDelta) % 2 ** 31
      this.push(entry, { firstSeq: baseSequence, lastSeq, firstOffset, lastOffset })
    }
    if ((attributes & Attributes.transactional) !== 0 && entry.currentTxnFirstOffset < 0) {
      entry.currentTxnFirstOffset = firstOffset
      this.ongoing.set(producerId, firstOffset)
    }
    return undefined
  }

  private push(entry: ProducerEntry, batch: BatchMetadata): void {
    entry.batches.push(batch)
    if (entry.batches.length > MAX_TRACKED_BATCHES) entry.batches.shift()
  }

  /**
   * Records an appended batch. Storage records every batch itself on append; this is kept for
   * callers and tests and does nothing for a batch already recorded.
   */
  record(producerId: number, epoch: number, batch: BatchMetadata, now = Date.now()): void {
    let entry = this.producers.get(producerId)
    if (entry && entry.epoch === epoch && entry.batches.some((b) => b.firstOffset === batch.firstOffset || b.lastOffset >= batch.lastOffset)) return
    if (!entry || epoch > entry.epoch) {
      entry = { producerId, epoch, batches: [], lastTimestamp: now, coordinatorEpoch: entry?.coordinatorEpoch ?? -1, currentTxnFirstOffset: entry?.currentTxnFirstOffset ?? -1 }
      this.producers.set(producerId, entry)
    }
    this.push(entry, batch)
    entry.lastTimestamp = now
  }

  /**
   * Formerly: forget a producer whose last append failed. Storage now rolls its state back itself
   * (`truncateFrom`), so this only drops an entry left with nothing in it.
   */
  forget(producerId: number): void {
    const e = this.producers.get(producerId)
    if (e && e.batches.length === 0 && e.currentTxnFirstOffset < 0) this.producers.delete(producerId)
  }

  /**
   * Undoes batches at or after `offset` whose write failed (they are gone from the log): their
   * batch metadata, transactions they opened, and markers (the transaction they ended reopens).
   */
  truncateFrom(offset: number): void {
    for (const [id, e] of this.producers) {
      while (e.batches.length > 0 && e.batches[e.batches.length - 1].firstOffset >= offset) e.batches.pop()
      if (e.lastMarker && e.lastMarker.offset >= offset) {
        e.currentTxnFirstOffset = e.lastMarker.txnFirstOffset < offset ? e.lastMarker.txnFirstOffset : -1
        e.coordinatorEpoch = e.lastMarker.coordinatorEpoch
        e.lastMarker = undefined
      } else if (e.currentTxnFirstOffset >= offset) {
        e.currentTxnFirstOffset = -1
      }
      if (e.currentTxnFirstOffset >= 0) this.ongoing.set(id, e.currentTxnFirstOffset)
      else this.ongoing.delete(id)
      if (e.batches.length === 0 && e.currentTxnFirstOffset < 0 && e.coordinatorEpoch < 0) this.producers.delete(id)
    }
  }

  /** Forgets producers whose last write is older than `olderThan`, except those in a transaction. */
  expire(olderThan: number): number {
    let n = 0
    for (const [id, e] of this.producers) {
      if (e.lastTimestamp < olderThan && e.currentTxnFirstOffset < 0) {
        this.producers.delete(id)
        n++
      }
    }
    return n
  }

  /** Starts over (before reloading from a snapshot and replay). */
  clear(): void {
    this.producers.clear()
    this.ongoing.clear()
  }

  get size(): number {
    return this.producers.size
  }

  get(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId)
  }

  /** Smallest first offset of an ongoing transaction, or Infinity. */
  get firstUnstableOffset(): number {
    let min = Infinity
    for (const o of this.ongoing.values()) if (o < min) min = o
    return min
  }

  /** Smallest first offset among ongoing transactions other than `producerId`'s, or Infinity. */
  firstUnstableOffsetExcept(producerId: number): number {
    let min = Infinity
    for (const [id, o] of this.ongoing) if (id !== producerId && o < min) min = o
    return min
  }

  /** For DescribeProducers. */
  activeProducers(): ProducerInfo[] {
    const out: ProducerInfo[] = []
    for (const e of this.producers.values()) {
      const last = e.batches[e.batches.length - 1]
      out.push({
        producerId: e.producerId,
        producerEpoch: e.epoch,
        lastSequence: last ? last.lastSeq : -1,
        lastTimestamp: e.lastTimestamp,
        coordinatorEpoch: e.coordinatorEpoch,
        currentTxnStartOffset: e.currentTxnFirstOffset,
      })
    }
    return out
  }

  // ------------------------------------------------------------------ snapshots

  /**
   * Snapshot of the state (after everything before `offset`):
   *   version int16, crc32c uint32 (of the bytes after it), offset int64, count int32, then per
   *   producer: producerId int64, epoch int16, coordinatorEpoch int32, currentTxnFirstOffset
   *   int64, lastTimestamp int64, batch count int8, batches (firstSeq int32, lastSeq int32,
   *   firstOffset int64, lastOffset int64).
   */
  encode(offset: number): Buffer {
    let size = SNAPSHOT_HEADER
    for (const e of this.producers.values()) size += ENTRY_FIXED + e.batches.length * BATCH_ENTRY
    const buf = Buffer.alloc(size)
    buf.writeInt16BE(SNAPSHOT_VERSION, 0)
    writeInt64(buf, 6, offset)
    buf.writeInt32BE(this.producers.size, 14)
    let at = SNAPSHOT_HEADER
    for (const e of this.producers.values()) {
      writeInt64(buf, at, e.producerId)
      buf.writeInt16BE(e.epoch, at + 8)
      buf.writeInt32BE(e.coordinatorEpoch, at + 10)
      writeInt64(buf, at + 14, e.currentTxnFirstOffset)
      writeInt64(buf, at + 22, e.lastTimestamp)
      buf.writeInt8(e.batches.length, at + 30)
      at += ENTRY_FIXED
      for (const b of e.batches) {
        buf.writeInt32BE(b.firstSeq, at)
        buf.writeInt32BE(b.lastSeq, at + 4)
        writeInt64(buf, at + 8, b.firstOffset)
        writeInt64(buf, at + 16, b.lastOffset)
        at += BATCH_ENTRY
      }
    }
    buf.writeUInt32BE(crc32c(buf.subarray(6)), 2)
    return buf
  }

  /** Replaces the state by a snapshot's; returns its offset. Throws on a corrupt snapshot. */
  load(buf: Buffer): number {
    if (buf.length < SNAPSHOT_HEADER) throw new Error('producer snapshot too short')
    if (buf.readInt16BE(0) !== SNAPSHOT_VERSION) throw new Error(`unknown producer snapshot version ${buf.readInt16BE(0)}`)
    if (crc32c(buf.subarray(6)) !== buf.readUInt32BE(2)) throw new Error('producer snapshot CRC mismatch')
    const offset = readInt64(buf, 6)
    const count = buf.readInt32BE(14)
    const producers: ProducerEntry[] = []
    let at = SNAPSHOT_HEADER
    for (let i = 0; i < count; i++) {
      if (at + ENTRY_FIXED > buf.length) throw new Error('producer snapshot truncated')
      const e: ProducerEntry = {
        producerId: readInt64(buf, at),
        epoch: buf.readInt16BE(at + 8),
        coordinatorEpoch: buf.readInt32BE(at + 10),
        currentTxnFirstOffset: readInt64(buf, at + 14),
        lastTimestamp: readInt64(buf, at + 22),
        batches: [],
      }
      const n = buf.readInt8(at + 30)
      at += ENTRY_FIXED
      if (at + n * BATCH_ENTRY > buf.length) throw new Error('producer snapshot truncated')
      for (let k = 0; k < n; k++) {
        e.batches.push({ firstSeq: buf.readInt32BE(at), lastSeq: buf.readInt32BE(at + 4), firstOffset: readInt64(buf, at + 8), lastOffset: readInt64(buf, at + 16) })
        at += BATCH_ENTRY
      }
      producers.push(e)
    }
    this.clear()
    for (const e of producers) {
      this.producers.set(e.producerId, e)
      if (e.currentTxnFirstOffset >= 0) this.ongoing.set(e.producerId, e.currentTxnFirstOffset)
    }
    return offset
  }
}
