// Log compaction (cleanup.policy=compact): keeps the latest record per key in the inactive
// segments. One log at a time, in small steps that yield to the event loop so produce and fetch
// never wait. Cleaned segments are written to `.cleaned`, renamed `.swap`, swapped in memory in
// one synchronous step, then renamed `.log`; readers holding an old segment keep its open file.

import path from 'node:path'
import { setImmediate as yieldLoop } from 'node:timers/promises'
import { crc32c } from '@node-rs/crc32'
import {
  Attributes,
  BATCH_HEADER_SIZE,
  BATCH_LOG_OVERHEAD,
  BatchOffset,
  Compression,
  baseOffsetOf,
  batchSize,
  compressionOf,
  readInt64,
  writeInt64,
} from '../protocol/record-batch.js'
import { buildBatch, readRecords } from '../protocol/records.js'
import type { StorageLogger } from './log-manager.js'
import type { PartitionLog } from './partition-log.js'
import { forEachRecord } from './record-view.js'
import { Segment, segmentFileName } from './segment.js'

const CHUNK = 256 * 1024

export interface CleanStats {
  cleaned: boolean
  reason?: string
  segmentsIn: number
  segmentsOut: number
  bytesIn: number
  bytesOut: number
  recordsRemoved: number
  firstDirtyOffset: number
}

interface Retained {
  offsetDelta: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: { key: string; value: Buffer | null }[]
  start: number
  end: number
}

export class Cleaner {
  private running: Promise<unknown> | null = null
  private stopped = false
  private forgotten = new WeakSet<PartitionLog>()

  constructor(private readonly log?: StorageLogger) {}

  /** Starts cleaning the dirtiest eligible log, unless a clean is already running. */
  schedule(logs: PartitionLog[], onCleaned: () => Promise<void>): void {
    if (this.running || this.stopped) return
    const candidates = logs.filter((l) => !this.forgotten.has(l))
    if (candidates.length === 0) return
    let best: PartitionLog | null = null
    let bestRatio = -1
    for (const l of candidates) {
      const r = dirtyRatio(l)
      if (r.eligible && r.ratio > bestRatio) {
        best = l
        bestRatio = r.ratio
      }
    }
    if (!best) return
    const target = best
    this.running = this.clean(target)
      .then(async (stats) => {
        if (stats.cleaned) {
          this.log?.info({ dir: target.dir, ...stats }, 'compacted log')
          await onCleaned()
        }
      })
      .catch((err) => this.log?.error({ dir: target.dir, err }, 'compaction failed'))
      .finally(() => {
        this.running = null
      })
  }

  forget(log: PartitionLog): void {
    this.forgotten.add(log)
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.running
  }

  get isStopped(): boolean {
    return this.stopped
  }

  /** Compacts one log now if its dirty section qualifies (`force` ignores the dirty ratio). */
  clean(log: PartitionLog, force = false): Promise<CleanStats> {
    return log.exclusive(() => cleanLog(log, force, () => this.stopped || log.isClosed))
  }
}

interface Plan {
  /** Segments that may be rewritten: from the log start to the first uncleanable one. */
  cleanable: Segment[]
  firstDirty: number
  firstUncleanable: number
  cleanBytes: number
  dirtyBytes: number
}

function plan(log: PartitionLog): Plan {
  const segs = log.segmentList
  const now = log.now()
  const lag = log.config.minCompactionLagMs
  const cleanable: Segment[] = []
  let firstUncleanable = segs[segs.length - 1].baseOffset
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i]
    // Unfinished writes, records younger than min.compaction.lag.ms, or beyond what readers see.
    const next = segs[i + 1].baseOffset
    if (s.assignedSize !== s.size || (lag > 0 && s.maxTimestamp > now - lag) || next > log.writtenEndOffset) {
      firstUncleanable = s.baseOffset
      break
    }
    cleanable.push(s)
  }
  const firstDirty = Math.max(log.firstDirtyOffset, log.logStartOffset)
  let cleanBytes = 0
  let dirtyBytes = 0
  for (let i = 0; i < cleanable.length; i++) {
    const next = i + 1 < cleanable.length ? cleanable[i + 1].baseOffset : firstUncleanable
    if (next <= firstDirty) cleanBytes += cleanable[i].size
    else dirtyBytes += cleanable[i].size
  }
  return { cleanable, firstDirty, firstUncleanable, cleanBytes, dirtyBytes }
}

function dirtyRatio(log: PartitionLog): { ratio: number; eligible: boolean } {
  if (log.isClosed) return { ratio: 0, eligible: false }
  const p = plan(log)
  if (p.dirtyBytes === 0) return { ratio: 0, eligible: false }
  const ratio = p.dirtyBytes / (p.cleanBytes + p.dirtyBytes)
  if (ratio >= log.config.minCleanableDirtyRatio) return { ratio, eligible: true }
  // max.compaction.lag.ms: a dirty section that has waited too long is cleaned anyway.
  const firstDirtySeg = p.cleanable.find((s, i) => (p.cleanable[i + 1]?.baseOffset ?? p.firstUncleanable) > p.firstDirty)
  const age = firstDirtySeg && firstDirtySeg.rollingBaseTimestamp >= 0 ? log.now() - firstDirtySeg.rollingBaseTimestamp : 0
  return { ratio, eligible: age > log.config.maxCompactionLagMs }
}

/** Iterates the batches of a segment in chunks, yielding to the event loop between chunks. */
async function* batchesOf(seg: Segment, stop: () => boolean): AsyncGenerator<Buffer> {
  let pos = 0
  while (pos < seg.size) {
    if (stop()) throw new Error('cleaner stopped')
    let chunk = await seg.readRange(pos, Math.min(CHUNK, seg.size - pos))
    if (chunk.length >= BATCH_LOG_OVERHEAD && batchSize(chunk) > chunk.length) chunk = await seg.readRange(pos, batchSize(chunk))
    let at = 0
    while (chunk.length - at >= BATCH_LOG_OVERHEAD) {
      const size = batchSize(chunk, at)
      if (size > chunk.length - at) break
      yield chunk.subarray(at, at + size)
      at += size
    }
    if (at === 0) throw new Error(`unreadable batch at ${seg.logPath}:${pos}`)
    pos += at
    await yieldLoop()
  }
}

function isControl(batch: Buffer): boolean {
  return (batch.readInt16BE(BatchOffset.attributes) & Attributes.control) !== 0
}

/** Records of a batch with what the cleaner needs; uncompressed batches keep their byte ranges. */
function recordsOf(batch: Buffer): Retained[] {
  const out: Retained[] = []
  if (compressionOf(batch) === Compression.None) {
    const baseTs = readInt64(batch, BatchOffset.baseTimestamp)
    forEachRecord(batch, (r) =>
      out.push({ offsetDelta: r.offsetDelta, timestamp: baseTs + r.timestampDelta, key: r.key, value: r.valueIsNull ? null : Buffer.alloc(0), headers: [], start: r.start, end: r.end }),
    )
    return out
  }
  const base = baseOffsetOf(batch)
  for (const r of readRecords(batch)) out.push({ offsetDelta: r.offset - base, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers, start: 0, end: 0 })
  return out
}

async function cleanLog(log: PartitionLog, force: boolean, stop: () => boolean): Promise<CleanStats> {
  const p = plan(log)
  const stats: CleanStats = { cleaned: false, segmentsIn: 0, segmentsOut: 0, bytesIn: 0, bytesOut: 0, recordsRemoved: 0, firstDirtyOffset: p.firstDirty }
  if (p.dirtyBytes === 0) return { ...stats, reason: 'nothing dirty' }
  if (!force && !dirtyRatio(log).eligible) return { ...stats, reason: 'below min.cleanable.dirty.ratio' }

  // 1. Offset map over the dirty section: key -> offset of its latest record.
  const latest = new Map<string, number>()
  for (const seg of p.cleanable) {
    seg.acquire()
    try {
      for await (const batch of batchesOf(seg, stop)) {
        const base = baseOffsetOf(batch)
        const last = base + batch.readInt32BE(BatchOffset.lastOffsetDelta)
        if (last < p.firstDirty || isControl(batch)) continue
        for (const r of recordsOf(batch)) {
          if (r.key !== null && base + r.offsetDelta >= p.firstDirty) latest.set(r.key.toString('latin1'), base + r.offsetDelta)
        }
      }
    } finally {
      seg.release()
    }
  }

  // 2. Rewrite groups of segments (each group at most segment.bytes) into one segment each.
  const now = log.now()
  const tombstoneHorizon = now - log.config.deleteRetentionMs
  const groups: Segment[][] = []
  for (const seg of p.cleanable) {
    const g = groups[groups.length - 1]
    const gBytes = g ? g.reduce((n, s) => n + s.size, 0) : 0
    if (g && gBytes + seg.size <= log.config.segmentBytes && seg.nextOffset - g[0].baseOffset < 0x7fffffff) g.push(seg)
    else groups.push([seg])
  }
  for (const group of groups) {
    if (stop()) throw new Error('cleaner stopped')
    const base = group[0].baseOffset
    const cleanedPath = path.join(log.dir, segmentFileName(base, '.log.cleaned'))
    const swapPath = path.join(log.dir, segmentFileName(base, '.log.swap'))
    const fs = log.fs
    const out = new Segment(log.dir, base, fs, log.config.indexIntervalBytes)
    out.fd = await fs.open(cleanedPath, 'w+')
    try {
      let pending: Buffer[] = []
      let pendingBytes = 0
      let position = 0
      const flushPending = async () => {
        if (pending.length === 0) return
        let written = 0
        while (written < pendingBytes) {
          const joined = written === 0 ? pending : [Buffer.concat(pending).subarray(written)]
          const n = await fs.writev(out.fd, joined, position + written)
          if (n <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' })
          written += n
        }
        let pos = position
        for (const b of pending) {
          out.onBatchWritten(b, 0, pos, b.length)
          pos += b.length
        }
        position += pendingBytes
        pending = []
        pendingBytes = 0
      }
      for (const seg of group) {
        stats.segmentsIn++
        stats.bytesIn += seg.size
        seg.acquire()
        try {
          for await (const batch of batchesOf(seg, stop)) {
            const kept = await cleanBatch(batch, latest, tombstoneHorizon, stats)
            if (kept === null) continue
            pending.push(kept)
            pendingBytes += kept.length
            if (pendingBytes >= CHUNK) await flushPending()
          }
        } finally {
          seg.release()
        }
      }
      await flushPending()
      await fs.fdatasync(out.fd)
      await fs.rename(cleanedPath, swapPath)
    } catch (err) {
      await fs.close(out.fd).catch(() => {})
      await fs.unlink(cleanedPath).catch(() => {})
      throw err
    }
    // Swap: in memory first (synchronously), then the files.
    out.assignedSize = out.size
    out.sealTimeIndex()
    log.replaceSegments(group, out)
    for (const old of group) await log.deleteSegmentFiles(old, false)
    await fs.rename(swapPath, out.logPath)
    await out.persistIndexes(true)
    stats.segmentsOut++
    stats.bytesOut += out.size
  }
  log.firstDirtyOffset = Math.max(log.firstDirtyOffset, p.firstUncleanable)
  stats.firstDirtyOffset = log.firstDirtyOffset
  stats.cleaned = true
  return stats
}

/** The batch with only the records to keep; the original buffer when all stay; null when none. */
async function cleanBatch(batch: Buffer, latest: Map<string, number>, tombstoneHorizon: number, stats: CleanStats): Promise<Buffer | null> {
  if (isControl(batch)) return batch
  const base = baseOffsetOf(batch)
  const records = recordsOf(batch)
  const keep: Retained[] = []
  for (const r of records) {
    if (r.key === null) continue
    const newest = latest.get(r.key.toString('latin1'))
    if (newest !== undefined && base + r.offsetDelta < newest) continue
    if (r.value === null && r.timestamp < tombstoneHorizon) continue
    keep.push(r)
  }
  stats.recordsRemoved += records.length - keep.length
  if (keep.length === records.length) return batch
  if (keep.length === 0) return null
  const logAppend = (batch.readInt16BE(BatchOffset.attributes) & Attributes.timestampTypeLogAppend) !== 0
  const maxTs = logAppend ? readInt64(batch, BatchOffset.maxTimestamp) : Math.max(...keep.map((r) => r.timestamp))
  const codec = compressionOf(batch)
  let out: Buffer
  if (codec === Compression.None) {
    // Record bytes are relative to the batch's base offset and timestamp, which stay: copy them as they are.
    let size = BATCH_HEADER_SIZE
    for (const r of keep) size += r.end - r.start
    out = Buffer.allocUnsafe(size)
    batch.copy(out, 0, 0, BATCH_HEADER_SIZE)
    let at = BATCH_HEADER_SIZE
    for (const r of keep) at += batch.copy(out, at, r.start, r.end)
  } else {
    const attrs = batch.readInt16BE(BatchOffset.attributes)
    out = await buildBatch({
      baseOffset: base,
      records: keep.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, offsetDelta: r.offsetDelta })),
      compression: codec,
      producerId: readInt64(batch, BatchOffset.producerId),
      producerEpoch: batch.readInt16BE(BatchOffset.producerEpoch),
      baseSequence: batch.readInt32BE(BatchOffset.baseSequence),
      transactional: (attrs & Attributes.transactional) !== 0,
      partitionLeaderEpoch: batch.readInt32BE(BatchOffset.partitionLeaderEpoch),
      timestampType: logAppend ? 'LogAppendTime' : 'CreateTime',
      logAppendTime: logAppend ? maxTs : undefined,
      timestamp: readInt64(batch, BatchOffset.baseTimestamp),
    })
  }
  // Header fields that follow the kept records; the rest (producer id, epoch, sequence, base
  // timestamp, attributes) stay as the producer wrote them.
  writeInt64(out, BatchOffset.baseOffset, base)
  out.writeInt32BE(out.length - BATCH_LOG_OVERHEAD, BatchOffset.batchLength)
  out.writeInt32BE(keep[keep.length - 1].offsetDelta, BatchOffset.lastOffsetDelta)
  out.writeInt32BE(keep.length, BatchOffset.recordCount)
  writeInt64(out, BatchOffset.maxTimestamp, maxTs)
  if (codec === Compression.None) writeInt64(out, BatchOffset.baseTimestamp, readInt64(batch, BatchOffset.baseTimestamp))
  out.writeUInt32BE(crc32c(out.subarray(BatchOffset.attributes)), BatchOffset.crc)
  return out
}
