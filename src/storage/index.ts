// Public entry of the storage engine: partition logs, their manager and configuration.

export { LogManager, CLEAN_SHUTDOWN_FILE, LOG_START_CHECKPOINT, CLEANER_CHECKPOINT } from './log-manager.js'
export type { LogManagerOptions, LogDirDescription, PartitionSize, StorageLogger } from './log-manager.js'
export { PartitionLog } from './partition-log.js'
export type { AppendOptions, AppendControlOptions, FetchAbortedTxn, AppendResult, ReadResult, SegmentInfo, TimestampOffset, PartitionLogOptions, RecordCodec } from './partition-log.js'
export { defaultLogConfig, defaultProducerIdExpirationMs, logConfig } from './config.js'
export type { LogConfig, CleanupPolicy } from './config.js'
export { Cleaner } from './cleaner.js'
export type { CleanStats } from './cleaner.js'
export { nodeFs } from './fs-layer.js'
export type { StorageFs } from './fs-layer.js'
export { ProducerStateManager, MAX_TRACKED_BATCHES } from './producer-state.js'
export type { BatchMetadata, ProducerInfo, ProducerEntry, AbortedTxn } from './producer-state.js'
