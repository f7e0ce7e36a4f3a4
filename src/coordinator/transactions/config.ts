// The transaction coordinator's settings: Kafka's broker property names and defaults.

export interface TxnConfig {
  /** transaction.state.log.num.partitions: partitions of __transaction_state when it is created
   * (Kafka: 50; one here, as a single broker coordinates every transactional id). */
  logPartitions: number
  /** transaction.state.log.segment.bytes */
  logSegmentBytes: number
  /** transaction.state.log.replication.factor: replicas of __transaction_state when it is created
   * (capped at the live brokers then, with a warning; Kafka refuses to create it instead). */
  logReplicationFactor: number
  /** transaction.state.log.min.isr: the topic's min.insync.replicas (at most its replication factor). */
  logMinIsr: number
  /** transaction.max.timeout.ms: the largest transaction timeout a producer may ask for. */
  maxTimeoutMs: number
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms: how often timed-out transactions are looked for. */
  abortTimedOutIntervalMs: number
  /** transactional.id.expiration.ms: an idle transactional id is forgotten after this long. */
  idExpirationMs: number
  /** transaction.remove.expired.transaction.cleanup.interval.ms */
  removeExpiredIntervalMs: number
}

export interface TxnSettingDef {
  name: string
  default: string
  doc: string
}

export const txnSettingDefs: readonly TxnSettingDef[] = [
  { name: 'transaction.state.log.num.partitions', default: '1', doc: 'Partitions of __transaction_state, fixed when it is first created.' },
  { name: 'transaction.state.log.segment.bytes', default: '104857600', doc: 'Segment size of __transaction_state.' },
  { name: 'transaction.state.log.replication.factor', default: '3', doc: 'Replicas of __transaction_state, fixed when it is first created (at most the live brokers then).' },
  { name: 'transaction.state.log.min.isr', default: '2', doc: 'min.insync.replicas of __transaction_state (at most its replication factor).' },
  { name: 'transaction.max.timeout.ms', default: '900000', doc: 'Largest transaction timeout a producer may ask for.' },
  { name: 'transaction.abort.timed.out.transaction.cleanup.interval.ms', default: '10000', doc: 'How often transactions past their timeout are looked for and aborted.' },
  { name: 'transactional.id.expiration.ms', default: '604800000', doc: 'A transactional id without a transaction for this long is forgotten.' },
  { name: 'transaction.remove.expired.transaction.cleanup.interval.ms', default: '3600000', doc: 'How often expired transactional ids are removed.' },
]

const DEFAULTS: Record<string, string> = Object.fromEntries(txnSettingDefs.map((d) => [d.name, d.default]))

export function txnConfig(settings: Record<string, string | undefined>): TxnConfig {
  const num = (name: string): number => {
    const raw = settings[name] ?? DEFAULTS[name]!
    const v = Number(raw)
    if (!Number.isFinite(v) || raw.trim() === '') throw new Error(`setting ${name}=${raw} is not a number`)
    return v
  }
  return {
    logPartitions: num('transaction.state.log.num.partitions'),
    logSegmentBytes: num('transaction.state.log.segment.bytes'),
    logReplicationFactor: num('transaction.state.log.replication.factor'),
    logMinIsr: num('transaction.state.log.min.isr'),
    maxTimeoutMs: num('transaction.max.timeout.ms'),
    abortTimedOutIntervalMs: num('transaction.abort.timed.out.transaction.cleanup.interval.ms'),
    idExpirationMs: num('transactional.id.expiration.ms'),
    removeExpiredIntervalMs: num('transaction.remove.expired.transaction.cleanup.interval.ms'),
  }
}
