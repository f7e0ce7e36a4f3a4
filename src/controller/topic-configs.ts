// Topic-level configuration: every key Fjord accepts, its type, default, validation and the
// broker-level synonym that supplies the default (as in Kafka: `retention.ms` ← `log.retention.ms`).
// CreateTopics, AlterConfigs, IncrementalAlterConfigs and DescribeConfigs all read this one table.

import { ErrorCode, KafkaError } from '../protocol/errors.js'

export type ConfigType = 'boolean' | 'string' | 'int' | 'short' | 'long' | 'double' | 'list' | 'class' | 'password'

/** Kafka's DescribeConfigs configType codes. */
export const ConfigTypeCode: Record<ConfigType, number> = {
  boolean: 1, string: 2, int: 3, short: 4, long: 5, double: 6, list: 7, class: 8, password: 9,
}

export interface ConfigDef {
  name: string
  type: ConfigType
  default: string
  /** broker config whose value is the default for this topic config */
  synonym?: string
  doc: string
  validate?: (value: string) => string | undefined
}

const LONG_MAX = '9223372036854775807'

const min = (lo: number) => (v: string) => (Number(v) < lo ? `must be at least ${lo}` : undefined)
const oneOf = (...allowed: string[]) => (v: string) =>
  allowed.includes(v) ? undefined : `must be one of ${allowed.join(', ')}`
const between = (lo: number, hi: number) => (v: string) =>
  Number(v) < lo || Number(v) > hi ? `must be between ${lo} and ${hi}` : undefined

/** Kafka's throttled-replicas list: empty, `*`, or `partition:broker` pairs separated by commas. */
function throttledReplicas(v: string): string | undefined {
  const t = v.trim()
  if (t === '' || t === '*') return undefined
  return t.split(',').every((p) => /^\s*\d+\s*:\s*\d+\s*$/.test(p)) ? undefined : 'must be *, or a list of partition:broker pairs'
}

const defs: ConfigDef[] = [
  { name: 'cleanup.policy', type: 'list', default: 'delete', synonym: 'log.cleanup.policy', doc: 'delete, compact, or both (comma separated).',
    validate: (v) => v.split(',').every((p) => ['delete', 'compact'].includes(p.trim())) && v.trim() !== '' ? undefined : 'must be a list of delete and/or compact' },
  { name: 'compression.type', type: 'string', default: 'producer', synonym: 'compression.type', doc: 'Codec of stored batches; producer keeps what the producer sent.',
    validate: oneOf('producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd') },
  { name: 'delete.retention.ms', type: 'long', default: '86400000', synonym: 'log.cleaner.delete.retention.ms', doc: 'How long tombstones are kept in compacted topics.', validate: min(0) },
  { name: 'file.delete.delay.ms', type: 'long', default: '60000', synonym: 'log.segment.delete.delay.ms', doc: 'Delay before a deleted segment file is removed.', validate: min(0) },
  { name: 'flush.messages', type: 'long', default: LONG_MAX, synonym: 'log.flush.interval.messages', doc: 'fsync after this many messages; default leaves it to the OS.', validate: min(1) },
  { name: 'flush.ms', type: 'long', default: LONG_MAX, synonym: 'log.flush.interval.ms', doc: 'fsync after this many milliseconds; default leaves it to the OS.', validate: min(0) },
  { name: 'index.interval.bytes', type: 'int', default: '4096', synonym: 'log.index.interval.bytes', doc: 'Bytes between offset index entries.', validate: min(0) },
  { name: 'max.compaction.lag.ms', type: 'long', default: LONG_MAX, synonym: 'log.cleaner.max.compaction.lag.ms', doc: 'Longest time a record stays uncompacted.', validate: min(1) },
  { name: 'max.message.bytes', type: 'int', default: '1048588', synonym: 'message.max.bytes', doc: 'Largest record batch accepted.', validate: min(0) },
  { name: 'message.timestamp.type', type: 'string', default: 'CreateTime', synonym: 'log.message.timestamp.type', doc: 'CreateTime or LogAppendTime.', validate: oneOf('CreateTime', 'LogAppendTime') },
  { name: 'message.timestamp.before.max.ms', type: 'long', default: LONG_MAX, synonym: 'log.message.timestamp.before.max.ms', doc: 'How far in the past a CreateTime timestamp may be.', validate: min(0) },
  { name: 'message.timestamp.after.max.ms', type: 'long', default: LONG_MAX, synonym: 'log.message.timestamp.after.max.ms', doc: 'How far in the future a CreateTime timestamp may be.', validate: min(0) },
  { name: 'message.timestamp.difference.max.ms', type: 'long', default: LONG_MAX, synonym: 'log.message.timestamp.difference.max.ms', doc: 'Deprecated; kept for clients that set it.', validate: min(0) },
  { name: 'message.downconversion.enable', type: 'boolean', default: 'true', synonym: 'log.message.downconversion.enable', doc: 'Accepted for compatibility; Fjord stores magic v2 only.', validate: oneOf('true', 'false') },
  { name: 'message.format.version', type: 'string', default: '3.0-IV1', synonym: 'log.message.format.version', doc: 'Accepted for compatibility; Fjord stores magic v2 only.' },
  { name: 'min.cleanable.dirty.ratio', type: 'double', default: '0.5', synonym: 'log.cleaner.min.cleanable.ratio', doc: 'Dirty share of the log that triggers compaction.', validate: between(0, 1) },
  { name: 'min.compaction.lag.ms', type: 'long', default: '0', synonym: 'log.cleaner.min.compaction.lag.ms', doc: 'Shortest time a record stays uncompacted.', validate: min(0) },
  { name: 'min.insync.replicas', type: 'int', default: '1', synonym: 'min.insync.replicas', doc: 'Replicas that must acknowledge an acks=all write.', validate: min(1) },
  { name: 'preallocate', type: 'boolean', default: 'false', synonym: 'log.preallocate', doc: 'Accepted for compatibility.', validate: oneOf('true', 'false') },
  { name: 'retention.bytes', type: 'long', default: '-1', synonym: 'log.retention.bytes', doc: 'Largest size of a partition before old segments are deleted; -1 unlimited.' },
  { name: 'retention.ms', type: 'long', default: '604800000', synonym: 'log.retention.ms', doc: 'Age after which old segments are deleted; -1 unlimited.', validate: min(-1) },
  { name: 'segment.bytes', type: 'int', default: '1073741824', synonym: 'log.segment.bytes', doc: 'Size of a log segment file.', validate: min(14) },
  { name: 'segment.index.bytes', type: 'int', default: '10485760', synonym: 'log.index.size.max.bytes', doc: 'Size of an offset index file.', validate: min(4) },
  { name: 'segment.jitter.ms', type: 'long', default: '0', synonym: 'log.roll.jitter.ms', doc: 'Random jitter subtracted from segment.ms.', validate: min(0) },
  { name: 'segment.ms', type: 'long', default: '604800000', synonym: 'log.roll.ms', doc: 'Time after which a segment is rolled.', validate: min(1) },
  { name: 'unclean.leader.election.enable', type: 'boolean', default: 'false', synonym: 'unclean.leader.election.enable', doc: 'Whether an out-of-sync replica may become leader.', validate: oneOf('true', 'false') },
  // Replication throttles: accepted and stored (admin tools set them during reassignments); a
  // single broker has no replication traffic to throttle.
  { name: 'leader.replication.throttled.replicas', type: 'list', default: '', doc: 'Replicas (partition:broker list, or *) whose leader-side replication is throttled. Accepted for compatibility.', validate: throttledReplicas },
  { name: 'follower.replication.throttled.replicas', type: 'list', default: '', doc: 'Replicas (partition:broker list, or *) whose follower-side replication is throttled. Accepted for compatibility.', validate: throttledReplicas },
]

export const topicConfigDefs: ReadonlyMap<string, ConfigDef> = new Map(defs.map((d) => [d.name, d]))

function checkType(def: ConfigDef, value: string): string | undefined {
  switch (def.type) {
    case 'int': case 'short': case 'long':
      return /^-?\d+$/.test(value.trim()) ? undefined : 'must be an integer'
    case 'double':
      return value.trim() !== '' && Number.isFinite(Number(value)) ? undefined : 'must be a number'
    case 'boolean':
      return value === 'true' || value === 'false' ? undefined : 'must be true or false'
    default:
      return undefined
  }
}

/** Throws KafkaError(INVALID_CONFIG) naming the key and the reason. */
export function validateTopicConfig(name: string, value: string | null): void {
  const def = topicConfigDefs.get(name)
  if (!def) throw new KafkaError(ErrorCode.INVALID_CONFIG, `Unknown topic config name: ${name}`)
  if (value === null) return // null resets to the default
  const problem = checkType(def, value) ?? def.validate?.(value)
  if (problem) throw new KafkaError(ErrorCode.INVALID_CONFIG, `Invalid value ${value} for configuration ${name}: ${problem}`)
}

/** The effective value of a topic config: the topic's override, else the broker's synonym, else the default. */
export function effectiveConfig(name: string, overrides: Readonly<Record<string, string>>, brokerSettings: Readonly<Record<string, string>>): string {
  const def = topicConfigDefs.get(name)
  if (!def) throw new Error(`unknown config ${name}`)
  return overrides[name] ?? (def.synonym ? brokerSettings[def.synonym] : undefined) ?? def.default
}

/** Kafka's DescribeConfigs config sources. */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
} as const

/** What the broker's own settings say about a broker config name (passed in; this module knows no broker). */
export interface BrokerConfigView {
  /** the value the broker runs with, when the setting exists */
  value(name: string): string | undefined
  /** whether the operator set it (flag, file, environment) rather than leaving the default */
  isExplicit(name: string): boolean
  /** the built-in default of a broker setting, when it has one */
  defaultOf(name: string): string | undefined
}

export interface ConfigSynonym {
  name: string
  value: string | null
  source: number
}

export interface DescribedConfig {
  name: string
  value: string | null
  source: number
  readOnly: boolean
  sensitive: boolean
  type: ConfigType
  doc: string
  /** most specific first: the topic override, the broker setting, the default */
  synonyms: ConfigSynonym[]
}

/**
 * Describes one topic config the way Kafka's DescribeConfigs does: its effective value, where
 * that value comes from (the topic override, an explicitly set broker synonym, or the default),
 * and the chain of synonyms behind it.
 */
export function describeTopicConfig(def: ConfigDef, overrides: Readonly<Record<string, string>>, broker: BrokerConfigView): DescribedConfig {
  const sensitive = def.type === 'password'
  const shown = (v: string) => (sensitive ? null : v)
  const synonyms: ConfigSynonym[] = []
  const override = overrides[def.name]
  if (override !== undefined) synonyms.push({ name: def.name, value: shown(override), source: ConfigSource.DYNAMIC_TOPIC_CONFIG })
  if (def.synonym) {
    const set = broker.value(def.synonym)
    if (set !== undefined && broker.isExplicit(def.synonym)) synonyms.push({ name: def.synonym, value: shown(set), source: ConfigSource.STATIC_BROKER_CONFIG })
    synonyms.push({ name: def.synonym, value: shown(broker.defaultOf(def.synonym) ?? def.default), source: ConfigSource.DEFAULT_CONFIG })
  }
  // the same precedence as effectiveConfig(), which the broker runs with
  const value = override ?? (def.synonym ? broker.value(def.synonym) : undefined) ?? def.default
  return {
    name: def.name,
    value: shown(value),
    source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
    readOnly: false,
    sensitive,
    type: def.type,
    doc: def.doc,
    synonyms,
  }
}
