// A broker: its listener, its partition logs, its view of the cluster's metadata, and the
// shared machinery handlers use (delayed fetches, fetch sessions, topic auto-creation).

import { createServer, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import { MetadataStore, type TopicRecord } from '../controller/metadata-store.js'
import { openGroupCoordinator, openTransactionCoordinator, type GroupCoordinator, type TransactionCoordinator } from '../coordinator/index.js'
import { effectiveConfig, topicConfigDefs, validateTopicConfig } from '../controller/topic-configs.js'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import { LogManager, type LogConfig, type PartitionLog } from '../storage/index.js'
import { boolSetting, intSetting, parseListener, type BrokerSettings } from './config.js'
import { Connection } from './connection.js'
import { DelayedQueue } from './delayed.js'
import { FetchSessionCache } from './fetch-sessions.js'
import { handlers } from './handlers/index.js'
import { HandlerRegistry, type RequestContext } from './registry.js'

const LONG_MAX_STRING = '9223372036854775807'
/** Recent batches kept in memory per partition, so consumers at the tail read without disk I/O. */
const TAIL_CACHE_BYTES = 8 * 1024 * 1024
/** Partition logs created at once by CreateTopics and CreatePartitions. */
const CREATE_CONCURRENCY = 16

/** Kafka's long configs use Long.MAX_VALUE for "never"; as a Number, the largest safe integer. */
function longValue(v: string): number {
  const n = Number(v)
  return v === LONG_MAX_STRING || n > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : n
}

export interface TopicSettings {
  maxMessageBytes: number
  logAppendTime: boolean
  timestampBeforeMaxMs: number
  timestampAfterMaxMs: number
  compacted: boolean
}

export class Broker {
  readonly brokerId: number
  readonly rack: string | null
  readonly metadata: MetadataStore
  readonly logs: LogManager
  readonly registry = new HandlerRegistry(handlers)
  readonly delayed = new DelayedQueue()
  readonly fetchSessions: FetchSessionCache
  /** Consumer groups and committed offsets; opened after the logs. */
  groups!: GroupCoordinator
  /** Transactional ids and their transactions; opened after the groups. */
  transactions!: TransactionCoordinator
  private server: Server | null = null
  private readonly connections = new Set<Connection>()
  private readonly appendListeners = new Map<string, Set<(bytes: number) => void>>()
  private readonly topicSettingsCache = new Map<string, TopicSettings>()
  host = '127.0.0.1'
  port = 0

  private constructor(readonly settings: BrokerSettings, readonly log: Logger, readonly dataDir: string, logs: LogManager, metadata: MetadataStore) {
    this.brokerId = intSetting(settings, 'broker.id')
    this.rack = settings['broker.rack'] || null
    this.logs = logs
    this.metadata = metadata
    this.fetchSessions = new FetchSessionCache(intSetting(settings, 'max.incremental.fetch.session.cache.slots'))
  }

  static async open(settings: BrokerSettings, log: Logger): Promise<Broker> {
    const dataDir = settings['log.dirs']!
    const metadata = new MetadataStore(dataDir, settings['cluster.id'] ?? '')
    const logs = new LogManager(dataDir, {
      log,
      retentionCheckIntervalMs: intSetting(settings, 'log.retention.check.interval.ms'),
      cleanerBackoffMs: intSetting(settings, 'log.cleaner.backoff.ms'),
      producerExpirationCheckIntervalMs: intSetting(settings, 'producer.id.expiration.check.interval.ms'),
    })
    const broker = new Broker(settings, log, dataDir, logs, metadata)
    await logs.open((topic: string) => broker.logConfig(topic))
    // Partitions whose topic is known but whose directory is missing (created just before a crash)
    for (const t of metadata.allTopics()) {
      for (let p = 0; p < t.partitions; p++) {
        if (!logs.getPartition(t.name, p)) await logs.createPartition(t.name, p, broker.logConfig(t.name)) // rare: after a crash
      }
    }
    // coordinators: begin
    broker.groups = await openGroupCoordinator(broker)
    broker.transactions = await openTransactionCoordinator(broker)
    // coordinators: end
    return broker
  }

  async listen(): Promise<void> {
    const { host, port } = parseListener(this.settings['listeners']!)
    const maxRequestBytes = intSetting(this.settings, 'socket.request.max.bytes')
    const maxInFlight = intSetting(this.settings, 'queued.max.requests.per.connection')
    this.server = createServer((socket: Socket) => {
      const conn = new Connection(socket, this.registry, (c, header) => this.context(c, header), { maxRequestBytes, maxInFlight }, this.log)
      this.connections.add(conn)
      socket.on('close', () => this.connections.delete(conn))
    })
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject)
      this.server!.listen(port, host, () => resolve())
    })
    const addr = this.server.address()
    if (addr && typeof addr === 'object') this.port = addr.port
    this.host = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
    const advertised = this.settings['advertised.listeners']
    if (advertised) {
      const a = parseListener(advertised)
      this.host = a.host
      if (a.port !== 0) this.port = a.port
    }
  }

  private context(connection: Connection, header: RequestContext['header']): RequestContext {
    return { broker: this, connection, header, version: header.apiVersion }
  }

  get bootstrap(): string {
    return `${this.host}:${this.port}`
  }

  async close(): Promise<void> {
    this.delayed.close()
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve()
      this.server.close(() => resolve())
      for (const c of this.connections) c.close('broker shutting down')
    })
    await this.transactions?.close()
    await this.groups?.close()
    await this.logs.close()
  }

  // ---- topics -------------------------------------------------------------------------------

  logConfig(topic: string): LogConfig {
    const overrides = this.metadata.topic(topic)?.configs ?? {}
    const get = (name: string) => effectiveConfig(name, overrides, this.settings)
    return {
      segmentBytes: Number(get('segment.bytes')),
      segmentMs: longValue(get('segment.ms')),
      retentionMs: longValue(get('retention.ms')),
      retentionBytes: longValue(get('retention.bytes')),
      cleanupPolicy: get('cleanup.policy').split(',').map((s) => s.trim()).sort().join(',') as LogConfig['cleanupPolicy'],
      deleteRetentionMs: longValue(get('delete.retention.ms')),
      minCleanableDirtyRatio: Number(get('min.cleanable.dirty.ratio')),
      minCompactionLagMs: longValue(get('min.compaction.lag.ms')),
      maxCompactionLagMs: longValue(get('max.compaction.lag.ms')),
      flushMessages: longValue(get('flush.messages')),
      flushMs: longValue(get('flush.ms')),
      indexIntervalBytes: Number(get('index.interval.bytes')),
      segmentIndexBytes: Number(get('segment.index.bytes')),
      fileDeleteDelayMs: longValue(get('file.delete.delay.ms')),
      tailCacheBytes: TAIL_CACHE_BYTES,
      producerIdExpirationMs: intSetting(this.settings, 'producer.id.expiration.ms'),
    }
  }

  /** Per-topic settings the produce path reads on every request, cached until configs change. */
  topicSettings(topic: string): TopicSettings {
    let s = this.topicSettingsCache.get(topic)
    if (!s) {
      const overrides = this.metadata.topic(topic)?.configs ?? {}
      const get = (name: string) => effectiveConfig(name, overrides, this.settings)
      s = {
        maxMessageBytes: Number(get('max.message.bytes')),
        logAppendTime: get('message.timestamp.type') === 'LogAppendTime',
        timestampBeforeMaxMs: longValue(get('message.timestamp.before.max.ms')),
        timestampAfterMaxMs: longValue(get('message.timestamp.after.max.ms')),
        compacted: get('cleanup.policy').includes('compact'),
      }
      this.topicSettingsCache.set(topic, s)
    }
    return s
  }

  get autoCreateTopics(): boolean {
    return boolSetting(this.settings, 'auto.create.topics.enable')
  }

  get liveBrokerCount(): number {
    return 1
  }

  /**
   * Creates topics after validating every one of them; a topic that fails validation is
   * reported and the rest are created. Returns per-topic outcome in request order.
   */
  async createTopics(
    requests: { name: string; partitions: number; replicationFactor: number; configs: Record<string, string> }[],
    validateOnly = false,
  ): Promise<({ topic: TopicRecord } | { error: KafkaError })[]> {
    const outcomes: ({ ok: Omit<TopicRecord, 'id'> } | { error: KafkaError })[] = []
    const seen = new Set<string>()
    for (const r of requests) {
      const partitions = r.partitions === -1 ? intSetting(this.settings, 'num.partitions') : r.partitions
      const replicationFactor = r.replicationFactor === -1 ? intSetting(this.settings, 'default.replication.factor') : r.replicationFactor
      try {
        if (seen.has(r.name)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Duplicate topic name ${r.name} in the request.`)
        seen.add(r.name)
        this.metadata.checkCreate(r.name, partitions, replicationFactor, r.configs, this.liveBrokerCount)
        outcomes.push({ ok: { name: r.name, partitions, replicationFactor, configs: r.configs, internal: r.name.startsWith('__') } })
      } catch (err) {
        if (!(err instanceof KafkaError)) throw err
        outcomes.push({ error: err })
      }
    }
    const toCreate = outcomes.flatMap((o) => ('ok' in o ? [o.ok] : []))
    const created = validateOnly ? toCreate.map((t) => ({ ...t, id: '' })) : this.metadata.createTopics(toCreate)
    if (!validateOnly) {
      for (const t of created) await this.createLogs(t.name, 0, t.partitions)
    }
    let i = 0
    return outcomes.map((o) => ('ok' in o ? { topic: created[i++]! } : o))
  }

  /** Creates partition logs [from, to) a few at a time: each is a handful of file-system round trips. */
  private async createLogs(topic: string, from: number, to: number): Promise<void> {
    const config = this.logConfig(topic)
    let next = from
    const worker = async () => {
      while (next < to) await this.logs.createPartition(topic, next++, config)
    }
    await Promise.all(Array.from({ length: Math.min(CREATE_CONCURRENCY, to - from) }, worker))
  }

  /** Auto-creation on Metadata and Produce, when `auto.create.topics.enable` allows it. */
  async autoCreate(names: string[]): Promise<void> {
    const missing = names.filter((n) => !this.metadata.topic(n))
    if (missing.length === 0 || !this.autoCreateTopics) return
    await this.createTopics(missing.map((name) => ({ name, partitions: -1, replicationFactor: -1, configs: {} })))
  }

  async deleteTopic(name: string): Promise<TopicRecord> {
    if (!boolSetting(this.settings, 'delete.topic.enable')) throw new KafkaError(ErrorCode.TOPIC_DELETION_DISABLED)
    // The coordinators keep their state in internal topics; deleting one would lose it.
    if (this.metadata.topic(name)?.internal) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic ${name} is a Kafka internal topic and is not allowed to be deleted.`)
    const t = this.metadata.deleteTopic(name)
    this.topicSettingsCache.delete(name)
    this.fetchSessions.forgetTopic(name)
    for (let p = 0; p < t.partitions; p++) {
      await this.logs.deletePartition(name, p)
      this.notifyAppend(name, p, 0) // waiting fetches answer now, with the error
    }
    await this.groups?.forgetTopic(name)
    return t
  }

  async createPartitions(name: string, count: number, validateOnly: boolean): Promise<void> {
    const t = this.metadata.topic(name)
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist.`)
    if (count < t.partitions) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Topic currently has ${t.partitions} partitions, which is higher than the requested ${count}.`)
    if (count === t.partitions) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Topic already has ${t.partitions} partitions.`)
    if (validateOnly) return
    // Record the count first: after a crash in between, Broker.open creates the missing logs.
    const from = t.partitions
    this.metadata.setPartitionCount(name, count)
    await this.createLogs(name, from, count)
  }

  /** Replaces a topic's config overrides (AlterConfigs semantics) after validating all of them. */
  setTopicConfigs(name: string, configs: Record<string, string>, validateOnly: boolean): void {
    if (!this.metadata.topic(name)) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist.`)
    for (const [k, v] of Object.entries(configs)) validateTopicConfig(k, v)
    if (validateOnly) return
    this.metadata.setConfigs(name, configs)
    this.topicSettingsCache.delete(name)
    this.logs.updateConfig(name, this.logConfig(name))
  }

  topicConfigNames(): string[] {
    return [...topicConfigDefs.keys()]
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.getPartition(topic, partition)
  }

  /**
   * The offset below which records are committed and visible to consumers. On a single broker
   * that is everything written to the log file; replication will make it the ISR's minimum.
   */
  highWatermark(log: PartitionLog): number {
    return log.writtenEndOffset
  }

  // ---- what the coordinators need of their broker -----------------------------------------------

  /** Whether this broker leads the partition now (coordinators serve only the partitions they lead). */
  isLeader(topic: string, partition: number): boolean {
    return this.logs.getPartition(topic, partition) !== undefined
  }

  /** The broker leading a partition now, for FindCoordinator; null while the partition is offline. */
  leaderEndpoint(topic: string, partition: number): { nodeId: number; host: string; port: number } | null {
    return this.isLeader(topic, partition) ? { nodeId: this.brokerId, host: this.host, port: this.port } : null
  }

  /**
   * Appends batches to a partition this broker leads, as a producer with acks=all would: resolves
   * once the high watermark passes them; rejects with a KafkaError (NOT_LEADER_OR_FOLLOWER, ...).
   */
  async appendCommitted(topic: string, partition: number, batches: Buffer[]): Promise<{ baseOffset: number; lastOffset: number }> {
    const log = this.logs.getPartition(topic, partition)
    if (!log) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${topic}-${partition} is not led by broker ${this.brokerId}`)
    const appended = log.append(batches)
    await appended.done
    let bytes = 0
    for (const b of batches) bytes += b.length
    this.notifyAppend(topic, partition, bytes)
    return { baseOffset: appended.baseOffset, lastOffset: appended.lastOffset }
  }

  // ---- waiting for appends --------------------------------------------------------------------

  onAppend(topic: string, partition: number, listener: (bytes: number) => void): () => void {
    const key = `${topic}\0${partition}`
    let set = this.appendListeners.get(key)
    if (!set) this.appendListeners.set(key, (set = new Set()))
    set.add(listener)
    return () => {
      set!.delete(listener)
      if (set!.size === 0) this.appendListeners.delete(key)
    }
  }

  /** Wakes fetches waiting on a partition; `bytes` is how much became readable. */
  notifyAppend(topic: string, partition: number, bytes: number): void {
    const set = this.appendListeners.get(`${topic}\0${partition}`)
    if (set) for (const l of [...set]) l(bytes)
  }
}
