// Broker configuration: every setting, its default, and where it may come from. Precedence:
// command-line flag > environment variable (FJORD_<NAME>, dots as underscores) > default.
// Settings use Kafka's broker property names so operators can carry their server.properties over.

import { coordinatorSettingDefs } from '../coordinator/index.js'

export interface BrokerSettingDef {
  name: string
  default: string
  doc: string
}

export const brokerSettingDefs: BrokerSettingDef[] = [
  { name: 'broker.id', default: '0', doc: 'This broker\'s id.' },
  { name: 'listeners', default: '127.0.0.1:9092', doc: 'host:port to listen on; port 0 picks a free port.' },
  { name: 'advertised.listeners', default: '', doc: 'host:port given to clients in Metadata; defaults to the bound listener.' },
  { name: 'log.dirs', default: './data', doc: 'Directory holding the partition logs and the cluster metadata.' },
  { name: 'volume.size.bytes', default: '-1', doc: 'Size of this broker\'s volume (its log.dirs): once segments and indexes reach it, writes fail as on a full disk (KAFKA_STORAGE_ERROR) and DescribeLogDirs reports it; -1: the file system\'s own size. Dynamic: IncrementalAlterConfigs on the BROKER resource changes it live.' },
  { name: 'broker.rack', default: '', doc: 'Rack (availability zone) of this broker, reported in Metadata.' },
  { name: 'auto.create.topics.enable', default: 'true', doc: 'Create a topic when a client asks for its metadata or produces to it.' },
  { name: 'num.partitions', default: '1', doc: 'Partitions of an auto-created topic, and of CreateTopics with -1.' },
  { name: 'default.replication.factor', default: '1', doc: 'Replication factor of auto-created topics, and of CreateTopics with -1.' },
  { name: 'delete.topic.enable', default: 'true', doc: 'Whether DeleteTopics is allowed.' },
  { name: 'socket.request.max.bytes', default: '104857600', doc: 'Largest request frame accepted; bigger frames close the connection.' },
  { name: 'queued.max.requests.per.connection', default: '64', doc: 'Requests in flight on one connection before it stops reading.' },
  { name: 'message.max.bytes', default: '1048588', doc: 'Default max.message.bytes of topics.' },
  { name: 'log.retention.ms', default: '604800000', doc: 'Default retention.ms of topics.' },
  { name: 'log.retention.bytes', default: '-1', doc: 'Default retention.bytes of topics.' },
  { name: 'log.segment.bytes', default: '1073741824', doc: 'Default segment.bytes of topics.' },
  { name: 'log.roll.ms', default: '604800000', doc: 'Default segment.ms of topics.' },
  { name: 'log.cleanup.policy', default: 'delete', doc: 'Default cleanup.policy of topics.' },
  { name: 'log.flush.interval.messages', default: '9223372036854775807', doc: 'Default flush.messages of topics (fsync every N messages).' },
  { name: 'log.flush.interval.ms', default: '9223372036854775807', doc: 'Default flush.ms of topics.' },
  { name: 'log.retention.check.interval.ms', default: '300000', doc: 'How often retention is applied.' },
  { name: 'log.cleaner.backoff.ms', default: '15000', doc: 'How often the compaction cleaner looks for work.' },
  { name: 'fetch.max.bytes', default: '57671680', doc: 'Upper bound of one Fetch response.' },
  { name: 'max.incremental.fetch.session.cache.slots', default: '1000', doc: 'Incremental fetch sessions kept (KIP-227).' },
  { name: 'cluster.id', default: '', doc: 'Cluster id; generated and stored on first start when empty.' },
  { name: 'producer.id.expiration.ms', default: '86400000', doc: 'An idempotent producer idle this long is forgotten (never one with an open transaction).' },
  { name: 'producer.id.expiration.check.interval.ms', default: '600000', doc: 'How often idle producers are looked for.' },
  { name: 'controller.endpoints', default: '', doc: 'host:port of the controller (or of each controller candidate, comma-separated). Empty: standalone, this broker runs its own controller.' },
  { name: 'controller.request.timeout.ms', default: '30000', doc: 'How long a forwarded admin change, or startup, waits for a controller.' },
  { name: 'broker.heartbeat.interval.ms', default: '1000', doc: 'How often the broker heartbeats to the controller.' },
  { name: 'broker.session.timeout.ms', default: '6000', doc: 'A broker silent this long is fenced by the controller (a standalone broker\'s own controller).' },
  { name: 'controlled.shutdown.enable', default: 'true', doc: 'On SIGTERM, move leadership to other brokers before stopping.' },
  { name: 'controlled.shutdown.timeout.ms', default: '30000', doc: 'Longest wait for the controller to move leadership away on shutdown.' },
  { name: 'replica.lag.time.max.ms', default: '30000', doc: 'A follower that has not caught up for this long leaves the ISR.' },
  { name: 'replica.fetch.max.bytes', default: '1048576', doc: 'Bytes a follower asks for per partition per fetch.' },
  { name: 'replica.fetch.response.max.bytes', default: '10485760', doc: 'Bytes a follower asks for per fetch.' },
  { name: 'replica.fetch.wait.max.ms', default: '500', doc: 'How long a follower\'s fetch waits at the leader for new data.' },
  { name: 'replica.high.watermark.checkpoint.interval.ms', default: '5000', doc: 'How often high watermarks are written to replication-offset-checkpoint.' },
  { name: 'replica.commit.timeout.ms', default: '30000', doc: 'How long a coordinator write waits for the ISR.' },
  { name: 'replica.selector.class', default: '', doc: 'org.apache.kafka.common.replica.RackAwareReplicaSelector lets consumers with client.rack fetch from an in-sync replica in their zone (KIP-392); empty: always the leader.' },
  { name: 'follower.replication.throttled.rate', default: '0', doc: 'Bytes per second this broker copies, as a follower, for the replicas a reassignment is adding to it until they are in sync (0: unlimited). Dynamic: IncrementalAlterConfigs/AlterConfigs on the BROKER resource change it live.' },
  { name: 'leader.replication.throttled.rate', default: '0', doc: 'Bytes per second this broker serves, as a leader, to the replicas a reassignment is adding until they are in sync (0: unlimited). Dynamic, like follower.replication.throttled.rate.' },
  { name: 'unclean.leader.election.enable', default: 'false', doc: 'Default of the topic config: whether an out-of-sync replica may become leader when no in-sync one is alive.' },
  { name: 'auto.leader.rebalance.enable', default: 'true', doc: 'Move leadership back to preferred replicas when they are in sync.' },
  { name: 'leader.imbalance.check.interval.seconds', default: '30', doc: 'How often the controller checks for leaders that are not the preferred replica.' },
  ...coordinatorSettingDefs,
]

const known = new Map(brokerSettingDefs.map((d) => [d.name, d]))

export type BrokerSettings = Record<string, string>

export function envName(setting: string): string {
  return `FJORD_${setting.toUpperCase().replace(/[.-]/g, '_')}`
}

/**
 * Resolves settings from defaults, the environment and explicit overrides. Unknown keys are kept
 * (topic-default synonyms such as log.cleaner.delete.retention.ms are read by the config table)
 * but keys that look like typos of known ones are not guessed at.
 */
export function resolveSettings(overrides: BrokerSettings, env: NodeJS.ProcessEnv = process.env): BrokerSettings {
  const out: BrokerSettings = {}
  for (const d of brokerSettingDefs) out[d.name] = env[envName(d.name)] ?? d.default
  for (const [k, v] of Object.entries(overrides)) out[k] = v
  return out
}

export function isKnownSetting(name: string): boolean {
  return known.has(name)
}

/**
 * Checks every known setting's value against the type its default implies; returns the
 * problems (empty when all is well) so that the broker refuses to start with a clear message.
 */
export function validateSettings(settings: BrokerSettings): string[] {
  const problems: string[] = []
  for (const d of brokerSettingDefs) {
    const v = settings[d.name]
    if (v === undefined) continue
    if (/^-?\d+$/.test(d.default) && !/^-?\d+$/.test(v.trim())) problems.push(`${d.name}=${v}: must be an integer`)
    if ((d.default === 'true' || d.default === 'false') && v !== 'true' && v !== 'false') problems.push(`${d.name}=${v}: must be true or false`)
  }
  const volume = settings['volume.size.bytes']
  if (volume !== undefined && /^-?\d+$/.test(volume.trim()) && Number(volume) < -1) problems.push(`volume.size.bytes=${volume}: must be -1 or a number of bytes`)
  for (const name of ['follower.replication.throttled.rate', 'leader.replication.throttled.rate']) {
    const v = settings[name]
    if (v !== undefined && /^-?\d+$/.test(v.trim()) && Number(v) < 0) problems.push(`${name}=${v}: must be 0 (no throttle) or bytes per second`)
  }
  for (const name of ['listeners', 'advertised.listeners']) {
    const v = settings[name]
    if (v) {
      try { parseListener(v) } catch (err) { problems.push((err as Error).message) }
    }
  }
  return problems
}

export interface ListenAddress {
  host: string
  port: number
}

export function parseListener(value: string): ListenAddress {
  const v = value.replace(/^[A-Z_]+:\/\//, '') // accept PLAINTEXT://host:port
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(v)
  if (!m) throw new Error(`invalid listener '${value}': expected host:port`)
  const port = Number(m[2])
  if (port > 65535) throw new Error(`invalid listener '${value}': port out of range`)
  return { host: m[1] || '0.0.0.0', port }
}

export function intSetting(settings: BrokerSettings, name: string): number {
  const v = Number(settings[name])
  if (!Number.isFinite(v)) throw new Error(`setting ${name}=${settings[name]} is not a number`)
  return v
}

export function boolSetting(settings: BrokerSettings, name: string): boolean {
  const v = settings[name]
  if (v !== 'true' && v !== 'false') throw new Error(`setting ${name}=${v} must be true or false`)
  return v === 'true'
}
