// Per-partition log configuration: Kafka's topic-level log configs, in milliseconds and bytes.
// The broker owns topic configs and hands a LogConfig to each partition; storage only reads it.

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete'

export interface LogConfig {
  /** segment.bytes: roll the active segment before it would pass this size. */
  segmentBytes: number
  /** segment.ms: roll the active segment once its first batch is this old. */
  segmentMs: number
  /** retention.ms: delete segments whose newest timestamp is older; -1 keeps forever. */
  retentionMs: number
  /** retention.bytes: delete oldest segments while the log is larger; -1 means no limit. */
  retentionBytes: number
  cleanupPolicy: CleanupPolicy
  /** delete.retention.ms: how long tombstones survive compaction. */
  deleteRetentionMs: number
  /** min.cleanable.dirty.ratio: dirty bytes / total bytes needed before compacting. */
  minCleanableDirtyRatio: number
  /** min.compaction.lag.ms: records younger than this are never compacted. */
  minCompactionLagMs: number
  /** max.compaction.lag.ms: a dirty section this old is compacted whatever the ratio. */
  maxCompactionLagMs: number
  /** flush.messages: fdatasync after this many records; 1 = every append is durable before `done`. */
  flushMessages: number
  /** flush.ms: fdatasync when the oldest unflushed write is this old. */
  flushMs: number
  /** index.interval.bytes: bytes between two sparse index entries. */
  indexIntervalBytes: number
  /** segment.index.bytes: maximum size of an offset index; a full index rolls the segment. */
  segmentIndexBytes: number
  /** file.delete.delay.ms: delay before deleted segment files are removed from disk. */
  fileDeleteDelayMs: number
  /** Not a Kafka config: bytes of recent batches kept in memory to serve tail reads. */
  tailCacheBytes: number
  /**
   * producer.id.expiration.ms (a broker config in Kafka): a producer idle this long is forgotten
   * by the partition, unless its transaction is open. Default 86400000 (one day).
   */
  producerIdExpirationMs?: number
}

export const defaultProducerIdExpirationMs = 86_400_000

const LONG_MAX = Number.MAX_SAFE_INTEGER

export const defaultLogConfig: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  cleanupPolicy: 'delete',
  deleteRetentionMs: 24 * 3600 * 1000,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: LONG_MAX,
  flushMessages: LONG_MAX,
  flushMs: LONG_MAX,
  indexIntervalBytes: 4096,
  segmentIndexBytes: 10 * 1024 * 1024,
  fileDeleteDelayMs: 60_000,
  tailCacheBytes: 8 * 1024 * 1024,
  producerIdExpirationMs: defaultProducerIdExpirationMs,
})

export function logConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const c: LogConfig = { ...defaultLogConfig }
  for (const [k, v] of Object.entries(overrides)) {
    if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v
  }
  return c
}

export function isCompacted(c: LogConfig): boolean {
  return c.cleanupPolicy !== 'delete'
}

export function isDeleting(c: LogConfig): boolean {
  return c.cleanupPolicy !== 'compact'
}
