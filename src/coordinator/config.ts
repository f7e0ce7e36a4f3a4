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
}

export const GROUP_SETTING_DEFAULTS: Record<string, string> = {
  'group.initial.rebalance.delay.ms': '3000',
  'group.min.session.timeout.ms': '6000',
  'group.max.session.timeout.ms': '1800000',
  'group.max.size': '2147483647',
  'offsets.retention.minutes': '10080',
  'offsets.retention.check.interval.ms': '600000',
  'offset.metadata.max.bytes': '4096',
  'offsets.topic.num.partitions': '1',
  'offsets.topic.segment.bytes': '104857600',
}

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
  }
}
