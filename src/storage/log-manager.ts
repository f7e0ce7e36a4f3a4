// Owns a data directory of partition logs, in Kafka's layout: `<dataDir>/<topic>-<partition>/`.
// Loads (and recovers) every partition at start, creates and deletes them, and runs one
// background sweep for all partitions: flush.ms, retention, deleted-file removal, compaction.

import path from 'node:path'
import { randomUUID } from 'node:crypto'
import { KafkaError, ErrorCode } from '../protocol/errors.js'
import { Cleaner } from './cleaner.js'
import { type LogConfig, isCompacted, logConfig } from './config.js'
import { type StorageFs, nodeFs } from './fs-layer.js'
import { PartitionLog, type RecordCodec } from './partition-log.js'
import { Volume } from './volume.js'

/** The subset of a pino logger storage uses. */
export interface StorageLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface LogManagerOptions {
  log?: StorageLogger
  fs?: StorageFs
  now?: () => number
  /** Period of the background sweep (flush.ms, deletes, cleaner). Default 1 s. */
  sweepIntervalMs?: number
  /** log.cleaner.backoff.ms: how often the compaction cleaner looks for work. Default 15 s. */
  cleanerBackoffMs?: number
  /** log.retention.check.interval.ms. Default 5 min. */
  retentionCheckIntervalMs?: number
  /** producer.id.expiration.check.interval.ms: how often idle producers are expired. Default 10 min. */
  producerExpirationCheckIntervalMs?: number
  /** Run the compaction cleaner in the sweep. Default true. */
  cleanerEnabled?: boolean
  /** Record decoder for compressed batches (compaction, timestamp lookups). */
  codec?: RecordCodec
  /** High watermark per partition; retention never deletes at or beyond it. Default: the log end. */
  highWatermark?: (topic: string, partition: number) => number | undefined
  /**
   * volume.size.bytes: the size of the volume the logs live on. Once the segments and indexes
   * reach it, writes fail as on a full disk. -1 (default): the file system's own size.
   */
  volumeSizeBytes?: number
}

export interface PartitionSize {
  topic: string
  partition: number
  size: number
}

export interface LogDirDescription {
  path: string
  totalBytes: number
  partitions: PartitionSize[]
}

export const CLEAN_SHUTDOWN_FILE = '.clean-shutdown'
export const LOG_START_CHECKPOINT = 'log-start-offset-checkpoint'
export const CLEANER_CHECKPOINT = 'cleaner-offset-checkpoint'

const key = (topic: string, partition: number): string => `${topic}-${partition}`

export class LogManager {
  private logs = new Map<string, { topic: string; partition: number; log: PartitionLog }>()
  private readonly fs: StorageFs
  private readonly now: () => number
  private timer: NodeJS.Timeout | null = null
  private sweeping = false
  private lastRetentionCheck = 0
  private lastCleanerRun = 0
  private lastProducerExpiry = 0
  private background = new Set<Promise<unknown>>()
  private checkpointDirty = false
  private checkpointWrite: Promise<void> = Promise.resolve()
  private opened = false
  readonly cleaner: Cleaner
  /** The bytes every partition log holds, as a running total, and the quota on them. */
  readonly volume: Volume

  constructor(
    readonly dataDir: string,
    private readonly opts: LogManagerOptions = {},
  ) {
    this.fs = opts.fs ?? nodeFs
    this.now = opts.now ?? Date.now
    this.cleaner = new Cleaner(this.opts.log)
    this.volume = new Volume(opts.volumeSizeBytes ?? -1)
  }

  /** Loads every partition directory, recovering those left by an unclean stop, and starts the sweep. */
  async open(configFor: (topic: string, partition: number) => Partial<LogConfig> = () => ({})): Promise<void> {
    const fs = this.fs
    await fs.mkdir(this.dataDir)
    const markerPath = path.join(this.dataDir, CLEAN_SHUTDOWN_FILE)
    const cleanShutdown = await fs.exists(markerPath)
    const startOffsets = await this.readCheckpoint(LOG_START_CHECKPOINT)
    const dirtyOffsets = await this.readCheckpoint(CLEANER_CHECKPOINT)
    const started = this.now()
    for (const name of await fs.readdir(this.dataDir)) {
      if (name.endsWith('-delete')) {
        this.track(fs.rm(path.join(this.dataDir, name)))
        continue
      }
      const m = /^(.+)-(\d+)$/.exec(name)
      if (!m) continue
      const topic = m[1]
      const partition = Number(m[2])
      const k = key(topic, partition)
      const log = await PartitionLog.open(path.join(this.dataDir, name), configFor(topic, partition), {
        ...this.partitionOptions(topic, partition),
        logStartOffset: startOffsets.get(k),
        cleanShutdown,
      })
      const dirty = dirtyOffsets.get(k)
      if (dirty !== undefined) log.firstDirtyOffset = Math.min(Math.max(dirty, log.logStartOffset), log.logEndOffset)
      this.logs.set(k, { topic, partition, log })
    }
    // From now on a crash is an unclean shutdown.
    if (cleanShutdown) await fs.unlink(markerPath)
    this.opts.log?.info({ dataDir: this.dataDir, partitions: this.logs.size, cleanShutdown, ms: this.now() - started }, 'logs loaded')
    this.lastRetentionCheck = this.now()
    this.lastProducerExpiry = this.now()
    this.opened = true
    this.startSweep()
  }

  private partitionOptions(topic: string, partition: number) {
    return {
      fs: this.fs,
      now: this.now,
      codec: this.opts.codec,
      volume: this.volume,
      onLogStartOffsetChange: () => this.saveCheckpoints(),
      log: this.opts.log ? (msg: string, fields?: Record<string, unknown>) => this.opts.log!.warn({ topic, partition, ...fields }, msg) : undefined,
    }
  }

  async createPartition(topic: string, partition: number, config: Partial<LogConfig> = {}): Promise<PartitionLog> {
    const k = key(topic, partition)
    const existing = this.logs.get(k)
    if (existing) {
      existing.log.updateConfig(config)
      return existing.log
    }
    const log = await PartitionLog.open(path.join(this.dataDir, k), config, this.partitionOptions(topic, partition))
    this.logs.set(k, { topic, partition, log })
    return log
  }

  getPartition(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(key(topic, partition))?.log
  }

  /** Like Kafka: the directory is renamed to `<dir>.<uuid>-delete` at once, removed in the background. */
  async deletePartition(topic: string, partition: number): Promise<void> {
    const k = key(topic, partition)
    const entry = this.logs.get(k)
    if (!entry) return
    this.logs.delete(k)
    this.cleaner.forget(entry.log)
    await entry.log.close()
    const dir = path.join(this.dataDir, k)
    const doomed = path.join(this.dataDir, `${k}.${randomUUID().replace(/-/g, '')}-delete`)
    try {
      await this.fs.rename(dir, doomed)
    } catch (err) {
      throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `cannot delete ${dir}: ${String(err)}`)
    }
    this.track(this.fs.rm(doomed))
    await this.saveCheckpoints()
  }

  updateConfig(topic: string, config: Partial<LogConfig>): void {
    for (const e of this.logs.values()) if (e.topic === topic) e.log.updateConfig(config)
  }

  *partitions(): IterableIterator<{ topic: string; partition: number; log: PartitionLog }> {
    yield* this.logs.values()
  }

  /** For DescribeLogDirs. */
  describe(): LogDirDescription {
    const partitions: PartitionSize[] = []
    let totalBytes = 0
    for (const e of this.logs.values()) {
      const size = e.log.size
      totalBytes += size
      partitions.push({ topic: e.topic, partition: e.partition, size })
    }
    return { path: this.dataDir, totalBytes, partitions }
  }

  get totalBytes(): number {
    let n = 0
    for (const e of this.logs.values()) n += e.log.size
    return n
  }

  // ---------------------------------------------------------------- the sweep

  private startSweep(): void {
    const every = this.opts.sweepIntervalMs ?? 1000
    if (every <= 0) return
    this.timer = setInterval(() => {
      if (!this.sweeping) this.track(this.sweep())
    }, every)
    this.timer.unref()
  }

  /** One pass of background work over all partitions (also callable from tests). */
  async sweep(forceRetention = false): Promise<void> {
    if (this.sweeping) return
    this.sweeping = true
    try {
      const now = this.now()
      const checkRetention = forceRetention || now - this.lastRetentionCheck >= (this.opts.retentionCheckIntervalMs ?? 300_000)
      if (checkRetention) this.lastRetentionCheck = now
      const expireProducers = now - this.lastProducerExpiry >= (this.opts.producerExpirationCheckIntervalMs ?? 600_000)
      if (expireProducers) this.lastProducerExpiry = now
      for (const e of [...this.logs.values()]) {
        const { log } = e
        if (log.isClosed) continue
        try {
          await log.maybeFlush()
          if (expireProducers) log.expireProducers(now)
          if (checkRetention) {
            const hw = this.opts.highWatermark?.(e.topic, e.partition)
            const n = await log.applyRetention(hw)
            if (n > 0) this.opts.log?.info({ topic: e.topic, partition: e.partition, segments: n, logStartOffset: log.logStartOffset }, 'retention deleted segments')
          }
          await log.purgeDeleted()
        } catch (err) {
          this.opts.log?.error({ topic: e.topic, partition: e.partition, err }, 'log maintenance failed')
        }
      }
      if (this.opts.cleanerEnabled !== false && now - this.lastCleanerRun >= (this.opts.cleanerBackoffMs ?? 15_000)) {
        this.lastCleanerRun = now
        this.cleaner.schedule(this.compactedLogs(), () => this.saveCheckpoints())
      }
      if (this.checkpointDirty) await this.saveCheckpoints()
    } finally {
      this.sweeping = false
    }
  }

  private compactedLogs(): PartitionLog[] {
    const out: PartitionLog[] = []
    for (const e of this.logs.values()) if (isCompacted(e.log.config) && !e.log.isClosed) out.push(e.log)
    return out
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch((err) => this.opts.log?.error({ err }, 'storage background task failed'))
    this.background.add(q)
    void q.finally(() => this.background.delete(q))
  }

  // ---------------------------------------------------------------- checkpoints

  private async readCheckpoint(name: string): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    let text: string
    try {
      text = (await this.fs.readFile(path.join(this.dataDir, name))).toString('utf8')
    } catch {
      return out
    }
    const lines = text.split('\n').filter((l) => l.length > 0)
    for (const line of lines.slice(2)) {
      const parts = line.split(' ')
      if (parts.length < 3) continue
      const offset = Number(parts[parts.length - 1])
      const partition = Number(parts[parts.length - 2])
      const topic = parts.slice(0, -2).join(' ')
      if (Number.isFinite(offset) && Number.isInteger(partition)) out.set(key(topic, partition), offset)
    }
    return out
  }

  /** Writes log-start-offset-checkpoint and cleaner-offset-checkpoint (Kafka's format). */
  saveCheckpoints(): Promise<void> {
    this.checkpointDirty = true
    const run = this.checkpointWrite.then(async () => {
      if (!this.checkpointDirty) return
      this.checkpointDirty = false
      const starts: string[] = []
      const dirty: string[] = []
      for (const e of this.logs.values()) {
        starts.push(`${e.topic} ${e.partition} ${e.log.logStartOffset}`)
        if (isCompacted(e.log.config)) dirty.push(`${e.topic} ${e.partition} ${e.log.firstDirtyOffset}`)
      }
      const fmt = (rows: string[]) => `0\n${rows.length}\n${rows.map((r) => `${r}\n`).join('')}`
      await this.fs.writeFileAtomic(path.join(this.dataDir, LOG_START_CHECKPOINT), fmt(starts))
      await this.fs.writeFileAtomic(path.join(this.dataDir, CLEANER_CHECKPOINT), fmt(dirty))
    })
    this.checkpointWrite = run.catch(() => {})
    return run
  }

  /** Clean shutdown: stops the sweep and cleaner, closes every log, writes checkpoints and the marker. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.cleaner.stop()
    while (this.background.size > 0) await Promise.all([...this.background])
    let ok = true
    for (const e of this.logs.values()) {
      try {
        await e.log.close()
      } catch (err) {
        ok = false
        this.opts.log?.error({ topic: e.topic, partition: e.partition, err }, 'closing log failed')
      }
    }
    if (!this.opened) return
    await this.saveCheckpoints()
    if (ok) await this.fs.writeFileAtomic(path.join(this.dataDir, CLEAN_SHUTDOWN_FILE), '')
    this.logs.clear()
    this.opened = false
  }
}

export { logConfig }
