// One log segment: `<baseOffset>.log` holding record batches in the wire format, plus its sparse
// offset index (`.index`: relative offset int32, position int32) and time index (`.timeindex`:
// timestamp int64, relative offset int32), both big-endian as in Kafka. Index entries live in
// memory and are written to their files incrementally on flush, roll and close. A segment holding
// ABORT markers also has a transaction index (`.txnindex`, Kafka's 34-byte entries: version
// int16, producerId int64, firstOffset int64, lastOffset int64, lastStableOffset int64), kept
// in memory and rewritten whole when it changed (aborted transactions are rare).

import path from 'node:path'
import { crc32c } from '@node-rs/crc32'
import {
  BATCH_HEADER_SIZE,
  BATCH_LOG_OVERHEAD,
  BatchOffset,
  batchSize,
  baseOffsetOf,
  maxTimestampOf,
  readInt64,
  writeInt64,
} from '../protocol/record-batch.js'
import { openReadWrite, type StorageFs } from './fs-layer.js'
import type { AbortedTxn } from './producer-state.js'

export const OFFSET_INDEX_ENTRY = 8
export const TIME_INDEX_ENTRY = 12
export const TXN_INDEX_ENTRY = 34

export function encodeTxnIndex(entries: readonly AbortedTxn[]): Buffer {
  const buf = Buffer.alloc(entries.length * TXN_INDEX_ENTRY)
  entries.forEach((e, i) => {
    const at = i * TXN_INDEX_ENTRY
    buf.writeInt16BE(0, at)
    writeInt64(buf, at + 2, e.producerId)
    writeInt64(buf, at + 10, e.firstOffset)
    writeInt64(buf, at + 18, e.lastOffset)
    writeInt64(buf, at + 26, e.lastStableOffset)
  })
  return buf
}

/** Decodes whole entries; a torn last entry is ignored. */
export function decodeTxnIndex(buf: Buffer): AbortedTxn[] {
  const out: AbortedTxn[] = []
  for (let at = 0; at + TXN_INDEX_ENTRY <= buf.length; at += TXN_INDEX_ENTRY) {
    if (buf.readInt16BE(at) !== 0) break
    out.push({ producerId: readInt64(buf, at + 2), firstOffset: readInt64(buf, at + 10), lastOffset: readInt64(buf, at + 18), lastStableOffset: readInt64(buf, at + 26) })
  }
  return out
}

export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`
}

/** Sparse map from relative offset to file position, sorted by both. */
export class OffsetIndex {
  rel = new Int32Array(64)
  pos = new Int32Array(64)
  length = 0
  /** Entries already written to the index file. */
  persisted = 0

  append(relOffset: number, position: number): void {
    if (this.length === this.rel.length) {
      const r = new Int32Array(this.rel.length * 2)
      r.set(this.rel)
      this.rel = r
      const p = new Int32Array(this.pos.length * 2)
      p.set(this.pos)
      this.pos = p
    }
    this.rel[this.length] = relOffset
    this.pos[this.length] = position
    this.length++
  }

  /** Position of the largest entry whose offset is <= relOffset, or 0. */
  lookup(relOffset: number): number {
    let lo = 0
    let hi = this.length - 1
    let found = 0
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.rel[mid] <= relOffset) {
        found = this.pos[mid]
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }

  /** Drops entries at or after a file position. */
  truncateToPosition(position: number): void {
    while (this.length > 0 && this.pos[this.length - 1] >= position) this.length--
    if (this.persisted > this.length) this.persisted = this.length
  }

  clear(): void {
    this.length = 0
    this.persisted = 0
  }

  encode(from: number, to: number): Buffer {
    const buf = Buffer.allocUnsafe((to - from) * OFFSET_INDEX_ENTRY)
    for (let i = from; i < to; i++) {
      buf.writeInt32BE(this.rel[i], (i - from) * OFFSET_INDEX_ENTRY)
      buf.writeInt32BE(this.pos[i], (i - from) * OFFSET_INDEX_ENTRY + 4)
    }
    return buf
  }

  static decode(buf: Buffer): OffsetIndex {
    const idx = new OffsetIndex()
    const n = Math.floor(buf.length / OFFSET_INDEX_ENTRY)
    for (let i = 0; i < n; i++) {
      const rel = buf.readInt32BE(i * OFFSET_INDEX_ENTRY)
      const pos = buf.readInt32BE(i * OFFSET_INDEX_ENTRY + 4)
      // Preallocated (zero-filled) Kafka indexes end in zero entries: stop at the first one
      // that does not move forward.
      if (i > 0 && (rel <= idx.rel[idx.length - 1] || pos <= idx.pos[idx.length - 1])) break
      idx.append(rel, pos)
    }
    idx.persisted = idx.length
    return idx
  }
}

/** Sparse map from timestamp to relative offset; timestamps strictly increase. */
export class TimeIndex {
  ts = new Float64Array(32)
  rel = new Int32Array(32)
  length = 0
  persisted = 0

  get lastTimestamp(): number {
    return this.length > 0 ? this.ts[this.length - 1] : -1
  }

  maybeAppend(timestamp: number, relOffset: number): void {
    if (this.length > 0 && timestamp <= this.ts[this.length - 1]) return
    if (this.length === this.ts.length) {
      const t = new Float64Array(this.ts.length * 2)
      t.set(this.ts)
      this.ts = t
      const r = new Int32Array(this.rel.length * 2)
      r.set(this.rel)
      this.rel = r
    }
    this.ts[this.length] = timestamp
    this.rel[this.length] = relOffset
    this.length++
  }

  /** Relative offset of the largest entry with timestamp <= ts, or -1. */
  lookup(timestamp: number): number {
    let lo = 0
    let hi = this.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.ts[mid] <= timestamp) {
        found = this.rel[mid]
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }

  truncateToRelOffset(relOffset: number): void {
    while (this.length > 0 && this.rel[this.length - 1] >= relOffset) this.length--
    if (this.persisted > this.length) this.persisted = this.length
  }

  clear(): void {
    this.length = 0
    this.persisted = 0
  }

  encode(from: number, to: number): Buffer {
    const buf = Buffer.allocUnsafe((to - from) * TIME_INDEX_ENTRY)
    for (let i = from; i < to; i++) {
      writeInt64(buf, (i - from) * TIME_INDEX_ENTRY, this.ts[i])
      buf.writeInt32BE(this.rel[i], (i - from) * TIME_INDEX_ENTRY + 8)
    }
    return buf
  }

  static decode(buf: Buffer): TimeIndex {
    const idx = new TimeIndex()
    const n = Math.floor(buf.length / TIME_INDEX_ENTRY)
    for (let i = 0; i < n; i++) {
      const ts = readInt64(buf, i * TIME_INDEX_ENTRY)
      const rel = buf.readInt32BE(i * TIME_INDEX_ENTRY + 8)
      if (i > 0 && (ts <= idx.ts[idx.length - 1] || rel < idx.rel[idx.length - 1])) break
      idx.maybeAppend(ts, rel)
    }
    idx.persisted = idx.length
    return idx
  }
}

export class Segment {
  fd = -1
  /** Bytes written to the file and visible to readers. */
  size = 0
  /** Bytes including appends still queued for writing. */
  assignedSize = 0
  /** Offset after the last written batch (baseOffset when empty). */
  nextOffset: number
  offsetIndex = new OffsetIndex()
  timeIndex = new TimeIndex()
  maxTimestamp = -1
  offsetOfMaxTimestamp = -1
  bytesSinceIndexEntry = 0
  /** Timestamp segment.ms counts from: the first batch's max timestamp, or creation time. */
  rollingBaseTimestamp = -1
  batches = 0
  /** Aborted transactions whose ABORT marker is in this segment, in marker order. */
  abortedTxns: AbortedTxn[] = []
  /** abortedTxns differs from the `.txnindex` file. */
  txnIndexDirty = false
  refs = 0
  deleted = false
  private closing: Promise<void> | null = null

  constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private readonly fs: StorageFs,
    private readonly indexIntervalBytes: number,
  ) {
    this.nextOffset = baseOffset
  }

  get logPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, '.log'))
  }
  get indexPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, '.index'))
  }
  get timeIndexPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, '.timeindex'))
  }
  get txnIndexPath(): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, '.txnindex'))
  }

  addAbortedTxn(t: AbortedTxn): void {
    this.abortedTxns.push(t)
    this.txnIndexDirty = true
  }

  /** Drops aborted transactions whose marker is at or after `offset`. */
  truncateAbortedTxns(offset: number): void {
    const n = this.abortedTxns.length
    this.abortedTxns = this.abortedTxns.filter((t) => t.lastOffset < offset)
    if (this.abortedTxns.length !== n) this.txnIndexDirty = true
  }

  /** Rewrites `.txnindex` when it changed (removed when empty). */
  async persistTxnIndex(): Promise<void> {
    if (!this.txnIndexDirty || this.deleted) return
    this.txnIndexDirty = false
    try {
      if (this.abortedTxns.length === 0) await this.fs.unlink(this.txnIndexPath).catch(() => {})
      else await this.fs.writeFileAtomic(this.txnIndexPath, encodeTxnIndex(this.abortedTxns))
    } catch (err) {
      this.txnIndexDirty = true
      throw err
    }
  }

  private opening: Promise<void> | null = null

  /** Opens the log file for positional reads and writes (never O_APPEND: it ignores positions). */
  ensureOpen(): Promise<void> {
    if (this.fd >= 0) return Promise.resolve()
    if (this.deleted) return Promise.reject(Object.assign(new Error(`segment ${this.logPath} was deleted`), { code: 'ESEGMENTGONE' }))
    if (!this.opening) {
      this.opening = (async () => {
        this.fd = await openReadWrite(this.fs, this.logPath)
      })().finally(() => {
        this.opening = null
      })
    }
    return this.opening
  }

  /** Index bookkeeping for a batch now on disk at `position`. Per batch, never per record. */
  onBatchWritten(buf: Buffer, at: number, position: number, size: number, indexInterval = this.indexIntervalBytes): void {
    const lastOffset = baseOffsetOf(buf, at) + buf.readInt32BE(at + BatchOffset.lastOffsetDelta)
    const maxTs = maxTimestampOf(buf, at)
    if (maxTs > this.maxTimestamp) {
      this.maxTimestamp = maxTs
      this.offsetOfMaxTimestamp = lastOffset
    }
    if (this.rollingBaseTimestamp < 0) this.rollingBaseTimestamp = maxTs
    if (this.bytesSinceIndexEntry > indexInterval) {
      this.offsetIndex.append(lastOffset - this.baseOffset, position)
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.baseOffset)
      this.bytesSinceIndexEntry = 0
    }
    this.bytesSinceIndexEntry += size
    this.size = position + size
    this.nextOffset = lastOffset + 1
    this.batches++
  }

  /** Bytes this segment holds on disk: the written log plus its offset and time index entries. */
  get diskBytes(): number {
    return this.size + this.offsetIndex.length * OFFSET_INDEX_ENTRY + this.timeIndex.length * TIME_INDEX_ENTRY
  }

  /** Writes index entries not yet on disk (append-only; `full` rewrites the files). */
  async persistIndexes(full = false, offsetEntries = this.offsetIndex.length, timeEntries = this.timeIndex.length): Promise<void> {
    if (this.deleted) return
    if (full) {
      this.offsetIndex.persisted = 0
      this.timeIndex.persisted = 0
    }
    await writeIndexFile(this.fs, this.indexPath, this.offsetIndex, OFFSET_INDEX_ENTRY, full, offsetEntries)
    await writeIndexFile(this.fs, this.timeIndexPath, this.timeIndex, TIME_INDEX_ENTRY, full, timeEntries)
    await this.persistTxnIndex()
  }

  /** On roll and close, Kafka adds a last time index entry for the newest timestamp. */
  sealTimeIndex(): void {
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.baseOffset)
  }

  acquire(): void {
    this.refs++
  }

  release(): void {
    this.refs--
    if (this.refs === 0 && this.deleted) void this.closeFile()
  }

  closeFile(): Promise<void> {
    if (this.fd < 0) return Promise.resolve()
    if (!this.closing) {
      const fd = this.fd
      this.closing = this.fs.close(fd).then(
        () => {
          this.fd = -1
        },
        () => {
          this.fd = -1
        },
      )
    }
    return this.closing
  }

  /** Reads a byte range of the file into one new buffer; short at end of file. */
  async readRange(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length)
    let got = 0
    while (got < length) {
      const n = await this.fs.read(this.fd, buf, got, length - got, position + got)
      if (n === 0) break
      got += n
    }
    return got === length ? buf : buf.subarray(0, got)
  }
}

async function writeIndexFile(
  fs: StorageFs,
  file: string,
  idx: OffsetIndex | TimeIndex,
  entrySize: number,
  full: boolean,
  upTo: number,
): Promise<void> {
  upTo = Math.min(upTo, idx.length)
  if (!full && idx.persisted >= upTo) return
  const fd = await fs.open(file, full ? 'w' : 'r+').catch(() => fs.open(file, 'w+'))
  try {
    const from = idx.persisted
    const data = idx.encode(from, upTo)
    let written = 0
    while (written < data.length) {
      const n = await fs.writev(fd, [data.subarray(written)], from * entrySize + written)
      if (n <= 0) throw Object.assign(new Error('short index write'), { code: 'EIO' })
      written += n
    }
    if (!full) {
      const size = await fs.fsize(fd)
      if (size > upTo * entrySize) await fs.ftruncate(fd, upTo * entrySize)
    }
    await fs.fdatasync(fd)
    idx.persisted = upTo
  } finally {
    await fs.close(fd)
  }
}

export interface BatchCheck {
  ok: boolean
  size: number
}

/** Checks one batch's framing and CRC32C (over bytes 21..end). */
export function checkBatch(buf: Buffer, at: number, available: number): BatchCheck {
  if (available < BATCH_LOG_OVERHEAD) return { ok: false, size: 0 }
  const size = batchSize(buf, at)
  if (size < BATCH_HEADER_SIZE || size > available) return { ok: false, size }
  if (buf[at + BatchOffset.magic] !== 2) return { ok: false, size }
  if (buf.readInt32BE(at + BatchOffset.lastOffsetDelta) < 0) return { ok: false, size }
  const crc = buf.readUInt32BE(at + BatchOffset.crc)
  if (crc32c(buf.subarray(at + BatchOffset.attributes, at + size)) !== crc) return { ok: false, size }
  return { ok: true, size }
}

export interface ScanResult {
  /** File position after the last good batch. */
  validEnd: number
  /** The file was longer than its good batches (a torn or corrupt tail). */
  truncated: boolean
}

/**
 * Recovery: scans a segment file from `fromPosition` (a position known to start a batch),
 * verifying each batch's framing and CRC, rebuilding index entries as it goes, and stops at the
 * first bad batch. The caller truncates the file at `validEnd`.
 */
export async function scanSegment(seg: Segment, fromPosition: number, fileSize: number, chunkSize = 1 << 20): Promise<ScanResult> {
  let pos = fromPosition
  let expectedNext = -1
  while (pos < fileSize) {
    const want = Math.min(fileSize - pos, chunkSize)
    let buf = await seg.readRange(pos, want)
    let at = 0
    let progressed = false
    while (at < buf.length) {
      if (buf.length - at < BATCH_LOG_OVERHEAD) break
      const size = batchSize(buf, at)
      if (size >= BATCH_HEADER_SIZE && size > buf.length - at && pos + at + size <= fileSize) {
        // A batch larger than what the chunk holds: read it whole.
        if (at === 0) {
          buf = await seg.readRange(pos, size)
          continue
        }
        break
      }
      const check = checkBatch(buf, at, buf.length - at)
      const base = baseOffsetOf(buf, at)
      if (!check.ok || base < seg.baseOffset || base < expectedNext) {
        return { validEnd: pos + at, truncated: true }
      }
      seg.onBatchWritten(buf, at, pos + at, check.size)
      expectedNext = seg.nextOffset
      at += check.size
      progressed = true
    }
    if (!progressed) return { validEnd: pos, truncated: pos < fileSize }
    pos += at
  }
  return { validEnd: pos, truncated: false }
}
