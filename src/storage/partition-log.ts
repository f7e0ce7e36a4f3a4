// A partition's log: an ordered list of segments, the last one active. Appends assign offsets
// synchronously and queue their buffers; one writer per partition writes everything queued
// meanwhile with one positional writev (group commit). Reads come from an in-memory tail of
// recent batches, or from the segment files through the sparse offset index.
//
// Producer state (idempotence, transactions) is updated here from the header of every appended
// batch, and made durable by snapshots (`<offset>.snapshot`, written at segment roll and on close)
// plus replay of batch headers after the newest snapshot when the log opens. ABORT markers add the
// aborted transaction to their segment's `.txnindex`; read_committed fetches read up to the last
// stable offset and get the aborted transactions of the range they read.
//
// The leader-epoch cache (`epochs`, file `leader-epoch-checkpoint`) is updated from the
// partitionLeaderEpoch of every appended batch header. Its file is written asynchronously, but
// always before a producer snapshot: on open, the headers replayed after the newest snapshot also
// restore epochs the file missed (a crash), and a log without the file is scanned whole.
// Followers copy a leader's batches with `appendAsFollower` (offsets kept) and diverge/catch up
// with `truncateTo`, `truncateFullyAndStartAt` and `endOffsetForEpoch`.

import path from 'node:path'
import { KafkaError, ErrorCode } from '../protocol/errors.js'
import {
  Attributes,
  BATCH_HEADER_SIZE,
  BATCH_LOG_OVERHEAD,
  BatchOffset,
  baseOffsetOf,
  batchSize,
  compressionOf,
  lastOffsetOf,
  maxTimestampOf,
  readInt64,
  writeInt64,
} from '../protocol/record-batch.js'
import { ControlType, buildControlBatch, computeBatchCrc, readControlRecord } from '../protocol/records.js'
import { type LogConfig, defaultProducerIdExpirationMs, logConfig } from './config.js'
import { type StorageFs, isStorageErrno, nodeFs } from './fs-layer.js'
import type { Volume } from './volume.js'
import { firstRecord, forEachRecord } from './record-view.js'
import { OFFSET_INDEX_ENTRY, OffsetIndex, Segment, TIME_INDEX_ENTRY, TimeIndex, decodeTxnIndex, scanSegment, segmentFileName } from './segment.js'
import { ProducerStateManager } from './producer-state.js'
import { type EpochEndOffset, LeaderEpochCache } from './leader-epoch-cache.js'

export interface AppendControlOptions {
  producerId: number
  producerEpoch: number
  type: 'COMMIT' | 'ABORT'
  coordinatorEpoch: number
  /** Default: now. */
  timestamp?: number
  /** Stamped into the marker's header. Default: the latest epoch of the epoch cache, or 0. */
  partitionLeaderEpoch?: number
}

export interface AppendAsFollowerOptions {
  /**
   * Accept a batch whose base offset is past the expected one (the leader's compaction removed
   * the batches between). Default: true when the log's cleanup.policy includes compact.
   */
  allowGaps?: boolean
}

/**
 * A follower append whose batches do not start at the log end offset (or are not in order): as
 * Kafka's UnexpectedAppendOffsetException. A follower whose log is empty and whose first fetched
 * batch starts below its log end (the leader's log start is inside that batch) restarts its log
 * at `firstOffset` with truncateFullyAndStartAt, as Kafka does.
 */
export class UnexpectedAppendOffsetError extends Error {
  constructor(
    /** Base offset of the offending batch. */
    readonly firstOffset: number,
    /** The offset it had to start at. */
    readonly expectedOffset: number,
    /** Its index in the appended list (0: the first batch). */
    readonly batchIndex: number,
  ) {
    super(
      batchIndex === 0
        ? `follower append: first batch starts at offset ${firstOffset}, expected the log end offset ${expectedOffset}`
        : `follower append: batch ${batchIndex} starts at offset ${firstOffset}, expected ${expectedOffset} (right after the previous batch)`,
    )
    this.name = 'UnexpectedAppendOffsetError'
  }
}

/** An aborted transaction as a Fetch response lists it. */
export interface FetchAbortedTxn {
  producerId: number
  firstOffset: number
}

/** Producer-state snapshot files kept (newest first); older ones are removed. */
const SNAPSHOTS_KEPT = 3
const SNAPSHOT_RE = /^(\d{20})\.snapshot$/

/** The marker a control batch holds, or undefined when it is not a transaction marker. */
function markerOf(batch: Buffer, at: number): { commit: boolean; coordinatorEpoch: number } | undefined {
  try {
    const r = firstRecord(batch, at)
    if (!r) return undefined
    const c = readControlRecord(r)
    if (c.type !== ControlType.ABORT && c.type !== ControlType.COMMIT) return undefined
    return { commit: c.type === ControlType.COMMIT, coordinatorEpoch: c.coordinatorEpoch ?? -1 }
  } catch {
    return undefined
  }
}

export interface AppendOptions {
  /** For LogAppendTime topics: the time the caller already wrote into the batches. */
  logAppendTime?: number
}

export interface AppendResult {
  baseOffset: number
  lastOffset: number
  /** The logAppendTime passed in, or -1. */
  logAppendTime: number
  /** Resolves once the bytes are in the file (and fsynced when flush.messages is reached). */
  done: Promise<void>
}

export interface ReadResult {
  /** Whole batches; the first contains the requested offset. Views, never copies. */
  batches: Buffer[]
  bytes: number
}

export interface SegmentInfo {
  baseOffset: number
  nextOffset: number
  size: number
  maxTimestamp: number
}

export interface TimestampOffset {
  offset: number
  timestamp: number
}

/** Decodes records of a (possibly compressed) batch; plugged in from src/protocol/records.ts. */
export interface RecordCodec {
  /** Calls fn with each record's offset delta, timestamp delta, key and whether its value is null. */
  forEachRecord(batch: Buffer, fn: (offsetDelta: number, timestampDelta: number, key: Buffer | null, valueIsNull: boolean) => void): Promise<void>
}

export interface PartitionLogOptions {
  fs?: StorageFs
  now?: () => number
  /** Log start offset from the checkpoint file; default the first segment's base offset. */
  logStartOffset?: number
  /** The previous shutdown was clean: trust indexes of inactive segments without checks. */
  cleanShutdown?: boolean
  /** Persist a new log start offset (LogManager writes log-start-offset-checkpoint). */
  onLogStartOffsetChange?: (offset: number) => Promise<void> | void
  /** Decoder for compressed batches (timestamp lookup inside a batch, compaction). */
  codec?: RecordCodec
  /** Logs recovery and storage errors. */
  log?: (msg: string, fields?: Record<string, unknown>) => void
  /**
   * The volume this log lives on: it is told the bytes the log holds, and a write that does
   * not fit its quota fails as on a full disk (ENOSPC).
   */
  volume?: Volume
}

interface PendingWrite {
  seg: Segment
  bufs: Buffer[]
  position: number
  bytes: number
  records: number
  baseOffset: number
  nextOffset: number
  resolve: () => void
  reject: (err: Error) => void
  done: Promise<void>
}

const IOV_MAX = 1024
/** Read size of header-only scans: whole small batches, a fraction of large ones. */
const HEADER_SCAN_CHUNK = 64 * 1024
const EMPTY = Buffer.alloc(0)
const MIN_READ = 64 * 1024

function storageError(err: unknown): KafkaError {
  if (err instanceof KafkaError) return err
  const msg = err instanceof Error ? err.message : String(err)
  return new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, msg)
}

export class PartitionLog {
  private segs: Segment[] = []
  private nextOffset = 0
  /** Offset after the last batch that reached the file: readers never see beyond it. */
  private writtenEnd = 0
  private startOffset = 0
  private queue: PendingWrite[] = []
  private qHead = 0
  private writing = false
  private idleWaiters: Array<() => void> = []
  private unflushedRecords = 0
  private lastFlushTime: number
  private needsTruncate: { seg: Segment; position: number } | null = null
  // In-memory tail: references to recently appended batches, oldest first from tailHead.
  private tailBufs: Buffer[] = []
  private tailBase: number[] = []
  private tailHead = 0
  private tailBytes = 0
  private closed = false
  /** Serialises maintenance (retention, compaction, truncation, DeleteRecords). */
  private maintenance: Promise<unknown> = Promise.resolve()
  private pendingDeletes: Array<{ files: string[]; at: number }> = []
  /** Compaction: offset before which the log is clean. */
  firstDirtyOffset = 0
  /** Producers' recent batches and open transactions (duplicate and sequence checks, LSO). */
  readonly producers = new ProducerStateManager()
  /** Replaced by the loaded one on open. */
  private epochCache = new LeaderEpochCache()
  /** Transactions whose marker is appended but not yet written: they still hold the LSO back. */
  private completing: Array<{ firstOffset: number; markerOffset: number }> = []
  /** Snapshots taken at roll, written once the rolled segment's writes land. */
  private pendingSnapshots = new Set<{ offset: number; data: Buffer; valid: boolean }>()
  /** Seals of rolled segments (index files, snapshot) in progress. */
  private seals: Promise<void> = Promise.resolve()
  readonly fs: StorageFs
  readonly now: () => number
  readonly codec: RecordCodec | undefined
  /** Bytes of this log counted in the volume (segments and index entries written). */
  private counted = 0

  private constructor(
    readonly dir: string,
    public config: LogConfig,
    private readonly opts: PartitionLogOptions,
  ) {
    this.fs = opts.fs ?? nodeFs
    this.now = opts.now ?? Date.now
    this.codec = opts.codec
    this.lastFlushTime = this.now()
  }

  // ---------------------------------------------------------------- opening and recovery

  static async open(dir: string, config: Partial<LogConfig> = {}, opts: PartitionLogOptions = {}): Promise<PartitionLog> {
    const log = new PartitionLog(dir, logConfig(config), opts)
    await log.load()
    log.recount()
    return log
  }

  private async load(): Promise<void> {
    const fs = this.fs
    await fs.mkdir(this.dir)
    let names = await fs.readdir(this.dir)
    // Leftovers of interrupted operations: deleted segments, unfinished cleaning, temp files.
    for (const n of names) {
      if (n.endsWith('.deleted') || n.endsWith('.cleaned') || n.endsWith('.tmp')) await fs.unlink(path.join(this.dir, n)).catch(() => {})
    }
    names = await fs.readdir(this.dir)
    // Index files without their log (a crash between deleting one and the other).
    for (const n of names) {
      const m = /^(\d{20})\.(index|timeindex|txnindex)$/.exec(n)
      if (m && !names.includes(`${m[1]}.log`)) await fs.unlink(path.join(this.dir, n)).catch(() => {})
    }
    const bases = names
      .filter((n) => /^\d{20}\.log$/.test(n))
      .map((n) => Number(n.slice(0, 20)))
      .sort((a, b) => a - b)
    // A `.swap` is a fully written cleaned segment: finish the swap (drop what it replaces).
    for (const n of names.filter((x) => /^\d{20}\.log\.swap$/.test(x))) {
      await this.completeSwap(Number(n.slice(0, 20)), bases)
    }
    for (const base of bases) {
      this.segs.push(new Segment(this.dir, base, fs, this.config.indexIntervalBytes))
    }
    if (this.segs.length === 0) {
      const base = this.opts.logStartOffset ?? 0
      const seg = new Segment(this.dir, base, fs, this.config.indexIntervalBytes)
      await seg.ensureOpen()
      this.segs.push(seg)
    }
    for (let i = 0; i < this.segs.length; i++) {
      const seg = this.segs[i]
      const active = i === this.segs.length - 1
      const ok = await this.loadSegment(seg, active)
      if (!ok) {
        // A segment truncated by recovery: everything after it is unreachable, as in Kafka.
        for (const later of this.segs.splice(i + 1)) await this.deleteSegmentFiles(later, true)
        break
      }
    }
    for (let i = 0; i < this.segs.length - 1; i++) {
      if (this.segs[i].nextOffset < 0) this.segs[i].nextOffset = this.segs[i + 1].baseOffset
    }
    const last = this.active
    this.nextOffset = last.nextOffset
    this.writtenEnd = this.nextOffset
    const first = this.segs[0]
    this.startOffset = Math.min(Math.max(this.opts.logStartOffset ?? first.baseOffset, first.baseOffset), this.nextOffset)
    this.firstDirtyOffset = this.startOffset
    const present = new Set(await fs.readdir(this.dir))
    for (const seg of this.segs) {
      if (!present.has(path.basename(seg.txnIndexPath))) continue
      const buf = await fs.readFile(seg.txnIndexPath).catch(() => null)
      if (buf) seg.abortedTxns = decodeTxnIndex(buf)
    }
    await this.loadEpochs()
    // Replays headers after the newest producer snapshot: also restores epochs the file missed.
    await this.rebuildProducerState(true)
    if (this.epochCache.dirty) await this.epochCache.flush().catch((err) => this.log('writing the leader-epoch checkpoint failed', { error: String(err) }))
  }

  /**
   * Loads `leader-epoch-checkpoint`, trimmed to the log's range as Kafka does. Without a readable
   * file, a non-empty log (written before epochs were tracked, or a corrupt file) is scanned:
   * batch headers only.
   */
  private async loadEpochs(): Promise<void> {
    const { cache, status } = await LeaderEpochCache.load(this.dir, this.fs, (msg, fields) => this.log(msg, fields))
    this.epochCache = cache
    if (status === 'ok') {
      cache.truncateFromEnd(this.nextOffset)
    } else if (this.segs.some((s) => s.size > 0)) {
      this.log('rebuilding the leader-epoch cache from the log', { reason: status })
      for (const seg of this.segs) {
        if (seg.size > 0) await this.forEachBatchHeader(seg, (h, at) => this.noteEpoch(h, at, baseOffsetOf(h, at)))
      }
      // Written even when empty (batches without epochs): the next open need not scan again.
      cache.markDirty()
    }
    cache.truncateFromStart(this.startOffset)
  }

  /** The epoch cache learns of a batch (append, follower append, replay). */
  private noteEpoch(b: Buffer, at: number, baseOffset: number): void {
    const epoch = b.readInt32BE(at + BatchOffset.partitionLeaderEpoch)
    if (epoch > this.epochCache.latestEpoch) this.epochCache.assign(epoch, baseOffset)
  }

  /** Calls fn with every batch header of a segment, reading 64 KiB at a time at most (never whole large batches). */
  private async forEachBatchHeader(seg: Segment, fn: (chunk: Buffer, at: number) => void): Promise<void> {
    seg.acquire()
    try {
      await seg.ensureOpen()
      const end = seg.size
      let pos = 0
      while (end - pos >= BATCH_HEADER_SIZE) {
        const chunk = await seg.readRange(pos, Math.min(end - pos, HEADER_SCAN_CHUNK))
        let at = 0
        while (chunk.length - at >= BATCH_HEADER_SIZE) {
          const size = batchSize(chunk, at)
          if (size < BATCH_HEADER_SIZE) return // not a batch (recovery validated the file; be safe)
          fn(chunk, at)
          at += size
        }
        if (at === 0) return // short read
        pos += at
      }
    } finally {
      seg.release()
    }
  }

  // ---------------------------------------------------------------- producer state

  private snapshotPath(offset: number): string {
    return path.join(this.dir, segmentFileName(offset, '.snapshot'))
  }

  private async snapshotOffsets(): Promise<number[]> {
    const out: number[] = []
    for (const n of await this.fs.readdir(this.dir)) {
      const m = SNAPSHOT_RE.exec(n)
      if (m) out.push(Number(m[1]))
    }
    return out.sort((a, b) => b - a)
  }

  /**
   * Loads the newest usable snapshot at or below the log end (newer ones are stale: removed), drops
   * aborted-transaction entries from that offset on, and replays batch headers to the log end.
   */
  private async rebuildProducerState(opening = false): Promise<void> {
    this.producers.clear()
    this.completing = []
    const end = this.nextOffset
    let from = -1
    for (const offset of await this.snapshotOffsets()) {
      if (offset > end) {
        await this.fs.unlink(this.snapshotPath(offset)).catch(() => {})
        continue
      }
      try {
        from = this.producers.load(await this.fs.readFile(this.snapshotPath(offset)))
        break
      } catch (err) {
        this.log('ignoring unreadable producer snapshot', { offset, error: String(err) })
        this.producers.clear()
      }
    }
    // No snapshot after a clean shutdown: a log written before snapshots existed (producers were
    // idempotent only). Like Kafka, rebuild from the last two segments rather than read it all.
    // Not after a truncation (no snapshot at or below its offset): then, as Kafka, the whole log.
    if (from < 0 && opening && this.opts.cleanShutdown && this.segs.length > 2) from = this.segs[this.segs.length - 2].baseOffset
    const replayFrom = Math.max(from, this.segs[0].baseOffset)
    for (const seg of this.segs) seg.truncateAbortedTxns(replayFrom)
    for (let i = this.segmentIndexFor(replayFrom); i < this.segs.length; i++) {
      const seg = this.segs[i]
      if (seg.size > 0) await this.replaySegment(seg, replayFrom)
    }
    for (const seg of this.segs) await seg.persistTxnIndex()
  }

  /** Applies the headers of a segment's batches whose last offset is >= from. Returns batches read. */
  private async replaySegment(seg: Segment, from: number): Promise<number> {
    seg.acquire()
    try {
      await seg.ensureOpen()
      const end = seg.size
      let pos = seg.offsetIndex.lookup(from - seg.baseOffset)
      let n = 0
      while (pos < end) {
        let chunk = await seg.readRange(pos, Math.min(end - pos, 1 << 20))
        let at = 0
        while (chunk.length - at >= BATCH_HEADER_SIZE) {
          const size = batchSize(chunk, at)
          const control = (chunk.readInt16BE(at + BatchOffset.attributes) & Attributes.control) !== 0
          if (control && size > chunk.length - at) break // read whole below
          if (baseOffsetOf(chunk, at) + chunk.readInt32BE(at + BatchOffset.lastOffsetDelta) >= from) {
            this.applyBatch(chunk, at, seg)
            this.noteEpoch(chunk, at, baseOffsetOf(chunk, at))
            n++
          }
          at += size
        }
        if (at === 0) {
          // A control batch larger than what was read, or a short read: take it whole.
          if (chunk.length < BATCH_HEADER_SIZE) break
          chunk = await seg.readRange(pos, batchSize(chunk))
          if (chunk.length < batchSize(chunk)) break
          if (lastOffsetOf(chunk) >= from) {
            this.applyBatch(chunk, 0, seg)
            this.noteEpoch(chunk, 0, baseOffsetOf(chunk))
            n++
          }
          at = chunk.length
        }
        pos += at
      }
      return n
    } finally {
      seg.release()
    }
  }

  /**
   * Producer-state bookkeeping of one appended batch in `seg` (append and replay alike): header
   * fields, plus the marker record of control batches. An ABORT marker that ends an open
   * transaction goes to the segment's transaction index. Returns the transaction a marker ended.
   */
  private applyBatch(b: Buffer, at: number, seg: Segment): { firstOffset: number; markerOffset: number } | undefined {
    if (b.readInt32BE(at + BatchOffset.producerId) < 0) return undefined // producerId -1 (high word negative)
    const control = (b.readInt16BE(at + BatchOffset.attributes) & Attributes.control) !== 0
    const completed = this.producers.onBatch(b, at, control ? markerOf(b, at) : undefined)
    if (!completed || completed.firstOffset < 0) return undefined
    if (completed.aborted) {
      const lso = Math.min(this.producers.firstUnstableOffset, completed.markerOffset + 1)
      seg.addAbortedTxn({ producerId: completed.producerId, firstOffset: completed.firstOffset, lastOffset: completed.markerOffset, lastStableOffset: lso })
    }
    return completed
  }

  /**
   * Writes a transaction marker (a control batch) for a producer: it ends the producer's open
   * transaction in this partition; an ABORT lists the transaction in the transaction index. A
   * marker with no open transaction is still written and changes nothing else. An older producer
   * epoch is INVALID_PRODUCER_EPOCH, an older coordinator epoch TRANSACTION_COORDINATOR_FENCED.
   */
  appendControl(opts: AppendControlOptions): AppendResult {
    if (this.closed) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'log is closed')
    this.producers.checkMarker(opts.producerId, opts.producerEpoch, opts.coordinatorEpoch)
    const batch = buildControlBatch({
      type: opts.type,
      producerId: opts.producerId,
      producerEpoch: opts.producerEpoch,
      coordinatorEpoch: opts.coordinatorEpoch,
      baseOffset: 0,
      timestamp: opts.timestamp ?? this.now(),
      partitionLeaderEpoch: opts.partitionLeaderEpoch ?? Math.max(this.epochCache.latestEpoch, 0),
    })
    return this.append([batch])
  }

  /**
   * The last stable offset: below it every transaction is decided (its marker written). The
   * first offset of the oldest open transaction, else the high watermark.
   */
  get lastStableOffset(): number {
    const hw = this.writtenEnd
    let lso = Math.min(hw, this.producers.firstUnstableOffset)
    if (this.completing.length > 0) {
      this.completing = this.completing.filter((c) => c.markerOffset >= hw)
      for (const c of this.completing) if (c.firstOffset < lso) lso = c.firstOffset
    }
    return Math.max(lso, Math.min(this.startOffset, hw))
  }

  /**
   * Aborted transactions overlapping [fetchOffset, upperBoundOffset): those whose marker is at or
   * after fetchOffset and that started before the upper bound (Kafka's collectAbortedTransactions).
   */
  abortedTransactions(fetchOffset: number, upperBoundOffset: number): FetchAbortedTxn[] {
    const out: FetchAbortedTxn[] = []
    for (let i = this.segmentIndexFor(fetchOffset); i < this.segs.length; i++) {
      for (const t of this.segs[i].abortedTxns) {
        if (t.lastOffset >= fetchOffset && t.firstOffset < upperBoundOffset) out.push({ producerId: t.producerId, firstOffset: t.firstOffset })
      }
    }
    return out
  }

  /** Forgets producers idle for longer than producer.id.expiration.ms (none with an open transaction). */
  expireProducers(now = this.now()): number {
    return this.producers.expire(now - (this.config.producerIdExpirationMs ?? defaultProducerIdExpirationMs))
  }

  /** Writes a producer-state snapshot and removes old ones. */
  private async writeSnapshot(offset: number, data: Buffer): Promise<void> {
    await this.fs.writeFileAtomic(this.snapshotPath(offset), data)
    const offsets = await this.snapshotOffsets()
    for (const o of offsets.slice(SNAPSHOTS_KEPT)) await this.fs.unlink(this.snapshotPath(o)).catch(() => {})
  }

  /** Removes snapshots below the first segment, keeping the newest. */
  private async deleteOldSnapshots(): Promise<void> {
    const base = this.segs[0]?.baseOffset ?? 0
    const offsets = await this.snapshotOffsets()
    for (const o of offsets.slice(1)) if (o < base) await this.fs.unlink(this.snapshotPath(o)).catch(() => {})
  }

  private async completeSwap(base: number, bases: number[]): Promise<void> {
    const swapPath = path.join(this.dir, segmentFileName(base, '.log.swap'))
    const tmp = new Segment(this.dir, base, this.fs, this.config.indexIntervalBytes)
    const fd = await this.fs.open(swapPath, 'r')
    tmp.fd = fd
    const size = await this.fs.fsize(fd)
    await scanSegment(tmp, 0, size)
    await this.fs.close(fd)
    tmp.fd = -1
    const lastOffset = tmp.nextOffset - 1
    for (let i = bases.length - 1; i >= 0; i--) {
      if (bases[i] >= base && bases[i] <= lastOffset) {
        for (const ext of ['.log', '.index', '.timeindex']) await this.fs.unlink(path.join(this.dir, segmentFileName(bases[i], ext))).catch(() => {})
        bases.splice(i, 1)
      }
    }
    await this.fs.rename(swapPath, path.join(this.dir, segmentFileName(base, '.log')))
    bases.push(base)
    bases.sort((a, b) => a - b)
    this.log('completed interrupted segment swap', { base })
  }

  /** Loads one segment's indexes and state; recovers (scan + truncate) where needed. Returns false if truncated. */
  private async loadSegment(seg: Segment, active: boolean): Promise<boolean> {
    const fs = this.fs
    const fileSize = await fs.statSize(seg.logPath)
    const idxBuf = await fs.readFile(seg.indexPath).catch(() => null)
    const tidxBuf = await fs.readFile(seg.timeIndexPath).catch(() => null)
    let consistent = idxBuf !== null && tidxBuf !== null && idxBuf.length % OFFSET_INDEX_ENTRY === 0 && tidxBuf.length % TIME_INDEX_ENTRY === 0
    if (consistent) {
      seg.offsetIndex = OffsetIndex.decode(idxBuf!)
      seg.timeIndex = TimeIndex.decode(tidxBuf!)
      const n = seg.offsetIndex.length
      if (n > 0 && seg.offsetIndex.pos[n - 1] >= fileSize) consistent = false
    }
    if (!active && consistent && this.opts.cleanShutdown) {
      this.restoreFromIndexes(seg, fileSize, -1)
      return true
    }
    await seg.ensureOpen()
    let from = 0
    if (consistent) {
      // Resume from the last index entry that points at the batch it names.
      const idx = seg.offsetIndex
      while (idx.length > 0) {
        const pos = idx.pos[idx.length - 1]
        const rel = idx.rel[idx.length - 1]
        const h = await seg.readRange(pos, BATCH_HEADER_SIZE)
        if (h.length === BATCH_HEADER_SIZE && baseOffsetOf(h) + h.readInt32BE(BatchOffset.lastOffsetDelta) === seg.baseOffset + rel) {
          from = pos
          break
        }
        idx.length--
      }
      if (idx.persisted > idx.length) idx.persisted = idx.length
      if (idx.length === 0) from = 0
    }
    if (!consistent || from === 0) {
      seg.offsetIndex.clear()
      seg.timeIndex.clear()
    } else {
      this.restoreFromIndexes(seg, from, seg.offsetIndex.length - 1)
      // The batch at `from` is scanned again; its index entry stays.
      seg.offsetIndex.length--
      seg.offsetIndex.persisted = Math.min(seg.offsetIndex.persisted, seg.offsetIndex.length)
      seg.bytesSinceIndexEntry = this.config.indexIntervalBytes + 1
      if (seg.rollingBaseTimestamp < 0) {
        const h = await seg.readRange(0, BATCH_HEADER_SIZE)
        if (h.length === BATCH_HEADER_SIZE) seg.rollingBaseTimestamp = maxTimestampOf(h)
      }
    }
    const result = await scanSegment(seg, from, fileSize)
    if (result.truncated || !consistent) {
      if (result.truncated) {
        this.log('recovery: truncating segment at first bad batch', { segment: seg.logPath, position: result.validEnd, fileSize })
        await fs.ftruncate(seg.fd, result.validEnd)
        await fs.fdatasync(seg.fd)
      }
      await seg.persistIndexes(true)
    }
    seg.assignedSize = seg.size
    if (!active && !result.truncated) seg.sealTimeIndex()
    return !result.truncated
  }

  /** Restores size/offset/timestamp state from the indexes without reading the log. */
  private restoreFromIndexes(seg: Segment, size: number, entry: number): void {
    seg.size = size
    seg.assignedSize = size
    const t = seg.timeIndex
    if (entry >= 0) {
      const rel = seg.offsetIndex.rel[entry]
      t.truncateToRelOffset(rel + 1)
      seg.nextOffset = seg.baseOffset + rel
    }
    if (t.length > 0) {
      seg.maxTimestamp = t.ts[t.length - 1]
      seg.offsetOfMaxTimestamp = seg.baseOffset + t.rel[t.length - 1]
      seg.rollingBaseTimestamp = t.ts[0]
    }
    if (entry < 0) seg.nextOffset = -1 // fixed up below from the following segment
  }

  // ---------------------------------------------------------------- properties

  get logStartOffset(): number {
    return this.startOffset
  }

  /** The leader-epoch cache: (epoch, start offset) of every leader epoch that wrote to this log. */
  get epochs(): LeaderEpochCache {
    return this.epochCache
  }

  /**
   * OffsetsForLeaderEpoch: the largest epoch <= `epoch` and where it ends in this log (see
   * LeaderEpochCache.endOffsetFor), against the log end offset.
   */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochCache.endOffsetFor(epoch, this.nextOffset)
  }

  /** The next offset to assign (includes appends not yet written). */
  get logEndOffset(): number {
    return this.nextOffset
  }

  /** Offset after the last batch written to the file; reads stop here. */
  get writtenEndOffset(): number {
    return this.writtenEnd
  }

  get size(): number {
    let s = 0
    for (const seg of this.segs) s += seg.size
    return s
  }

  get segments(): SegmentInfo[] {
    return this.segs.map((s, i) => ({
      baseOffset: s.baseOffset,
      nextOffset: s.nextOffset >= 0 ? s.nextOffset : (this.segs[i + 1]?.baseOffset ?? this.nextOffset),
      size: s.size,
      maxTimestamp: s.maxTimestamp,
    }))
  }

  private get active(): Segment {
    return this.segs[this.segs.length - 1]
  }

  /** @internal for the cleaner and the manager */
  get segmentList(): readonly Segment[] {
    return this.segs
  }

  // ---------------------------------------------------------------- append

  append(batches: Buffer[], opts: AppendOptions = {}): AppendResult {
    if (this.closed) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'log is closed')
    if (batches.length === 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'no batches')
    let bytes = 0
    let records = 0
    let offsets = 0
    for (const b of batches) {
      if (b.length < BATCH_HEADER_SIZE || batchSize(b) !== b.length) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'batch length does not match its buffer')
      bytes += b.length
      records += b.readInt32BE(BatchOffset.recordCount)
      offsets += b.readInt32BE(BatchOffset.lastOffsetDelta) + 1
    }
    const seg = this.segmentForAppend(bytes, this.nextOffset + offsets)
    const baseOffset = this.nextOffset
    let next = baseOffset
    for (const b of batches) {
      writeInt64(b, BatchOffset.baseOffset, next)
      const base = next
      next += b.readInt32BE(BatchOffset.lastOffsetDelta) + 1
      this.onAppendBatch(b, base, seg)
    }
    const done = this.enqueue(seg, batches, bytes, records, baseOffset, next)
    return { baseOffset, lastOffset: next - 1, logAppendTime: opts.logAppendTime ?? -1, done }
  }

  /**
   * Replication: appends whole batches copied from the leader, keeping their offsets, epochs and
   * timestamps. The first must start at the log end offset and each next one right after the
   * previous (a gap only with `allowGaps`), else UnexpectedAppendOffsetError; each is checked for
   * size, magic and CRC32C (CORRUPT_MESSAGE), all before anything is appended. Producer state,
   * transaction index and epoch cache follow the headers as on the leader; the write goes through
   * the same queue, segment rolls, indexes and tail cache as `append`. Per batch, never per record.
   */
  appendAsFollower(batches: Buffer[], opts: AppendAsFollowerOptions = {}): AppendResult {
    if (this.closed) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'log is closed')
    if (batches.length === 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'no batches')
    const allowGaps = opts.allowGaps ?? this.config.cleanupPolicy !== 'delete'
    const startOffset = this.nextOffset
    let expected = startOffset
    let bytes = 0
    let records = 0
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]
      if (b.length < BATCH_HEADER_SIZE) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `batch ${i} is ${b.length} bytes, shorter than a batch header`)
      if (batchSize(b) !== b.length) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `batch ${i}: length field says ${batchSize(b)} bytes, the buffer holds ${b.length}`)
      if (b[BatchOffset.magic] !== 2) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `batch ${i}: magic ${b[BatchOffset.magic]}, only 2 is supported`)
      const delta = b.readInt32BE(BatchOffset.lastOffsetDelta)
      const count = b.readInt32BE(BatchOffset.recordCount)
      if (delta < 0 || count < 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `batch ${i}: invalid lastOffsetDelta ${delta} or record count ${count}`)
      const stored = b.readUInt32BE(BatchOffset.crc)
      const crc = computeBatchCrc(b)
      if (stored !== crc) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `batch ${i} at offset ${baseOffsetOf(b)} is corrupt (stored crc = ${stored}, computed crc = ${crc})`)
      const base = baseOffsetOf(b)
      if (base !== expected && !(allowGaps && base > expected)) throw new UnexpectedAppendOffsetError(base, expected, i)
      expected = base + delta + 1
      bytes += b.length
      records += count
    }
    // Batches are views into a fetch response that holds many partitions: the tail cache must not
    // keep a whole response alive for one small batch, so such views are copied (once, per batch).
    const own = batches.map((b) => (b.length * 2 < b.buffer.byteLength ? Buffer.from(b) : b))
    const seg = this.segmentForAppend(bytes, expected)
    for (const b of own) this.onAppendBatch(b, baseOffsetOf(b), seg)
    const done = this.enqueue(seg, own, bytes, records, startOffset, expected)
    return { baseOffset: baseOffsetOf(batches[0]), lastOffset: expected - 1, logAppendTime: -1, done }
  }

  /** The segment an append of `bytes` ending before offset `end` goes to: the active one, or a new one. */
  private segmentForAppend(bytes: number, end: number): Segment {
    let seg = this.active
    const c = this.config
    const now = this.now()
    if (
      seg.assignedSize > 0 &&
      (seg.assignedSize + bytes > c.segmentBytes ||
        (seg.rollingBaseTimestamp >= 0 && now - seg.rollingBaseTimestamp > c.segmentMs) ||
        (seg.offsetIndex.length + 1) * OFFSET_INDEX_ENTRY > c.segmentIndexBytes ||
        end - seg.baseOffset > 0x7fffffff)
    ) {
      seg = this.roll()
    }
    if (seg.rollingBaseTimestamp < 0 && seg.assignedSize === 0) seg.rollingBaseTimestamp = now
    return seg
  }

  /** Bookkeeping of one batch as it is queued (its base offset final): tail cache, producers, epochs. */
  private onAppendBatch(b: Buffer, base: number, seg: Segment): void {
    this.tailPush(b, base)
    const completed = this.applyBatch(b, 0, seg)
    if (completed) this.completing.push(completed)
    this.noteEpoch(b, 0, base)
  }

  /** Queues batches for the writer; offsets [baseOffset, nextOffset) become the log end. */
  private enqueue(seg: Segment, batches: Buffer[], bytes: number, records: number, baseOffset: number, next: number): Promise<void> {
    this.nextOffset = next
    const position = seg.assignedSize
    seg.assignedSize += bytes
    let resolve!: () => void
    let reject!: (e: Error) => void
    const done = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    this.queue.push({ seg, bufs: batches, position, bytes, records, baseOffset, nextOffset: next, resolve, reject, done })
    if (!this.writing) void this.drain()
    return done
  }

  /** Starts a new active segment at the next offset; the old one is sealed once its writes land. */
  private roll(): Segment {
    const old = this.active
    const seg = new Segment(this.dir, this.nextOffset, this.fs, this.config.indexIntervalBytes)
    this.segs.push(seg)
    // The producer state as of the new segment's base, written once everything before it is.
    const snapshot = { offset: this.nextOffset, data: this.producers.encode(this.nextOffset), valid: true }
    this.pendingSnapshots.add(snapshot)
    this.queueSeal(old, snapshot)
    return seg
  }

  private queueSeal(old: Segment, snapshot?: { offset: number; data: Buffer; valid: boolean }): void {
    // Sealing runs after every queued write of `old`: the writer drains in order.
    const sealed = this.whenIdle().then(async () => {
      if (snapshot) this.pendingSnapshots.delete(snapshot)
      if (old.deleted) return
      try {
        old.sealTimeIndex()
        this.recount() // the time index's last entry
        if (old.fd >= 0) await this.fs.fdatasync(old.fd)
        await old.persistIndexes(true)
        if (snapshot?.valid && !this.closed) {
          // Epochs of everything below the snapshot reach their file first: on open, replay from
          // the snapshot restores only the epochs that start after it.
          await this.epochCache.flush()
          await this.writeSnapshot(snapshot.offset, snapshot.data)
        }
      } catch (err) {
        this.log('sealing segment failed', { segment: old.logPath, error: String(err) })
      }
    })
    this.seals = this.seals.then(() => sealed)
  }

  /** Resolves when queued writes and the seals of rolled segments are done. */
  private async whenSealed(): Promise<void> {
    await this.whenIdle()
    await this.seals
  }

  private async drain(): Promise<void> {
    this.writing = true
    try {
      while (this.qHead < this.queue.length) {
        const startIdx = this.qHead
        const first = this.queue[startIdx]
        const seg = first.seg
        const bufs: Buffer[] = []
        let end = startIdx
        let records = 0
        let bytes = 0
        while (end < this.queue.length && this.queue[end].seg === seg && bufs.length + this.queue[end].bufs.length <= IOV_MAX) {
          const w = this.queue[end]
          for (const b of w.bufs) bufs.push(b)
          records += w.records
          bytes += w.bytes
          end++
        }
        if (end === startIdx) {
          // A single append with more than IOV_MAX batches.
          for (const b of first.bufs) bufs.push(b)
          records += first.records
          bytes += first.bytes
          end++
        }
        this.qHead = end
        const volume = this.opts.volume
        let reserved = 0
        try {
          if (volume) {
            volume.reserve(bytes) // per write, never per record; throws ENOSPC past the quota
            reserved = bytes
          }
          if (this.needsTruncate) {
            await this.fs.ftruncate(this.needsTruncate.seg.fd, this.needsTruncate.position)
            this.needsTruncate = null
          }
          await seg.ensureOpen()
          await writeAll(this.fs, seg.fd, bufs, first.position)
          this.unflushedRecords += records
          if (this.unflushedRecords >= this.config.flushMessages) {
            await this.fs.fdatasync(seg.fd)
            this.unflushedRecords = 0
            this.lastFlushTime = this.now()
          }
        } catch (err) {
          volume?.settle(reserved, 0)
          await this.writeFailed(startIdx, err)
          continue
        }
        const before = seg.diskBytes
        for (let i = startIdx; i < end; i++) {
          const w = this.queue[i]
          let pos = w.position
          for (const b of w.bufs) {
            seg.onBatchWritten(b, 0, pos, b.length)
            pos += b.length
          }
          this.writtenEnd = w.nextOffset
          w.bufs = [] // written: release the request's buffers
          w.resolve()
        }
        if (volume) {
          const grown = seg.diskBytes - before
          this.counted += grown
          volume.settle(reserved, grown)
        }
        if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.qHead)
          this.qHead = 0
        }
      }
      this.queue.length = 0
      this.qHead = 0
    } finally {
      this.writing = false
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const w of waiters) w()
    }
  }

  /**
   * A write failed (ENOSPC, EIO...): nothing from the failed group on is kept. The file is cut
   * back to the group's position, offsets roll back to its base offset, segments rolled for
   * queued appends are dropped, and every queued append is rejected with KAFKA_STORAGE_ERROR.
   */
  private async writeFailed(startIdx: number, err: unknown): Promise<void> {
    const first = this.queue[startIdx]
    const failed = this.queue.slice(startIdx)
    this.queue = []
    this.qHead = 0
    const seg = first.seg
    this.nextOffset = first.baseOffset
    seg.assignedSize = first.position
    const segIdx = this.segs.indexOf(seg)
    const dropped = segIdx >= 0 ? this.segs.splice(segIdx + 1) : []
    this.tailTruncate(first.baseOffset)
    // Producer state forgets what was not written: batches, transactions opened, markers.
    this.producers.truncateFrom(first.baseOffset)
    this.completing = this.completing.filter((c) => c.markerOffset < first.baseOffset)
    seg.truncateAbortedTxns(first.baseOffset)
    // Epochs first seen in the lost batches go too; one starting right at the new end stays (an
    // epoch that has not written yet, as a new leader's is).
    this.epochCache.truncateFromEnd(first.baseOffset + 1)
    for (const s of this.pendingSnapshots) if (s.offset > first.baseOffset) s.valid = false
    const kerr = storageError(err)
    this.log('append failed, rolled back', { offset: first.baseOffset, error: String(err), code: (err as NodeJS.ErrnoException)?.code })
    for (const d of dropped) await this.deleteSegmentFiles(d, true).catch(() => {})
    if (seg.fd >= 0) {
      try {
        await this.fs.ftruncate(seg.fd, first.position)
      } catch {
        this.needsTruncate = { seg, position: first.position }
      }
    }
    // Rejected once the file is cut back: a caller that sees the error sees a consistent disk.
    for (const w of failed) w.reject(kerr)
    if (!isStorageErrno(err)) this.log('unexpected write error', { error: String(err) })
  }

  /**
   * Settles with the write of the batch holding `offset`: resolves once it is in the file (at
   * once if it already is), rejects if that write failed and was rolled back.
   */
  whenWritten(offset: number): Promise<void> {
    if (offset < this.writtenEnd) return Promise.resolve()
    // from the start: the group being written sits before qHead until it lands
    for (let i = 0; i < this.queue.length; i++) {
      const w = this.queue[i]
      if (offset >= w.baseOffset && offset < w.nextOffset) return w.done
    }
    // neither written nor queued: it was rolled back after a failed write
    return Promise.reject(new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `offset ${offset} was not written`))
  }

  /** Resolves when no write is queued or in flight. */
  whenIdle(): Promise<void> {
    if (!this.writing && this.qHead >= this.queue.length) return Promise.resolve()
    return new Promise((res) => this.idleWaiters.push(res))
  }

  // ---------------------------------------------------------------- tail cache

  private tailPush(buf: Buffer, base: number): void {
    this.tailBufs.push(buf)
    this.tailBase.push(base)
    this.tailBytes += buf.length
    const cap = this.config.tailCacheBytes
    while (this.tailBytes > cap && this.tailBufs.length - this.tailHead > 1) {
      this.tailBytes -= this.tailBufs[this.tailHead].length
      // drop the reference now: an evicted batch may pin a whole request buffer
      this.tailBufs[this.tailHead] = EMPTY
      this.tailHead++
    }
    if (this.tailHead > 4096 && this.tailHead * 2 > this.tailBufs.length) {
      this.tailBufs = this.tailBufs.slice(this.tailHead)
      this.tailBase = this.tailBase.slice(this.tailHead)
      this.tailHead = 0
    }
  }

  /** Drops cached batches at or after `offset`. */
  private tailTruncate(offset: number): void {
    let n = this.tailBufs.length
    while (n > this.tailHead && this.tailBase[n - 1] + this.tailBufs[n - 1].readInt32BE(BatchOffset.lastOffsetDelta) >= offset) {
      n--
      this.tailBytes -= this.tailBufs[n].length
    }
    this.tailBufs.length = n
    this.tailBase.length = n
  }

  private tailClear(): void {
    this.tailBufs = []
    this.tailBase = []
    this.tailHead = 0
    this.tailBytes = 0
  }

  private readTail(offset: number, maxBytes: number, limit: number): ReadResult | null {
    const n = this.tailBufs.length
    if (n === this.tailHead || this.tailBase[this.tailHead] > offset) return null
    // Binary search the last batch with base <= offset.
    let lo = this.tailHead
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.tailBase[mid] <= offset) lo = mid
      else hi = mid - 1
    }
    const batches: Buffer[] = []
    let bytes = 0
    for (let i = lo; i < n; i++) {
      const b = this.tailBufs[i]
      const last = this.tailBase[i] + b.readInt32BE(BatchOffset.lastOffsetDelta)
      if (last < offset) continue
      if (last >= limit) break
      if (batches.length > 0 && bytes + b.length > maxBytes) break
      batches.push(b)
      bytes += b.length
    }
    return { batches, bytes }
  }

  // ---------------------------------------------------------------- read

  async read(offset: number, maxBytes: number, maxOffset?: number): Promise<ReadResult> {
    if (offset < this.startOffset || offset > this.nextOffset) {
      throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} not in [${this.startOffset}, ${this.nextOffset}]`)
    }
    const limit = Math.min(maxOffset ?? Infinity, this.writtenEnd)
    if (offset >= limit) return { batches: [], bytes: 0 }
    const cached = this.readTail(offset, maxBytes, limit)
    if (cached) return cached
    let seg: Segment | undefined = this.segs[this.segmentIndexFor(offset)]
    for (let attempt = 0; seg && attempt < 1000; attempt++) {
      if (seg.baseOffset >= limit) break
      const r = await this.readSegment(seg, offset, maxBytes, limit)
      if (r === 'retry') {
        // The segment was replaced (compaction, retention) while we read: resolve again.
        if (offset < this.startOffset) throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} was deleted`)
        seg = this.segs[this.segmentIndexFor(offset)]
        continue
      }
      if (r !== null) return r
      // The offset lies past this segment's batches (a gap): the next segment, as the list is now.
      const base: number = seg.baseOffset
      seg = this.segs.find((s) => s.baseOffset > base)
    }
    return { batches: [], bytes: 0 }
  }

  /** Single replica: the high watermark is the end of what is written. Replication will own this. */
  get highWatermark(): number {
    return this.writtenEnd
  }

  private segmentIndexFor(offset: number): number {
    let lo = 0
    let hi = this.segs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.segs[mid].baseOffset <= offset) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /** Reads whole batches from one segment, the first containing `offset` (or the first after it). */
  private async readSegment(seg: Segment, offset: number, maxBytes: number, limit: number): Promise<ReadResult | null | 'retry'> {
    seg.acquire()
    try {
      await seg.ensureOpen()
      const end = seg.size
      let pos = seg.offsetIndex.lookup(offset - seg.baseOffset)
      if (pos >= end) return null
      let chunk = await seg.readRange(pos, Math.min(end - pos, Math.max(maxBytes, MIN_READ, this.config.indexIntervalBytes * 2)))
      let at = 0
      // Skip batches that end before the offset.
      for (;;) {
        if (chunk.length - at < BATCH_HEADER_SIZE) {
          if (pos + at >= end) return null
          pos += at
          chunk = await seg.readRange(pos, Math.min(end - pos, Math.max(maxBytes, MIN_READ)))
          at = 0
          if (chunk.length < BATCH_HEADER_SIZE) return null
        }
        const size = batchSize(chunk, at)
        const last = baseOffsetOf(chunk, at) + chunk.readInt32BE(at + BatchOffset.lastOffsetDelta)
        if (last >= offset) break
        at += size
      }
      // chunk[at] starts the first batch; make sure the chunk holds it whole.
      const firstSize = batchSize(chunk, at)
      if (chunk.length - at < firstSize) {
        pos += at
        chunk = await seg.readRange(pos, Math.min(end - pos, Math.max(maxBytes, firstSize)))
        at = 0
      }
      const batches: Buffer[] = []
      let bytes = 0
      while (chunk.length - at >= BATCH_LOG_OVERHEAD) {
        const size = batchSize(chunk, at)
        if (size > chunk.length - at) break
        if (batches.length > 0 && bytes + size > maxBytes) break
        const last = baseOffsetOf(chunk, at) + chunk.readInt32BE(at + BatchOffset.lastOffsetDelta)
        if (last >= limit) break
        batches.push(chunk.subarray(at, at + size))
        bytes += size
        at += size
      }
      return { batches, bytes }
    } catch (err) {
      if (seg.deleted) return 'retry'
      if (err instanceof KafkaError) throw err
      throw storageError(err)
    } finally {
      seg.release()
    }
  }

  // ---------------------------------------------------------------- timestamps

  /** ListOffsets by timestamp: the first record with timestamp >= ts, or null. */
  async offsetForTimestamp(ts: number): Promise<TimestampOffset | null> {
    const limit = this.writtenEnd
    for (const seg of this.segs) {
      if (seg.maxTimestamp < ts) continue
      seg.acquire()
      try {
        await seg.ensureOpen()
        const rel = seg.timeIndex.lookup(ts)
        let pos = rel >= 0 ? seg.offsetIndex.lookup(rel) : 0
        const end = seg.size
        while (pos < end) {
          const h = await seg.readRange(pos, BATCH_HEADER_SIZE)
          if (h.length < BATCH_HEADER_SIZE) break
          const size = batchSize(h)
          const base = baseOffsetOf(h)
          if (base >= limit) return null
          const last = base + h.readInt32BE(BatchOffset.lastOffsetDelta)
          if (maxTimestampOf(h) >= ts && last >= this.startOffset) {
            const batch = await seg.readRange(pos, size)
            const found = await this.firstRecordAtOrAfter(batch, ts)
            if (found && found.offset >= this.startOffset) return found
            if (found) return { offset: this.startOffset, timestamp: found.timestamp }
          }
          pos += size
        }
      } finally {
        seg.release()
      }
    }
    return null
  }

  private async firstRecordAtOrAfter(batch: Buffer, ts: number): Promise<TimestampOffset | null> {
    const base = baseOffsetOf(batch)
    const logAppend = (batch.readInt16BE(BatchOffset.attributes) & 0x08) !== 0
    if (logAppend) return { offset: base, timestamp: maxTimestampOf(batch) }
    const baseTs = readInt64(batch, BatchOffset.baseTimestamp)
    let found: TimestampOffset | null = null
    const visit = (offsetDelta: number, tsDelta: number): void => {
      if (found === null && baseTs + tsDelta >= ts) found = { offset: base + offsetDelta, timestamp: baseTs + tsDelta }
    }
    if (compressionOf(batch) === 0) forEachRecord(batch, (r) => visit(r.offsetDelta, r.timestampDelta))
    else if (this.codec) await this.codec.forEachRecord(batch, (od, td) => visit(od, td))
    else return { offset: base, timestamp: maxTimestampOf(batch) } // no decoder: batch granularity
    return found
  }

  /** ListOffsets MAX_TIMESTAMP: the batch holding the largest timestamp (its last offset). */
  maxTimestampEntry(): TimestampOffset {
    let best: TimestampOffset = { offset: -1, timestamp: -1 }
    for (const seg of this.segs) {
      if (seg.maxTimestamp > best.timestamp && seg.offsetOfMaxTimestamp < this.writtenEnd) best = { offset: seg.offsetOfMaxTimestamp, timestamp: seg.maxTimestamp }
    }
    return best
  }

  // ---------------------------------------------------------------- maintenance

  /** Runs maintenance operations one at a time, in order. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    // Maintenance is what shrinks (or rewrites) a log: the volume learns its new size after each.
    const run = this.maintenance.then(fn, fn).finally(() => this.recount())
    this.maintenance = run.catch(() => {})
    return run
  }

  /** DeleteRecords: moves the log start offset and deletes segments wholly below it. */
  deleteRecordsBefore(offset: number): Promise<number> {
    return this.exclusive(async () => {
      if (offset < 0 || offset > this.writtenEnd) {
        throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} beyond the log end ${this.writtenEnd}`)
      }
      if (offset > this.startOffset) await this.setLogStartOffset(offset)
      await this.deleteSegmentsWhile((seg, next) => next !== undefined && next.baseOffset <= this.startOffset)
      return this.startOffset
    })
  }

  private async setLogStartOffset(offset: number): Promise<void> {
    this.startOffset = offset
    if (this.firstDirtyOffset < offset) this.firstDirtyOffset = offset
    this.epochCache.truncateFromStart(offset)
    await this.opts.onLogStartOffsetChange?.(offset)
  }

  /**
   * Deletes segments from the oldest while `pred` holds. The active segment may go too (Kafka
   * rolls first so that a log always has one), but never one with writes still in flight.
   */
  private async deleteSegmentsWhile(pred: (seg: Segment, next: Segment | undefined) => boolean): Promise<number> {
    let deleted = 0
    while (this.segs.length > 0) {
      const seg = this.segs[0]
      const next = this.segs[1]
      if (!pred(seg, next)) break
      if (next === undefined) {
        if (seg.assignedSize === 0) break // the last segment and empty: nothing to delete
        await this.whenIdle()
        if (this.active !== seg) continue
        this.roll()
        continue
      }
      if (seg.assignedSize !== seg.size) await this.whenIdle()
      this.segs.shift()
      deleted++
      const newStart = this.segs[0].baseOffset
      if (newStart > this.startOffset) await this.setLogStartOffset(newStart)
      await this.deleteSegmentFiles(seg, false)
    }
    if (deleted > 0) await this.deleteOldSnapshots()
    return deleted
  }

  /** Removes a segment: renamed to `.deleted` at once, removed after file.delete.delay.ms. */
  async deleteSegmentFiles(seg: Segment, immediately: boolean): Promise<void> {
    seg.deleted = true
    const files: string[] = []
    for (const p of [seg.logPath, seg.indexPath, seg.timeIndexPath, seg.txnIndexPath]) {
      if (immediately) {
        await this.fs.unlink(p).catch(() => {})
      } else {
        try {
          await this.fs.rename(p, `${p}.deleted`)
          files.push(`${p}.deleted`)
        } catch {
          // index files may not exist
        }
      }
    }
    if (files.length > 0) this.pendingDeletes.push({ files, at: this.now() + this.config.fileDeleteDelayMs })
    if (seg.refs === 0) await seg.closeFile()
  }

  /** Removes `.deleted` files whose delay passed (called by the manager's sweep). */
  async purgeDeleted(force = false): Promise<void> {
    const now = this.now()
    const keep: Array<{ files: string[]; at: number }> = []
    for (const d of this.pendingDeletes) {
      if (force || d.at <= now) for (const f of d.files) await this.fs.unlink(f).catch(() => {})
      else keep.push(d)
    }
    this.pendingDeletes = keep
  }

  /** Retention by time and size (cleanup.policy contains delete). Returns segments deleted. */
  applyRetention(highWatermark = this.writtenEnd): Promise<number> {
    return this.exclusive(async () => {
      if (this.config.cleanupPolicy === 'compact') return 0
      const now = this.now()
      let deleted = 0
      const { retentionMs, retentionBytes } = this.config
      const below = (seg: Segment, next: Segment | undefined): boolean => (next ? next.baseOffset : this.nextOffset) <= highWatermark
      if (retentionMs >= 0) {
        deleted += await this.deleteSegmentsWhile((seg, next) => below(seg, next) && ((seg.size === 0 && next !== undefined) || (seg.size > 0 && seg.maxTimestamp >= 0 && now - seg.maxTimestamp > retentionMs)))
      }
      if (retentionBytes >= 0) {
        deleted += await this.deleteSegmentsWhile((seg, next) => next !== undefined && below(seg, next) && this.size - seg.size >= retentionBytes)
      }
      return deleted
    })
  }

  /** flush.ms: flushes when the last flush is older than the setting. */
  async maybeFlush(): Promise<void> {
    if (this.unflushedRecords > 0 && this.now() - this.lastFlushTime >= this.config.flushMs) await this.flush()
  }

  /** fdatasyncs the active segment and persists the index entries of flushed data. */
  async flush(): Promise<void> {
    await this.whenIdle()
    for (const seg of this.segs) {
      if (seg.fd < 0 || seg.deleted) continue
      const n = seg.offsetIndex.length
      const t = seg.timeIndex.length
      await this.fs.fdatasync(seg.fd)
      await seg.persistIndexes(false, n, t)
    }
    this.unflushedRecords = 0
    this.lastFlushTime = this.now()
  }

  /**
   * Replication: removes every batch at or after `offset` (whole batches), with what depends on
   * them: index entries, cached tail, epochs starting at or after the new end (the checkpoint is
   * written before this resolves), producer state (the newest snapshot at or below the new end,
   * then replay; newer snapshots are deleted) and aborted transactions whose marker is gone. Below
   * the log start offset it is truncateFullyAndStartAt(offset), as in Kafka.
   */
  truncateTo(offset: number): Promise<void> {
    return this.exclusive(async () => {
      await this.whenSealed()
      if (offset >= this.nextOffset) {
        // Nothing to cut, but an epoch this replica led without writing must go: a follower
        // that kept it would name it as its last fetched epoch and diverge forever.
        if (this.epochCache.truncateFromEnd(this.nextOffset)) await this.epochCache.flush()
        return
      }
      if (offset < this.startOffset) return this.truncateFully(offset)
      while (this.segs.length > 1 && this.active.baseOffset >= offset) {
        const seg = this.segs.pop()!
        await this.deleteSegmentFiles(seg, true)
      }
      const seg = this.active
      await seg.ensureOpen()
      // Find the first batch whose last offset >= offset.
      let pos = seg.offsetIndex.lookup(offset - seg.baseOffset)
      let cut = seg.size
      while (pos < seg.size) {
        const h = await seg.readRange(pos, BATCH_HEADER_SIZE)
        if (h.length < BATCH_HEADER_SIZE) break
        const last = baseOffsetOf(h) + h.readInt32BE(BatchOffset.lastOffsetDelta)
        if (last >= offset) {
          cut = pos
          break
        }
        pos += batchSize(h)
      }
      await this.fs.ftruncate(seg.fd, cut)
      // Rebuild this segment's state from scratch: simplest and rare.
      seg.offsetIndex.clear()
      seg.timeIndex.clear()
      seg.size = 0
      seg.nextOffset = seg.baseOffset
      seg.maxTimestamp = -1
      seg.offsetOfMaxTimestamp = -1
      seg.bytesSinceIndexEntry = 0
      seg.rollingBaseTimestamp = -1
      seg.batches = 0
      await scanSegment(seg, 0, cut)
      seg.assignedSize = seg.size
      await seg.persistIndexes(true)
      this.nextOffset = Math.max(seg.nextOffset, seg.baseOffset)
      this.writtenEnd = this.nextOffset
      this.tailTruncate(this.nextOffset)
      if (this.startOffset > this.nextOffset) this.startOffset = this.nextOffset
      if (this.firstDirtyOffset > this.nextOffset) this.firstDirtyOffset = this.nextOffset
      // Epochs: written now, so that a crash cannot bring back an epoch whose batches are gone
      // once other epochs write here.
      this.epochCache.truncateFromEnd(this.nextOffset)
      try {
        await this.epochCache.flush()
      } catch (err) {
        throw storageError(err)
      }
      // Producer state as of the new end: the newest snapshot at or below it, then replay.
      for (const s of this.pendingSnapshots) if (s.offset > this.nextOffset) s.valid = false
      for (const seg of this.segs) seg.truncateAbortedTxns(this.nextOffset)
      await this.rebuildProducerState()
    })
  }

  /**
   * Replication: drops every segment and starts an empty log whose start and end are `offset` (a
   * follower whose log end is below the leader's log start). Clears the epoch cache (written
   * before this resolves), the producer state and its snapshots, and the transaction indexes.
   */
  truncateFullyAndStartAt(offset: number): Promise<void> {
    return this.exclusive(async () => {
      await this.whenSealed()
      await this.truncateFully(offset)
    })
  }

  private async truncateFully(offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `invalid offset ${offset}`)
    if (this.closed) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'log is closed')
    const old = this.segs
    const seg = new Segment(this.dir, offset, this.fs, this.config.indexIntervalBytes)
    // Swapped in one step: readers see the old log or the new (empty) one.
    this.segs = [seg]
    this.nextOffset = offset
    this.writtenEnd = offset
    this.needsTruncate = null
    this.unflushedRecords = 0
    this.tailClear()
    this.producers.clear()
    this.completing = []
    for (const s of this.pendingSnapshots) s.valid = false
    this.startOffset = offset
    this.firstDirtyOffset = offset
    this.epochCache.clear()
    // The old files go before the new segment opens: it may have the same base offset.
    for (const o of old) await this.deleteSegmentFiles(o, true)
    for (const o of await this.snapshotOffsets()) await this.fs.unlink(this.snapshotPath(o)).catch(() => {})
    try {
      await seg.ensureOpen()
      await this.fs.ftruncate(seg.fd, 0)
      await seg.persistIndexes(true)
      await this.epochCache.flush()
    } catch (err) {
      throw storageError(err)
    }
    await this.opts.onLogStartOffsetChange?.(offset)
  }

  /** Replaces segments by a cleaned one (the cleaner). Synchronous in memory: readers see old or new. */
  replaceSegments(old: Segment[], replacement: Segment): void {
    const i = this.segs.indexOf(old[0])
    if (i < 0) throw new Error('segments to replace are gone')
    for (let k = 0; k < old.length; k++) if (this.segs[i + k] !== old[k]) throw new Error('segments to replace moved')
    // Aborted transactions stay listed: markers survive compaction.
    replacement.abortedTxns = old.flatMap((s) => s.abortedTxns)
    replacement.txnIndexDirty = replacement.abortedTxns.length > 0
    this.segs.splice(i, old.length, replacement)
  }

  /** Bytes this log holds: its segments and their offset and time index entries. */
  get diskBytes(): number {
    let n = 0
    for (const seg of this.segs) n += seg.diskBytes
    return n
  }

  /** Tells the volume the bytes this log holds now (after loading and after maintenance). */
  private recount(): void {
    const volume = this.opts.volume
    if (!volume || this.closed) return
    const now = this.diskBytes
    volume.add(now - this.counted)
    this.counted = now
  }

  updateConfig(config: Partial<LogConfig>): void {
    this.config = logConfig({ ...this.config, ...config })
  }

  /** Waits for queued writes, seals indexes and closes files. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.whenSealed()
    await this.maintenance
    try {
      // The epochs first: a snapshot promises that they are on disk up to its offset.
      await this.epochCache.close()
      await this.writeSnapshot(this.writtenEnd, this.producers.encode(this.writtenEnd))
    } catch (err) {
      this.log('writing the leader-epoch checkpoint or the producer snapshot failed', { error: String(err) })
    }
    const active = this.active
    for (const seg of this.segs) {
      if (seg.fd >= 0) await this.fs.fdatasync(seg.fd).catch(() => {})
      if (seg === active) seg.sealTimeIndex()
      await seg.persistIndexes(seg === active).catch((err) => this.log('persisting indexes failed', { error: String(err) }))
      await seg.closeFile()
    }
    await this.purgeDeleted(true)
    this.tailClear()
    this.opts.volume?.add(-this.counted)
    this.counted = 0
  }

  get isClosed(): boolean {
    return this.closed
  }

  private log(msg: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(msg, { dir: this.dir, ...fields })
  }
}

/** Writes all buffers at `position`, looping on short writes. */
async function writeAll(fs: StorageFs, fd: number, bufs: Buffer[], position: number): Promise<void> {
  let total = 0
  for (const b of bufs) total += b.length
  let written = await fs.writev(fd, bufs, position)
  while (written < total) {
    // Rebuild the remaining buffer list after a short write.
    let skip = written
    const rest: Buffer[] = []
    for (const b of bufs) {
      if (skip >= b.length) {
        skip -= b.length
        continue
      }
      rest.push(skip > 0 ? b.subarray(skip) : b)
      skip = 0
    }
    const n = await fs.writev(fd, rest, position + written)
    if (n <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' })
    written += n
  }
}
