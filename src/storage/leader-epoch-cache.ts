// The leader-epoch cache of a partition (Kafka's LeaderEpochFileCache): for each leader epoch
// that wrote to the log, the offset of its first batch. Followers use it through
// OffsetsForLeaderEpoch (`endOffsetFor`) to find where their log diverges from the leader's.
//
// Entries are kept sorted by epoch and by start offset, both strictly increasing. They are
// persisted in the partition directory as `leader-epoch-checkpoint`, Kafka's format:
//
//   0              <- version
//   2              <- number of entries
//   0 0            <- epoch startOffset
//   3 1200
//
// written atomically (temp file, fsync, rename, directory fsync). Writes are asynchronous and
// ordered: a change schedules a write of the whole (small) state, changes made meanwhile are
// coalesced into the next write, and `flush()` waits until the file holds the state as it was
// when called. The owner (PartitionLog) copes with a checkpoint that lags behind the log after a
// crash: it verifies the log's newest batch headers on open.

import path from 'node:path'
import type { StorageFs } from './fs-layer.js'

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint'
const CHECKPOINT_VERSION = 0

/** OffsetsForLeaderEpoch's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
export const UNDEFINED_EPOCH = -1
export const UNDEFINED_EPOCH_OFFSET = -1

export interface EpochEntry {
  epoch: number
  startOffset: number
}

export interface EpochEndOffset {
  epoch: number
  endOffset: number
}

export interface LeaderEpochCacheOptions {
  /** The checkpoint file; without it the cache lives in memory only. */
  file?: string
  fs?: StorageFs
  /** Reports failed background writes. */
  log?: (msg: string, fields?: Record<string, unknown>) => void
}

/** What `LeaderEpochCache.load` found on disk. */
export type CheckpointStatus = 'ok' | 'missing' | 'corrupt'

/** Encodes entries in Kafka's checkpoint-file format. */
export function encodeEpochCheckpoint(entries: readonly EpochEntry[]): string {
  let s = `${CHECKPOINT_VERSION}\n${entries.length}\n`
  for (const e of entries) s += `${e.epoch} ${e.startOffset}\n`
  return s
}

/** Parses a checkpoint file as Kafka's CheckpointFile reads it; throws on anything malformed. */
export function decodeEpochCheckpoint(text: string): EpochEntry[] {
  const lines = text.split('\n')
  // Kafka ends every line with a newline: one empty string after the last one.
  if (lines[lines.length - 1] === '') lines.pop()
  const int = (s: string | undefined, what: string): number => {
    if (s === undefined || !/^-?\d+$/.test(s)) throw new Error(`malformed ${what} ${JSON.stringify(s)} in leader-epoch checkpoint`)
    const n = Number(s)
    if (!Number.isSafeInteger(n)) throw new Error(`${what} ${s} out of range in leader-epoch checkpoint`)
    return n
  }
  const version = int(lines[0]?.trim(), 'version')
  if (version !== CHECKPOINT_VERSION) throw new Error(`unrecognised leader-epoch checkpoint version ${version}`)
  const count = int(lines[1]?.trim(), 'entry count')
  if (count < 0) throw new Error(`negative entry count ${count} in leader-epoch checkpoint`)
  if (lines.length - 2 !== count) throw new Error(`leader-epoch checkpoint announces ${count} entries but holds ${lines.length - 2}`)
  const out: EpochEntry[] = []
  for (let i = 0; i < count; i++) {
    const parts = lines[2 + i].trim().split(/\s+/)
    if (parts.length !== 2) throw new Error(`malformed leader-epoch checkpoint line ${JSON.stringify(lines[2 + i])}`)
    out.push({ epoch: int(parts[0], 'epoch'), startOffset: int(parts[1], 'start offset') })
  }
  return out
}

export class LeaderEpochCache {
  // Parallel arrays sorted by epoch (and so by start offset). A partition has few entries.
  private epochs: number[] = []
  private offsets: number[] = []
  /** Bumped by every change; the file holds `persisted`. */
  private version = 0
  private persisted = 0
  private writer: Promise<void> | null = null
  private lastError: unknown = null
  private closed = false
  readonly file: string | undefined
  private readonly fs: StorageFs | undefined

  constructor(private readonly opts: LeaderEpochCacheOptions = {}) {
    this.file = opts.file
    this.fs = opts.fs
    if ((this.file === undefined) !== (this.fs === undefined)) throw new Error('LeaderEpochCache: file and fs go together')
  }

  /**
   * Reads `<dir>/leader-epoch-checkpoint`. A missing file gives an empty cache and status
   * 'missing'; an unreadable or malformed one (a torn write) an empty cache and 'corrupt': the
   * caller rebuilds it from the log in both cases.
   */
  static async load(dir: string, fs: StorageFs, log?: LeaderEpochCacheOptions['log']): Promise<{ cache: LeaderEpochCache; status: CheckpointStatus }> {
    const file = path.join(dir, LEADER_EPOCH_CHECKPOINT)
    const cache = new LeaderEpochCache({ file, fs, log })
    // Kafka creates the file empty with the log: an empty file is as good as none.
    if ((await fs.statSize(file)) <= 0) return { cache, status: 'missing' }
    // Filled in memory first: loading writes nothing.
    const mem = new LeaderEpochCache()
    try {
      // Through assign, as Kafka does: a file whose entries do not increase cannot break the order.
      for (const e of decodeEpochCheckpoint((await fs.readFile(file)).toString('utf8'))) mem.assign(e.epoch, e.startOffset)
    } catch (err) {
      log?.('ignoring unreadable leader-epoch checkpoint', { file, error: String(err) })
      cache.markDirty()
      return { cache, status: 'corrupt' }
    }
    cache.epochs = mem.epochs
    cache.offsets = mem.offsets
    return { cache, status: 'ok' }
  }

  // ---------------------------------------------------------------- reading

  /** The newest epoch, -1 when the cache is empty. */
  get latestEpoch(): number {
    const n = this.epochs.length
    return n > 0 ? this.epochs[n - 1] : UNDEFINED_EPOCH
  }

  /** The newest entry, or undefined. */
  get latestEntry(): EpochEntry | undefined {
    const n = this.epochs.length
    return n > 0 ? { epoch: this.epochs[n - 1], startOffset: this.offsets[n - 1] } : undefined
  }

  get earliestEntry(): EpochEntry | undefined {
    return this.epochs.length > 0 ? { epoch: this.epochs[0], startOffset: this.offsets[0] } : undefined
  }

  get size(): number {
    return this.epochs.length
  }

  entries(): EpochEntry[] {
    return this.epochs.map((epoch, i) => ({ epoch, startOffset: this.offsets[i] }))
  }

  /** The epoch that wrote `offset` (the entry with the largest start offset <= it), or -1. */
  epochForOffset(offset: number): number {
    let found = UNDEFINED_EPOCH
    for (let i = 0; i < this.epochs.length && this.offsets[i] <= offset; i++) found = this.epochs[i]
    return found
  }

  /**
   * OffsetsForLeaderEpoch, as Kafka's LeaderEpochFileCache.endOffsetFor: the largest epoch <=
   * `requestedEpoch` and the end offset of that epoch, i.e. the start offset of the first larger
   * epoch, or `logEndOffset` when the requested epoch is the latest.
   * - requested -1 (UNDEFINED_EPOCH): (-1, -1);
   * - requested == latest epoch: (requested, logEndOffset);
   * - no epoch larger than requested (also: an empty cache): (-1, -1);
   * - requested below every epoch: (requested, start offset of the first epoch);
   * - else: (largest epoch <= requested, start offset of the first epoch > requested).
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    if (requestedEpoch === UNDEFINED_EPOCH) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }
    const n = this.epochs.length
    if (n > 0 && this.epochs[n - 1] === requestedEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset }
    // first index whose epoch > requested
    let lo = 0
    let hi = n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.epochs[mid] > requestedEpoch) hi = mid
      else lo = mid + 1
    }
    if (lo === n) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }
    if (lo === 0) return { epoch: requestedEpoch, endOffset: this.offsets[0] }
    return { epoch: this.epochs[lo - 1], endOffset: this.offsets[lo] }
  }

  // ---------------------------------------------------------------- changes

  /**
   * Records that `epoch` starts at `startOffset`. Ignored when `epoch` is not newer than the
   * latest epoch (an epoch, once assigned, keeps its start). Entries that would no longer be
   * increasing (a start offset >= the new one) are removed first, as Kafka's assign does: an
   * epoch that wrote nothing before the next leader took over is replaced. Returns whether the
   * cache changed.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(startOffset) || epoch < 0 || startOffset < 0) {
      throw new RangeError(`invalid leader epoch entry (${epoch}, ${startOffset})`)
    }
    let n = this.epochs.length
    if (n > 0 && epoch <= this.epochs[n - 1]) return false
    while (n > 0 && this.offsets[n - 1] >= startOffset) n--
    this.epochs.length = n
    this.offsets.length = n
    this.epochs.push(epoch)
    this.offsets.push(startOffset)
    this.changed()
    return true
  }

  /** The log was truncated to `endOffset`: removes entries starting at or after it. */
  truncateFromEnd(endOffset: number): boolean {
    let n = this.epochs.length
    if (endOffset < 0) return false
    while (n > 0 && this.offsets[n - 1] >= endOffset) n--
    if (n === this.epochs.length) return false
    this.epochs.length = n
    this.offsets.length = n
    this.changed()
    return true
  }

  /**
   * The log start moved to `startOffset`: entries starting at or before it are removed except the
   * last of them, which now starts at `startOffset` (Kafka keeps the epoch covering the new start).
   */
  truncateFromStart(startOffset: number): boolean {
    let k = 0
    while (k < this.epochs.length && this.offsets[k] <= startOffset) k++
    if (k === 0) return false
    if (k === 1 && this.offsets[0] === startOffset) return false
    const epoch = this.epochs[k - 1]
    this.epochs.splice(0, k, epoch)
    this.offsets.splice(0, k, startOffset)
    this.changed()
    return true
  }

  /** Removes every entry. */
  clear(): void {
    if (this.epochs.length === 0) return
    this.epochs = []
    this.offsets = []
    this.changed()
  }

  // ---------------------------------------------------------------- persistence

  /** The file lags behind the cache. */
  get dirty(): boolean {
    return this.persisted !== this.version
  }

  private changed(): void {
    this.version++
    if (this.file !== undefined && !this.closed && this.writer === null) this.writer = this.writeLoop()
  }

  /** Writes the current state until the file holds the newest one; never rejects. */
  private async writeLoop(): Promise<void> {
    try {
      while (this.persisted !== this.version && !this.closed) {
        const v = this.version
        const data = encodeEpochCheckpoint(this.entries())
        try {
          await this.fs!.writeFileAtomic(this.file!, data)
          await this.fs!.fsyncDir?.(path.dirname(this.file!))
          this.lastError = null
          this.persisted = v
        } catch (err) {
          this.lastError = err
          // The partition directory is gone (deleted): nothing left to persist.
          if ((err as NodeJS.ErrnoException)?.code !== 'ENOENT') this.opts.log?.('writing the leader-epoch checkpoint failed', { file: this.file, error: String(err) })
          return
        }
      }
    } finally {
      this.writer = null
    }
  }

  /**
   * Resolves once the file holds the state as of this call (writing it if needed); rejects with
   * the error of a failed write (after one more attempt).
   */
  async flush(): Promise<void> {
    if (this.file === undefined) return
    const target = this.version
    let retried = false
    for (;;) {
      if (this.persisted >= target) return
      if (this.writer) {
        await this.writer
        continue
      }
      if (retried || this.closed) throw this.lastError ?? new Error('leader-epoch cache is closed')
      retried = true
      this.writer = this.writeLoop()
    }
  }

  /** Marks the file stale (unreadable, or rebuilt): the next flush rewrites it even if nothing changed. */
  markDirty(): void {
    if (this.persisted === this.version) this.persisted--
  }

  /** Writes what is pending, then stops writing (the log is closing). */
  async close(): Promise<void> {
    if (this.closed) return
    try {
      await this.flush()
    } finally {
      this.closed = true
    }
  }
}
