// A broker: its listener, its partition logs and their replicas, its link to the controller and
// the image of the cluster metadata it keeps from it, and the shared machinery handlers use
// (delayed fetches, fetch sessions, topic auto-creation). A broker without
// `controller.endpoints` is standalone: it runs the controller in its own process (the embedded
// default) and talks to it through the same link a clustered broker uses over the network.

import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import type { Logger } from 'pino'
import type { MetadataImage, MetadataRecord, TopicRecord, PartitionState } from '../controller/records.js'
import { Controller, type Outcome, type TopicCreation } from '../controller/controller.js'
import { EmbeddedBackend } from '../controller/embedded-backend.js'
import { InProcessChannel } from '../controller/rpc.js'
import { becomeLeaderOfLedPartitions, onInternalLeadershipChange, openGroupCoordinator, openTransactionCoordinator, type GroupCoordinator, type TransactionCoordinator } from '../coordinator/index.js'
import { effectiveConfig, topicConfigDefs, validateTopicConfig } from '../controller/topic-configs.js'
import { ErrorCode, KafkaError, errorInfo } from '../protocol/errors.js'
import { LogManager, type LogConfig, type PartitionLog } from '../storage/index.js'
import { ReplicaManager } from '../replication/replica-manager.js'
import type { PartitionReplica } from '../replication/partition-replica.js'
import { BrokerMetadata } from './broker-metadata.js'
import { boolSetting, intSetting, parseListener, type BrokerSettings } from './config.js'
import { DynamicBrokerConfig, validateDynamicSetting, type DynamicScope } from './dynamic-config.js'
import { Connection } from './connection.js'
import { ControllerLink } from './controller-link.js'
import { DelayedQueue } from './delayed.js'
import { FetchSessionCache } from './fetch-sessions.js'
import { handlers } from './handlers/index.js'
import { HandlerRegistry, type RequestContext } from './registry.js'

const LONG_MAX_STRING = '9223372036854775807'
/** Recent batches kept in memory per partition, so consumers at the tail read without disk I/O. */
const TAIL_CACHE_BYTES = 8 * 1024 * 1024

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
  minInsyncReplicas: number
}

type Listener = (bytes: number) => void

/** Kafka's fencing of clients and followers that believe in another leader epoch. */
export function checkLeaderEpoch(replica: PartitionReplica, currentLeaderEpoch: number): void {
  if (currentLeaderEpoch === -1) return
  const epoch = replica.state.leaderEpoch
  if (currentLeaderEpoch < epoch) throw new KafkaError(ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${currentLeaderEpoch} is older than the current ${epoch}`)
  if (currentLeaderEpoch > epoch) throw new KafkaError(ErrorCode.UNKNOWN_LEADER_EPOCH, `leader epoch ${currentLeaderEpoch} is newer than the current ${epoch}`)
}

export class Broker {
  readonly brokerId: number
  readonly rack: string | null
  readonly metadata: BrokerMetadata
  readonly logs: LogManager
  readonly registry = new HandlerRegistry(handlers)
  readonly delayed = new DelayedQueue()
  readonly fetchSessions: FetchSessionCache
  readonly link: ControllerLink
  readonly replicas: ReplicaManager
  /** The in-process controller of a standalone broker; null when the controller runs elsewhere. */
  readonly embeddedController: Controller | null
  /** Settings changed at run time (volume.size.bytes, the replication throttles) over the static ones, as the metadata has them. */
  readonly dynamicConfig: DynamicBrokerConfig
  /** Consumer groups and committed offsets; opened after the logs. */
  groups!: GroupCoordinator
  /** Transactional ids and their transactions; opened after the groups. */
  transactions!: TransactionCoordinator
  private server: Server | null = null
  private readonly connections = new Set<Connection>()
  private readonly committedListeners = new Map<string, Set<Listener>>()
  private readonly writtenListeners = new Map<string, Set<Listener>>()
  private readonly topicSettingsCache = new Map<string, TopicSettings>()
  private readonly leadershipListeners: ((topic: string, partition: number, isLeader: boolean) => void)[] = []
  host = '127.0.0.1'
  port = 0

  private constructor(readonly settings: BrokerSettings, readonly log: Logger, readonly dataDir: string, logs: LogManager, embedded: Controller | null) {
    this.brokerId = intSetting(settings, 'broker.id')
    this.rack = settings['broker.rack'] || null
    this.logs = logs
    this.dynamicConfig = new DynamicBrokerConfig(settings, (name, value) => this.applyDynamicSetting(name, value))
    this.embeddedController = embedded
    this.fetchSessions = new FetchSessionCache(intSetting(settings, 'max.incremental.fetch.session.cache.slots'))
    const endpoints = (settings['controller.endpoints'] ?? '').split(',').map((e) => e.trim()).filter((e) => e.length > 0)
    this.link = new ControllerLink({
      brokerId: this.brokerId,
      rack: this.rack,
      endpoints,
      connect: embedded ? () => new InProcessChannel(embedded) : undefined,
      heartbeatIntervalMs: intSetting(settings, 'broker.heartbeat.interval.ms'),
      requestTimeoutMs: intSetting(settings, 'controller.request.timeout.ms'),
      log: log.child({ component: 'controller-link' }),
    })
    this.metadata = new BrokerMetadata(() => this.link.image, () => this.link.call('allocateProducerIds', {}), (err) => this.log.warn({ err: err.message }, 'cannot get producer ids'))
    const replicationLog = log.child({ component: 'replication' })
    this.replicas = new ReplicaManager({
      brokerId: this.brokerId,
      dataDir,
      logs,
      logConfig: (topic) => this.logConfig(topic),
      proposeIsr: (topic, partition, state, isr) => this.link.call<PartitionState>('alterPartition', {
        brokerId: this.brokerId, brokerEpoch: this.link.brokerEpoch, topic, partition, leaderEpoch: state.leaderEpoch, partitionEpoch: state.partitionEpoch, isr,
      }),
      notifyCommitted: (topic, partition, bytes) => this.notify(this.committedListeners, topic, partition, bytes),
      notifyWritten: (topic, partition) => this.notify(this.writtenListeners, topic, partition, 1),
      leadershipChanged: (topic, partition, isLeader) => { for (const l of this.leadershipListeners) l(topic, partition, isLeader) },
      partitionRemoved: (topic, partition) => {
        this.notify(this.committedListeners, topic, partition, 0)
        this.notify(this.writtenListeners, topic, partition, 0)
      },
      warn: (fields, msg) => replicationLog.warn(fields, msg),
      info: (fields, msg) => replicationLog.info(fields, msg),
    }, {
      replicaLagTimeMaxMs: intSetting(settings, 'replica.lag.time.max.ms'),
      fetchMaxBytes: intSetting(settings, 'replica.fetch.max.bytes'),
      fetchResponseMaxBytes: intSetting(settings, 'replica.fetch.response.max.bytes'),
      fetchWaitMaxMs: intSetting(settings, 'replica.fetch.wait.max.ms'),
      throttleBytesPerSec: intSetting(settings, 'follower.replication.throttled.rate'),
      leaderThrottleBytesPerSec: intSetting(settings, 'leader.replication.throttled.rate'),
      checkpointIntervalMs: intSetting(settings, 'replica.high.watermark.checkpoint.interval.ms'),
    })
  }

  static async open(settings: BrokerSettings, log: Logger): Promise<Broker> {
    const dataDir = settings['log.dirs']!
    const logs = new LogManager(dataDir, {
      log,
      retentionCheckIntervalMs: intSetting(settings, 'log.retention.check.interval.ms'),
      cleanerBackoffMs: intSetting(settings, 'log.cleaner.backoff.ms'),
      producerExpirationCheckIntervalMs: intSetting(settings, 'producer.id.expiration.check.interval.ms'),
      volumeSizeBytes: intSetting(settings, 'volume.size.bytes'),
    })
    let embedded: Controller | null = null
    if (!(settings['controller.endpoints'] ?? '').trim()) {
      // Standalone: this process is also the controller, with its metadata log in the data dir.
      embedded = new Controller(new EmbeddedBackend(join(dataDir, 'metadata')), { id: intSetting(settings, 'broker.id'), endpoint: 'in-process' }, {
        clusterId: settings['cluster.id'] ?? '',
        sessionTimeoutMs: intSetting(settings, 'broker.session.timeout.ms'),
        uncleanLeaderElection: boolSetting(settings, 'unclean.leader.election.enable'),
        leaderImbalanceCheckIntervalMs: boolSetting(settings, 'auto.leader.rebalance.enable') ? intSetting(settings, 'leader.imbalance.check.interval.seconds') * 1000 : 0,
        log: log.child({ component: 'controller' }),
      })
      await embedded.activate()
    }
    const broker = new Broker(settings, log, dataDir, logs, embedded)
    await logs.open((topic: string) => broker.logConfig(topic))
    if (embedded) await broker.importLegacyMetadata(embedded)
    return broker
  }

  /** A dynamic setting's effective value changed (a new layer in the metadata): apply it now. */
  private applyDynamicSetting(name: string, value: string): void {
    if (name === 'volume.size.bytes') {
      this.logs.volume.setLimit(Number(value))
      this.log.info({ setting: name, value, usedBytes: this.logs.volume.usedBytes }, 'volume size changed')
    } else if (name === 'follower.replication.throttled.rate' || name === 'leader.replication.throttled.rate') {
      const quota = name === 'follower.replication.throttled.rate' ? this.replicas.followerQuota : this.replicas.leaderQuota
      quota.rate = Number(value)
      this.log.info({ setting: name, value }, 'replication throttle changed')
    }
  }

  /**
   * Takes the cluster default layer and this broker's own layer of dynamic configs from the
   * metadata image. A key this broker does not take live, or a bad value (written by another
   * version of Fjord), is left out with a warning rather than refusing the whole layer.
   */
  private adoptDynamicConfigs(image: MetadataImage): void {
    const layer = (resource: string): Map<string, string> => {
      const out = new Map<string, string>()
      for (const [name, value] of Object.entries(image.brokerConfigs(resource))) {
        try {
          validateDynamicSetting(name, value)
          out.set(name, value)
        } catch (err) {
          this.log.warn({ resource, setting: name, value, err: (err as Error).message }, 'ignoring a dynamic broker config from the metadata')
        }
      }
      return out
    }
    this.dynamicConfig.replace({ default: layer(''), broker: layer(String(this.brokerId)) })
  }

  /**
   * Changes a layer of dynamic configs (IncrementalAlterConfigs: `replace` false, a null value
   * deletes its key; AlterConfigs: `replace` true) once its keys are known to be dynamic: the values
   * are checked here (INVALID_CONFIG), and a validate-only request ends there; otherwise the
   * controller records the layer. Resolves once this broker runs with it: the controller's
   * metadata push arrives before its answer.
   */
  async alterDynamicConfigs(scope: DynamicScope, changes: ReadonlyMap<string, string | null>, replace: boolean, validateOnly: boolean): Promise<void> {
    for (const [name, value] of changes) if (value !== null) validateDynamicSetting(name, value)
    if (validateOnly) return
    const resource = scope === 'default' ? '' : String(this.brokerId)
    await this.link.call('alterBrokerConfigs', { resource, changes: Object.fromEntries(changes), replace })
  }

  /**
   * Data directories from before the metadata log kept topics in cluster-metadata.json: carry
   * them into the log once (same ids, this broker as the only replica), so no data is orphaned.
   */
  private async importLegacyMetadata(controller: Controller): Promise<void> {
    const file = join(this.dataDir, 'cluster-metadata.json')
    if (!existsSync(file) || controller.image.topicCount > 0) return
    const snap = JSON.parse(readFileSync(file, 'utf8')) as { topics: { name: string; id: string; partitions: number; configs: Record<string, string>; internal: boolean }[]; nextProducerIdBlock?: number }
    await controller.importTopics(snap.topics, [this.brokerId], snap.nextProducerIdBlock ?? 0)
    renameSync(file, `${file}.imported`)
    this.log.info({ topics: snap.topics.length }, 'imported topics from cluster-metadata.json into the metadata log')
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
    await this.join()
  }

  /**
   * Registers with the controller, takes the first metadata image (with this broker's dynamic
   * configs), sets up the replicas it assigns here, then opens the coordinators on the internal
   * partitions this broker leads.
   */
  private async join(): Promise<void> {
    this.link.onChange((records, reset) => {
      const image = this.link.image
      const mine = (r: MetadataRecord): boolean => r.type === 'brokerConfigs' && (r.broker === '' || r.broker === String(this.brokerId))
      if (reset || records.some(mine)) this.adoptDynamicConfigs(image)
      for (const r of records) {
        if (r.type === 'configs' || r.type === 'topic' || r.type === 'removeTopic' || reset) {
          const names = reset ? [...image.allTopics()].map((t) => t.name) : [r.type === 'configs' ? r.topic : (r as { name: string }).name]
          for (const name of names) {
            this.topicSettingsCache.delete(name)
            if (image.topic(name)) this.logs.updateConfig(name, this.logConfig(name))
          }
          if (reset) break
        }
        if (r.type === 'removeTopic') {
          this.fetchSessions.forgetTopic(r.name)
          void this.groups?.forgetTopic(r.name)
        }
      }
      void this.replicas.applyMetadata(image)
    })
    await this.link.start(this.host, this.port, intSetting(this.settings, 'controller.request.timeout.ms'))
    this.checkClusterId(this.link.image.clusterId)
    await this.replicas.applyMetadata(this.link.image)
    await this.metadata.start()
    await this.openCoordinators()
  }

  /**
   * The data directory belongs to one cluster (Kafka's meta.properties): joining another one
   * would make this broker delete every log the new cluster does not know, so it refuses.
   */
  private checkClusterId(clusterId: string): void {
    const file = join(this.dataDir, 'meta.properties')
    if (existsSync(file)) {
      const stored = /^cluster\.id=(.*)$/m.exec(readFileSync(file, 'utf8'))?.[1]?.trim()
      if (stored && stored !== clusterId) {
        this.link.close()
        throw new Error(`${this.dataDir} belongs to cluster ${stored}, but the controller's cluster is ${clusterId}; refusing to join (its logs would be deleted)`)
      }
      return
    }
    const tmp = `${file}.tmp`
    writeFileSync(tmp, `#Written by Fjord\nversion=1\ncluster.id=${clusterId}\nnode.id=${this.brokerId}\n`)
    renameSync(tmp, file)
  }

  private async openCoordinators(): Promise<void> {
    const broker = this // eslint-disable-line @typescript-eslint/no-this-alias
    // coordinators: begin
    // The coordinators serve the partitions of __consumer_offsets / __transaction_state this
    // broker leads: loaded now for those it leads already, then following leadership changes.
    // Both hooks get the partitions' leader epochs (the coordinator epoch of transaction markers,
    // which must never go down), read from the replica once it leads with its new state.
    const leaderEpoch = (topic: string, partition: number): number => broker.replicas.get(topic, partition)?.state.leaderEpoch ?? -1
    broker.groups = await openGroupCoordinator(broker)
    broker.transactions = await openTransactionCoordinator(broker)
    broker.onLeadershipChange((topic, partition, isLeader) => void onInternalLeadershipChange(broker, topic, partition, isLeader, isLeader ? leaderEpoch(topic, partition) : undefined))
    await becomeLeaderOfLedPartitions(broker, leaderEpoch)
    // coordinators: end
  }

  /** Called when leadership of a partition here begins or ends (the coordinators follow their internal partitions). */
  onLeadershipChange(listener: (topic: string, partition: number, isLeader: boolean) => void): void {
    this.leadershipListeners.push(listener)
  }

  private context(connection: Connection, header: RequestContext['header']): RequestContext {
    return { broker: this, connection, header, version: header.apiVersion }
  }

  get bootstrap(): string {
    return `${this.host}:${this.port}`
  }

  /**
   * Stops the broker. A broker in a cluster first asks the controller to move its leaderships
   * elsewhere (controlled shutdown), so clients see a leader change rather than an outage.
   */
  async close(): Promise<void> {
    if (!this.embeddedController && this.link.connected && boolSetting(this.settings, 'controlled.shutdown.enable')) {
      const moved = await this.link.controlledShutdown(intSetting(this.settings, 'controlled.shutdown.timeout.ms'))
      this.log.info({ moved }, moved ? 'controlled shutdown: leadership moved away' : 'controlled shutdown timed out; stopping anyway')
    }
    this.delayed.close()
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve()
      this.server.close(() => resolve())
      for (const c of this.connections) c.close('broker shutting down')
    })
    await this.transactions?.close()
    await this.groups?.close()
    await this.replicas.close()
    this.link.close()
    await this.logs.close()
    await this.embeddedController?.close()
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
        minInsyncReplicas: Number(get('min.insync.replicas')),
      }
      this.topicSettingsCache.set(topic, s)
    }
    return s
  }

  get autoCreateTopics(): boolean {
    return boolSetting(this.settings, 'auto.create.topics.enable')
  }

  get liveBrokerCount(): number {
    return this.link.image.liveBrokers().length
  }

  /** Raises a controller's per-item error as the KafkaError it names. */
  private static toError(e: { code: number; message: string }): KafkaError {
    return new KafkaError(errorInfo(e.code), e.message)
  }

  /**
   * Creates topics through the controller; each topic is validated on its own, so one bad topic
   * does not stop the rest. Returns per-topic outcomes in request order, once this broker's own
   * replicas of the new partitions exist.
   */
  async createTopics(
    requests: { name: string; partitions: number; replicationFactor: number; configs: Record<string, string>; assignments?: number[][] }[],
    validateOnly = false,
  ): Promise<({ topic: TopicRecord } | { error: KafkaError })[]> {
    const creations: TopicCreation[] = requests.map((r) => ({
      name: r.name,
      partitions: r.partitions === -1 ? intSetting(this.settings, 'num.partitions') : r.partitions,
      replicationFactor: r.replicationFactor === -1 ? intSetting(this.settings, 'default.replication.factor') : r.replicationFactor,
      configs: r.configs,
      assignments: r.assignments,
    }))
    const outcomes = await this.link.call<Outcome<TopicRecord>[]>('createTopics', { topics: creations, validateOnly })
    await this.replicas.applyMetadata(this.link.image)
    return outcomes.map((o) => ('ok' in o ? { topic: this.metadata.topic(o.ok.name) ?? o.ok } : { error: Broker.toError(o.error) }))
  }

  /** Auto-creation on Metadata and Produce, when `auto.create.topics.enable` allows it. */
  async autoCreate(names: string[]): Promise<void> {
    const missing = names.filter((n) => !this.metadata.topic(n))
    if (missing.length === 0 || !this.autoCreateTopics) return
    const replicationFactor = Math.min(intSetting(this.settings, 'default.replication.factor'), Math.max(1, this.liveBrokerCount))
    await this.createTopics(missing.map((name) => ({ name, partitions: -1, replicationFactor, configs: {} })))
  }

  async deleteTopic(name: string): Promise<TopicRecord> {
    if (!boolSetting(this.settings, 'delete.topic.enable')) throw new KafkaError(ErrorCode.TOPIC_DELETION_DISABLED)
    // The coordinators keep their state in internal topics; deleting one would lose it.
    if (this.metadata.topic(name)?.internal) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic ${name} is a Kafka internal topic and is not allowed to be deleted.`)
    const [outcome] = await this.link.call<Outcome<TopicRecord>[]>('deleteTopics', { names: [name] })
    if (!outcome || 'error' in outcome) throw Broker.toError(outcome?.error ?? { code: ErrorCode.UNKNOWN_SERVER_ERROR.code, message: 'no answer' })
    await this.replicas.applyMetadata(this.link.image)
    return outcome.ok
  }

  async createPartitions(name: string, count: number, validateOnly: boolean, assignments?: number[][]): Promise<void> {
    await this.link.call('createPartitions', { topic: name, count, validateOnly, assignments })
    if (!validateOnly) await this.replicas.applyMetadata(this.link.image)
  }

  /** Replaces a topic's config overrides (AlterConfigs semantics) after validating all of them. */
  async setTopicConfigs(name: string, configs: Record<string, string>, validateOnly: boolean): Promise<void> {
    if (!this.metadata.topic(name)) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist.`)
    for (const [k, v] of Object.entries(configs)) validateTopicConfig(k, v)
    if (validateOnly) return
    await this.link.call('setConfigs', { topic: name, configs, validateOnly })
  }

  topicConfigNames(): string[] {
    return [...topicConfigDefs.keys()]
  }

  /** This broker's replica log of a partition (leader or follower). */
  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.getPartition(topic, partition)
  }

  /**
   * The replica of a partition that this broker leads, checked against the leader epoch the
   * client believes in (-1: no check), or the error the client should see.
   */
  leaderReplica(topic: string, partition: number, currentLeaderEpoch = -1): PartitionReplica {
    const replica = this.replicas.leader(topic, partition)
    checkLeaderEpoch(replica, currentLeaderEpoch)
    return replica
  }

  // ---- what the coordinators need of their broker -----------------------------------------------

  /** Whether this broker leads the partition now (coordinators serve only the partitions they lead). */
  isLeader(topic: string, partition: number): boolean {
    return this.replicas.get(topic, partition)?.isLeader ?? false
  }

  /** The broker leading a partition now, for FindCoordinator; null while the partition is offline. */
  leaderEndpoint(topic: string, partition: number): { nodeId: number; host: string; port: number } | null {
    const s = this.link.image.partitionState(topic, partition)
    const b = s && s.leader >= 0 ? this.link.image.brokers.get(s.leader) : undefined
    if (!b || b.fenced) return null
    return { nodeId: b.id, host: b.host, port: b.port }
  }

  /**
   * Appends batches to a partition this broker leads, as a producer with acks=all would: resolves
   * once the high watermark passes them; rejects with a KafkaError (NOT_LEADER_OR_FOLLOWER, ...).
   */
  async appendCommitted(topic: string, partition: number, batches: Buffer[]): Promise<{ baseOffset: number; lastOffset: number }> {
    const replica = this.replicas.leader(topic, partition)
    const minIsr = this.topicSettings(topic).minInsyncReplicas
    if (replica.state.isr.length < minIsr) {
      throw new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, `The ISR of ${topic}-${partition} has ${replica.state.isr.length} replicas, fewer than min.insync.replicas=${minIsr}`)
    }
    const epoch = replica.state.leaderEpoch
    for (const b of batches) b.writeInt32BE(epoch, 12) // partitionLeaderEpoch, not under the CRC
    const appended = replica.log.append(batches)
    await appended.done
    let bytes = 0
    for (const b of batches) bytes += b.length
    replica.written(appended.lastOffset + 1, bytes)
    await replica.waitForHighWatermark(appended.lastOffset + 1, intSetting(this.settings, 'replica.commit.timeout.ms'), epoch)
    return { baseOffset: appended.baseOffset, lastOffset: appended.lastOffset }
  }

  /**
   * Resolves once the high watermark of a partition this broker leads reaches `endOffset`
   * (what an acks=all write waits for); rejects with NOT_LEADER_OR_FOLLOWER or a timeout.
   */
  waitCommitted(topic: string, partition: number, endOffset: number): Promise<void> {
    const replica = this.replicas.leader(topic, partition)
    return replica.waitForHighWatermark(endOffset, intSetting(this.settings, 'replica.commit.timeout.ms'))
  }

  // ---- waiting for data ---------------------------------------------------------------------------

  private subscribe(map: Map<string, Set<Listener>>, topic: string, partition: number, listener: Listener): () => void {
    const key = `${topic}\0${partition}`
    let set = map.get(key)
    if (!set) map.set(key, (set = new Set()))
    set.add(listener)
    return () => {
      set!.delete(listener)
      if (set!.size === 0) map.delete(key)
    }
  }

  private notify(map: Map<string, Set<Listener>>, topic: string, partition: number, bytes: number): void {
    const set = map.get(`${topic}\0${partition}`)
    if (set) for (const l of [...set]) l(bytes)
  }

  /** Consumers: called when records become visible (the high watermark moved) or the partition changed. */
  onCommitted(topic: string, partition: number, listener: Listener): () => void {
    return this.subscribe(this.committedListeners, topic, partition, listener)
  }

  /** Followers: called when the leader's log grows. */
  onWritten(topic: string, partition: number, listener: Listener): () => void {
    return this.subscribe(this.writtenListeners, topic, partition, listener)
  }

  /**
   * A local append to a partition finished (`bytes` written): followers wake, and the high
   * watermark moves when the ISR allows (which wakes consumers).
   */
  notifyAppend(topic: string, partition: number, bytes: number): void {
    const replica = this.replicas.get(topic, partition)
    if (replica?.isLeader) replica.written(replica.log.writtenEndOffset, bytes)
    else this.notify(this.committedListeners, topic, partition, bytes)
  }
}
