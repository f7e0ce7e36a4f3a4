// The group coordinator's settings: Kafka's broker property names and defaults. They come from
// the broker settings (`--set name=value`, FJORD_<NAME>), which keep keys they do not declare.

export interface GroupConfig {
  /** group.initial.rebalance.delay.ms: how long the first rebalance of an empty group waits for more members. */
  initialRebalanceDelayMs: number
  /** group.min.session.timeout.ms / group.max.session.timeout.ms: the session timeouts members may ask for. */
  minSessionTimeoutMs: number
  maxSessionTimeoutMs: number
  /** group.max.size: members per group. */
  maxSize: number
  /** offsets.retention.minutes, in ms: committed offsets of an empty group live this long. */
  offsetsRetentionMs: number
  /** offsets.retention.check.interval.ms */
  offsetsRetentionCheckIntervalMs: number
  /** offset.metadata.max.bytes: the metadata string committed with an offset. */
  offsetMetadataMaxBytes: number
  /** offsets.topic.num.partitions: partitions of __consumer_offsets when it is created (Kafka: 50; one
   * here, as 50 cost a broker's first start ~250 ms and a single broker coordinates every group). */
  offsetsTopicPartitions: number
  /** offsets.topic.segment.bytes */
  offsetsTopicSegmentBytes: number
  /** offsets.topic.replication.factor: replicas of __consumer_offsets when it is created (capped
   * at the live brokers then, with a warning; Kafka refuses to create it instead). */
  offsetsTopicReplicationFactor: number
}

export interface GroupSettingDef {
  name: string
  default: string
  doc: string
}

/** The coordinator's broker settings; the broker's settings table includes them. */
export const groupSettingDefs: readonly GroupSettingDef[] = [
  { name: 'group.initial.rebalance.delay.ms', default: '3000', doc: 'How long an empty group waits for more members before its first rebalance.' },
  { name: 'group.min.session.timeout.ms', default: '6000', doc: 'Smallest session timeout a group member may ask for.' },
  { name: 'group.max.session.timeout.ms', default: '1800000', doc: 'Largest session timeout a group member may ask for.' },
  { name: 'group.max.size', default: '2147483647', doc: 'Most members one consumer group may have.' },
  { name: 'offsets.retention.minutes', default: '10080', doc: 'Committed offsets of an empty group expire after this long.' },
  { name: 'offsets.retention.check.interval.ms', default: '600000', doc: 'How often expired offsets are removed.' },
  { name: 'offset.metadata.max.bytes', default: '4096', doc: 'Largest metadata string of a committed offset.' },
  { name: 'offsets.topic.num.partitions', default: '1', doc: 'Partitions of __consumer_offsets, fixed when it is first created.' },
  { name: 'offsets.topic.segment.bytes', default: '104857600', doc: 'Segment size of __consumer_offsets.' },
  { name: 'offsets.topic.replication.factor', default: '3', doc: 'Replicas of __consumer_offsets, fixed when it is first created (at most the live brokers then).' },
]

const GROUP_SETTING_DEFAULTS: Record<string, string> = Object.fromEntries(groupSettingDefs.map((d) => [d.name, d.default]))

export function groupConfig(settings: Record<string, string | undefined>): GroupConfig {
  const num = (name: string): number => {
    const raw = settings[name] ?? GROUP_SETTING_DEFAULTS[name]!
    const v = Number(raw)
    if (!Number.isFinite(v) || raw.trim() === '') throw new Error(`setting ${name}=${raw} is not a number`)
    return v
  }
  return {
    initialRebalanceDelayMs: num('group.initial.rebalance.delay.ms'),
    minSessionTimeoutMs: num('group.min.session.timeout.ms'),
    maxSessionTimeoutMs: num('group.max.session.timeout.ms'),
    maxSize: num('group.max.size'),
    offsetsRetentionMs: num('offsets.retention.minutes') * 60_000,
    offsetsRetentionCheckIntervalMs: num('offsets.retention.check.interval.ms'),
    offsetMetadataMaxBytes: num('offset.metadata.max.bytes'),
    offsetsTopicPartitions: num('offsets.topic.num.partitions'),
    offsetsTopicSegmentBytes: num('offsets.topic.segment.bytes'),
    offsetsTopicReplicationFactor: num('offsets.topic.replication.factor'),
  }
}
