// The controller: the one writer of the cluster metadata. It registers brokers and watches their
// sessions (a broker whose session lapses is fenced: out of every ISR, its leaderships moved),
// assigns partitions to brokers spread over racks, elects leaders from the ISR, commits the ISR
// changes leaders propose (with partition-epoch checks, so a deposed leader's proposal fails),
// runs reassignments and preferred-leader elections, records topic configs and dynamic broker
// configs, and hands out producer-id blocks.
//
// Every change is computed from the current image as records, appended through the backend
// (embedded file or ZooKeeper), then applied and published to the brokers. Changes run one at a
// time through a queue, so each one sees the effects of the previous.

import { randomBytes } from 'node:crypto'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import type { ControllerCandidate, MetadataLogBackend } from './backend.js'
import { brokerConfigResource, validateDynamicSetting } from './broker-configs.js'
import { MetadataImage, type BrokerRegistration, type MetadataRecord, type PartitionState, type TopicRecord } from './records.js'
import { validateTopicConfig } from './topic-configs.js'
import { validateTopicName } from './topic-names.js'

export interface ControllerOptions {
  /** A broker silent this long (no heartbeat, no session connection) is fenced. */
  sessionTimeoutMs: number
  /** A broker whose session connection closed and did not come back within this is fenced (a killed process). */
  disconnectGraceMs: number
  /** How often leaders are moved back to their preferred replica (0: never). */
  leaderImbalanceCheckIntervalMs: number
  /** Cluster-wide default of unclean.leader.election.enable. */
  uncleanLeaderElection: boolean
  /** The cluster id to create the metadata with (generated when empty). */
  clusterId: string
  /** Records appended before the controller snapshots its image and compacts the log. */
  snapshotEveryRecords: number
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void }
}

export const defaultControllerOptions: ControllerOptions = {
  sessionTimeoutMs: 6000,
  disconnectGraceMs: 500,
  leaderImbalanceCheckIntervalMs: 10_000,
  uncleanLeaderElection: false,
  clusterId: '',
  snapshotEveryRecords: 5000,
}

export const PRODUCER_ID_BLOCK_SIZE = 1000
const MAX_PARTITIONS = 100_000

export interface TopicCreation {
  name: string
  partitions: number
  replicationFactor: number
  configs: Record<string, string>
  /** explicit replica lists per partition (CreateTopics assignments) */
  assignments?: number[][]
}

export type Outcome<T> = { ok: T } | { error: { code: number; message: string } }

function fail(err: unknown): { error: { code: number; message: string } } {
  if (err instanceof KafkaError) return { error: { code: err.code, message: err.message } }
  throw err
}

export interface BrokerSessionInfo {
  brokerId: number
  host: string
  port: number
  rack: string | null
  /** differs between two runs of the same broker id */
  incarnation: string
}

/** Published after every commit: the records, and the image they produced. */
export type MetadataListener = (records: MetadataRecord[], image: MetadataImage) => void

interface Liveness {
  lastHeartbeatMs: number
  connected: number
  graceTimer: NodeJS.Timeout | null
  incarnation: string
}

export class Controller {
  readonly image = new MetadataImage()
  epoch = -1
  private active = false
  private queue: Promise<unknown> = Promise.resolve()
  private readonly listeners = new Set<MetadataListener>()
  private readonly liveness = new Map<number, Liveness>()
  private sessionTimer: NodeJS.Timeout | null = null
  private imbalanceTimer: NodeJS.Timeout | null = null
  private recordsSinceSnapshot = 0
  private closed = false
  readonly options: ControllerOptions

  constructor(readonly backend: MetadataLogBackend, readonly candidate: ControllerCandidate, options: Partial<ControllerOptions> = {}) {
    this.options = { ...defaultControllerOptions, ...options }
  }

  get isActive(): boolean {
    return this.active
  }

  /** Waits to become the active controller, loads the metadata, and starts watching brokers. */
  async activate(onDeposed?: (reason: string) => void): Promise<void> {
    this.epoch = await this.backend.campaign(this.candidate, (reason) => {
      this.active = false
      this.options.log?.warn({ reason }, 'no longer the active controller')
      onDeposed?.(reason)
    })
    const records = await this.backend.load()
    for (const r of records) this.image.apply(r)
    this.recordsSinceSnapshot = records.length
    this.active = true
    if (!this.image.clusterId) await this.commit([{ type: 'cluster', clusterId: this.options.clusterId || randomBytes(16).toString('base64url') }])
    else if (this.options.clusterId && this.options.clusterId !== this.image.clusterId) {
      throw new Error(`cluster.id ${this.options.clusterId} does not match the cluster id ${this.image.clusterId} stored in the metadata`)
    }
    // Brokers registered under an earlier controller get one session timeout to show up.
    const now = Date.now()
    for (const b of this.image.brokers.values()) {
      if (!b.fenced) this.liveness.set(b.id, { lastHeartbeatMs: now, connected: 0, graceTimer: null, incarnation: '' })
    }
    this.sessionTimer = setInterval(() => this.checkSessions(), Math.max(100, Math.floor(this.options.sessionTimeoutMs / 4)))
    this.sessionTimer.unref()
    if (this.options.leaderImbalanceCheckIntervalMs > 0) {
      this.imbalanceTimer = setInterval(() => void this.electPreferredLeaders().catch(() => {}), this.options.leaderImbalanceCheckIntervalMs)
      this.imbalanceTimer.unref()
    }
    this.options.log?.info({ epoch: this.epoch, records: records.length, clusterId: this.image.clusterId }, 'active controller')
  }

  async close(): Promise<void> {
    this.closed = true
    this.active = false
    if (this.sessionTimer) clearInterval(this.sessionTimer)
    if (this.imbalanceTimer) clearInterval(this.imbalanceTimer)
    for (const l of this.liveness.values()) if (l.graceTimer) clearTimeout(l.graceTimer)
    await this.queue.catch(() => {})
    await this.backend.close()
  }

  subscribe(listener: MetadataListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Runs one change at a time: `fn` computes records from the image; they are committed before the next change. */
  private run<T>(fn: () => { records: MetadataRecord[]; result: T } | Promise<{ records: MetadataRecord[]; result: T }>): Promise<T> {
    const next = this.queue.then(async () => {
      if (!this.active) throw new KafkaError(ErrorCode.NOT_CONTROLLER, 'this controller is not active')
      const { records, result } = await fn()
      if (records.length > 0) await this.commit(records)
      return result
    })
    this.queue = next.catch(() => {})
    return next
  }

  private async commit(records: MetadataRecord[]): Promise<void> {
    await this.backend.append(records)
    for (const r of records) this.image.apply(r)
    for (const l of this.listeners) l(records, this.image)
    this.recordsSinceSnapshot += records.length
    if (this.recordsSinceSnapshot >= this.options.snapshotEveryRecords) {
      this.recordsSinceSnapshot = 0
      await this.backend.snapshot(this.image.toRecords())
    }
  }

  // ---- brokers ------------------------------------------------------------------------------------

  /**
   * A broker (re)registers: a new epoch, unfenced. A broker id still registered from an earlier
   * run is fenced first, so that partitions stop counting on its old incarnation.
   */
  registerBroker(info: BrokerSessionInfo): Promise<{ brokerEpoch: number; clusterId: string }> {
    return this.run(() => {
      const records: MetadataRecord[] = []
      const old = this.image.brokers.get(info.brokerId)
      const live = this.liveness.get(info.brokerId)
      if (old && !old.fenced && live && live.incarnation !== '' && live.incarnation !== info.incarnation) records.push(...this.fenceRecords(old))
      const epoch = (old?.epoch ?? 0) + 1
      const reg: BrokerRegistration = { id: info.brokerId, epoch, host: info.host, port: info.port, rack: info.rack, fenced: false, shuttingDown: false }
      records.push({ type: 'broker', ...reg })
      // Offline partitions this broker can lead again (it was the last in their ISR), as they are
      // once the records above apply: fencing its previous incarnation may just have taken them offline.
      const brokers = this.brokersAfter(records)
      const pending = new Map<string, PartitionState>()
      for (const r of records) {
        if (r.type !== 'partition') continue
        const { type: _, topic, partition, ...state } = r
        pending.set(`${topic}\0${partition}`, state)
      }
      for (const t of this.image.allTopics()) {
        t.states.forEach((current, p) => {
          const s = pending.get(`${t.name}\0${p}`) ?? current
          if (s.leader === -1 && s.isr.includes(info.brokerId)) records.push(this.partitionRecord(t.name, p, s, { leader: info.brokerId }))
          else if (s.leader === -1 && s.replicas.includes(info.brokerId) && this.uncleanAllowed(t)) {
            const leader = this.electLeader(s, brokers, true)
            if (leader !== -1) records.push(this.partitionRecord(t.name, p, s, { leader, isr: [leader] }))
          }
        })
      }
      this.liveness.set(info.brokerId, { lastHeartbeatMs: Date.now(), connected: (live?.connected ?? 0), graceTimer: live?.graceTimer ?? null, incarnation: info.incarnation })
      return { records, result: { brokerEpoch: epoch, clusterId: this.image.clusterId } }
    })
  }

  /** The broker's session connection opened or closed; a closed one fences after a short grace. */
  sessionConnection(brokerId: number, open: boolean): void {
    const l = this.liveness.get(brokerId) ?? { lastHeartbeatMs: Date.now(), connected: 0, graceTimer: null, incarnation: '' }
    this.liveness.set(brokerId, l)
    l.connected += open ? 1 : -1
    if (l.graceTimer) {
      clearTimeout(l.graceTimer)
      l.graceTimer = null
    }
    if (!open && l.connected <= 0 && !this.closed) {
      l.graceTimer = setTimeout(() => {
        l.graceTimer = null
        if (l.connected <= 0) void this.fenceBroker(brokerId, 'session connection closed').catch(() => {})
      }, this.options.disconnectGraceMs)
      l.graceTimer.unref()
    }
  }

  /** Heartbeat: keeps the session; `wantShutdown` starts a controlled shutdown. */
  heartbeat(brokerId: number, brokerEpoch: number, wantShutdown: boolean): Promise<{ fenced: boolean; shutdownReady: boolean }> {
    const b = this.image.brokers.get(brokerId)
    if (!b || b.epoch !== brokerEpoch) return Promise.resolve({ fenced: true, shutdownReady: wantShutdown })
    const l = this.liveness.get(brokerId)
    if (l) l.lastHeartbeatMs = Date.now()
    if (b.fenced) return Promise.resolve({ fenced: true, shutdownReady: wantShutdown })
    if (!wantShutdown) return Promise.resolve({ fenced: false, shutdownReady: false })
    return this.run(() => {
      const current = this.image.brokers.get(brokerId)!
      const records: MetadataRecord[] = []
      if (!current.shuttingDown) records.push({ type: 'broker', ...current, shuttingDown: true })
      const brokers = this.brokersAfter(records)
      for (const t of this.image.allTopics()) {
        t.states.forEach((s, p) => {
          if (!s.replicas.includes(brokerId)) return
          const isr = s.isr.filter((r) => r !== brokerId)
          if (s.leader === brokerId) {
            const leader = this.electLeader({ ...s, isr }, brokers, false)
            // nobody else in sync: it leads until it goes (its partitions go offline then)
            if (leader !== -1) records.push(this.partitionRecord(t.name, p, s, { leader, isr }))
          } else if (s.isr.includes(brokerId) && isr.length > 0) {
            records.push(this.partitionRecord(t.name, p, s, { isr }))
          }
        })
      }
      // Everything that could move has moved once these records commit.
      return { records, result: { fenced: false, shutdownReady: true } }
    })
  }

  fenceBroker(brokerId: number, reason: string): Promise<void> {
    return this.run(() => {
      const b = this.image.brokers.get(brokerId)
      if (!b || b.fenced) return { records: [], result: undefined }
      this.options.log?.warn({ brokerId, reason }, 'fencing broker')
      return { records: this.fenceRecords(b), result: undefined }
    })
  }

  /** Fences a broker: out of every ISR (unless it is the last member), its leaderships moved. */
  private fenceRecords(b: BrokerRegistration): MetadataRecord[] {
    const records: MetadataRecord[] = [{ type: 'broker', ...b, fenced: true, shuttingDown: false }]
    const brokers = this.brokersAfter(records)
    for (const t of this.image.allTopics()) {
      t.states.forEach((s, p) => {
        if (!s.replicas.includes(b.id)) return
        // The last ISR member stays recorded: it is the only replica known to have everything.
        const isr = s.isr.length > 1 ? s.isr.filter((r) => r !== b.id) : s.isr
        if (s.leader === b.id) {
          let leader = this.electLeader({ ...s, isr }, brokers, false)
          let newIsr = isr
          if (leader === -1 && this.uncleanAllowed(t)) {
            leader = this.electLeader(s, brokers, true)
            if (leader !== -1) newIsr = [leader]
          }
          records.push(this.partitionRecord(t.name, p, s, { leader, isr: newIsr }))
        } else if (isr !== s.isr && s.isr.includes(b.id)) {
          records.push(this.partitionRecord(t.name, p, s, { isr }))
        }
      })
    }
    return records
  }

  private checkSessions(): void {
    if (!this.active) return
    const now = Date.now()
    for (const [id, l] of this.liveness) {
      const b = this.image.brokers.get(id)
      if (b && !b.fenced && now - l.lastHeartbeatMs > this.options.sessionTimeoutMs) {
        void this.fenceBroker(id, `no heartbeat for ${now - l.lastHeartbeatMs} ms`).catch(() => {})
      }
    }
  }

  /** Brokers as they will be once `pending` records apply. */
  private brokersAfter(pending: MetadataRecord[]): Map<number, BrokerRegistration> {
    const out = new Map(this.image.brokers)
    for (const r of pending) if (r.type === 'broker') out.set(r.id, r)
    return out
  }

  private static eligible(b: BrokerRegistration | undefined): boolean {
    return b !== undefined && !b.fenced && !b.shuttingDown
  }

  /** The first replica (in preference order) that is in the ISR and alive; unclean: any alive replica. */
  private electLeader(s: PartitionState, brokers: Map<number, BrokerRegistration>, unclean: boolean): number {
    const target = s.replicas.filter((r) => !s.removingReplicas.includes(r))
    for (const r of [...target, ...s.removingReplicas]) {
      if ((unclean || s.isr.includes(r)) && Controller.eligible(brokers.get(r))) return r
    }
    return -1
  }

  private uncleanAllowed(t: TopicRecord): boolean {
    const v = t.configs['unclean.leader.election.enable']
    return v === undefined ? this.options.uncleanLeaderElection : v === 'true'
  }

  private partitionRecord(topic: string, partition: number, s: PartitionState, change: Partial<PartitionState>): MetadataRecord {
    const next: PartitionState = { ...s, ...change, partitionEpoch: s.partitionEpoch + 1 }
    if (next.leader !== s.leader) next.leaderEpoch = s.leaderEpoch + 1
    return { type: 'partition', topic, partition, ...next }
  }

  // ---- topics ---------------------------------------------------------------------------------------

  /** Replica lists for `count` new partitions from `first` on, spread over brokers and racks as Kafka's rack-aware assignment does. */
  assignReplicas(count: number, replicationFactor: number, first = 0): number[][] {
    const live = this.image.liveBrokers().filter((b) => !b.shuttingDown)
    if (replicationFactor > live.length) {
      throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor: ${replicationFactor} larger than available brokers: ${live.length}.`)
    }
    // Alternate racks in the broker order: az-1's first, az-2's first, az-3's first, az-1's second...
    const byRack = new Map<string, BrokerRegistration[]>()
    for (const b of live) {
      const rack = b.rack ?? ''
      if (!byRack.has(rack)) byRack.set(rack, [])
      byRack.get(rack)!.push(b)
    }
    const racks = [...byRack.keys()].sort()
    const ordered: BrokerRegistration[] = []
    for (let i = 0; ordered.length < live.length; i++) for (const r of racks) { const b = byRack.get(r)![i]; if (b) ordered.push(b) }
    const n = ordered.length
    const start = Math.floor(Math.random() * n)
    const out: number[][] = []
    for (let p = first; p < first + count; p++) {
      const replicas: BrokerRegistration[] = []
      const usedRacks = new Set<string>()
      const lead = (start + p) % n
      // Followers start further along each round of n partitions, so followers spread too.
      const shift = 1 + (Math.floor(p / n) % Math.max(1, n - 1))
      for (let k = 0; replicas.length < replicationFactor && k < n * 2; k++) {
        const b = ordered[(lead + (k === 0 ? 0 : shift + k - 1)) % n]!
        if (replicas.includes(b)) continue
        const rack = b.rack ?? ''
        // A rack already holding a replica is skipped while unused racks remain.
        if (usedRacks.has(rack) && usedRacks.size < racks.length && k < n) continue
        replicas.push(b)
        usedRacks.add(rack)
      }
      out.push(replicas.map((b) => b.id))
    }
    return out
  }

  createTopics(requests: TopicCreation[], validateOnly: boolean, internal = false): Promise<Outcome<TopicRecord>[]> {
    return this.run(() => {
      const records: MetadataRecord[] = []
      const seen = new Set<string>()
      const outcomes: Outcome<TopicRecord>[] = requests.map((r) => {
        try {
          if (seen.has(r.name)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Duplicate topic name ${r.name} in the request.`)
          seen.add(r.name)
          validateTopicName(r.name)
          if (this.image.topic(r.name)) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${r.name}' already exists.`)
          let assignment: number[][]
          if (r.assignments && r.assignments.length > 0) {
            assignment = r.assignments
            for (const replicas of assignment) {
              if (replicas.length === 0 || new Set(replicas).size !== replicas.length) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'A partition needs distinct replicas.')
              for (const id of replicas) if (!this.image.brokers.has(id)) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Broker ${id} is not registered.`)
            }
          } else {
            if (r.partitions < 1) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, 'Number of partitions must be larger than 0.')
            if (r.partitions > MAX_PARTITIONS) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Number of partitions ${r.partitions} exceeds the limit of ${MAX_PARTITIONS}.`)
            if (r.replicationFactor < 1) throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0.')
            assignment = this.assignReplicas(r.partitions, r.replicationFactor)
          }
          for (const [k, v] of Object.entries(r.configs)) validateTopicConfig(k, v)
          const id = validateOnly ? '' : randomBytes(16).toString('hex')
          const topic: TopicRecord = {
            name: r.name, id, partitions: assignment.length, replicationFactor: assignment[0]!.length, configs: r.configs,
            internal: internal || r.name.startsWith('__'), states: [],
          }
          if (!validateOnly) {
            records.push({ type: 'topic', name: r.name, id, internal: topic.internal, configs: r.configs })
            const brokers = this.image.brokers
            assignment.forEach((replicas, partition) => {
              const isr = replicas.filter((b) => Controller.eligible(brokers.get(b)))
              const state: PartitionState = { replicas, isr, leader: isr[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] }
              topic.states.push(state)
              records.push({ type: 'partition', topic: r.name, partition, ...state })
            })
          }
          return { ok: topic }
        } catch (err) {
          return fail(err)
        }
      })
      return { records, result: outcomes }
    })
  }

  deleteTopics(names: string[]): Promise<Outcome<TopicRecord>[]> {
    return this.run(() => {
      const records: MetadataRecord[] = []
      const outcomes = names.map((name): Outcome<TopicRecord> => {
        const t = this.image.topic(name)
        if (!t) return { error: { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code, message: `Topic ${name} does not exist.` } }
        records.push({ type: 'removeTopic', name })
        return { ok: t }
      })
      return { records, result: outcomes }
    })
  }

  createPartitions(name: string, count: number, validateOnly: boolean, assignments?: number[][]): Promise<void> {
    return this.run(() => {
      const t = this.image.topic(name)
      if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist.`)
      if (count < t.partitions) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Topic currently has ${t.partitions} partitions, which is higher than the requested ${count}.`)
      if (count === t.partitions) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Topic already has ${t.partitions} partitions.`)
      if (count > MAX_PARTITIONS) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Number of partitions ${count} exceeds the limit of ${MAX_PARTITIONS}.`)
      const rf = t.states[0]?.replicas.length ?? 1
      const assignment = assignments && assignments.length > 0 ? assignments : this.assignReplicas(count - t.partitions, rf, t.partitions)
      if (assignment.length !== count - t.partitions) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Expected ${count - t.partitions} replica lists, got ${assignment.length}.`)
      if (validateOnly) return { records: [], result: undefined }
      const records: MetadataRecord[] = assignment.map((replicas, i) => {
        const isr = replicas.filter((b) => Controller.eligible(this.image.brokers.get(b)))
        return { type: 'partition', topic: name, partition: t.partitions + i, replicas, isr, leader: isr[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] }
      })
      return { records, result: undefined }
    })
  }

  setConfigs(name: string, configs: Record<string, string>, validateOnly: boolean): Promise<void> {
    return this.run(() => {
      if (!this.image.topic(name)) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${name} does not exist.`)
      for (const [k, v] of Object.entries(configs)) validateTopicConfig(k, v)
      return { records: validateOnly ? [] : [{ type: 'configs', topic: name, configs }], result: undefined }
    })
  }

  /**
   * Changes a layer of dynamic broker configs (Kafka's BROKER resource): '' the cluster default,
   * else a broker id, registered or not, as Kafka's controller accepts. `replace` (AlterConfigs):
   * the layer becomes `changes`; otherwise (IncrementalAlterConfigs) `changes` are merged into it,
   * a null value deleting its key. Merging here, on the layer as committed, keeps two changes to
   * one layer arriving through different brokers from undoing each other. Only the keys given are
   * validated: keys already in the layer were valid when set. Resolves with the resulting layer;
   * a change that leaves it as it is writes nothing.
   */
  alterBrokerConfigs(resource: string, changes: Record<string, string | null>, replace: boolean, validateOnly: boolean): Promise<Record<string, string>> {
    return this.run(() => {
      const broker = brokerConfigResource(resource)
      for (const [name, value] of Object.entries(changes)) {
        if (value === null) {
          if (replace) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${name}`)
        } else validateDynamicSetting(name, value)
      }
      const current = this.image.brokerConfigs(broker)
      const next: Record<string, string> = replace ? {} : { ...current }
      for (const [name, value] of Object.entries(changes)) {
        if (value === null) delete next[name]
        else next[name] = value
      }
      const unchanged = Object.keys(next).length === Object.keys(current).length && Object.entries(next).every(([k, v]) => current[k] === v)
      const records: MetadataRecord[] = validateOnly || unchanged ? [] : [{ type: 'brokerConfigs', broker, configs: next }]
      return { records, result: next }
    })
  }

  // ---- partitions -----------------------------------------------------------------------------------

  /**
   * A leader proposes a new ISR (Kafka's AlterPartition). Refused when the proposer is not the
   * current leader of the current leader epoch, when the partition changed since the proposal's
   * partition epoch, or when it names a replica that is fenced or not assigned.
   */
  alterPartition(p: { brokerId: number; brokerEpoch: number; topic: string; partition: number; leaderEpoch: number; partitionEpoch: number; isr: number[] }): Promise<PartitionState> {
    return this.run(() => {
      const b = this.image.brokers.get(p.brokerId)
      if (!b || b.epoch !== p.brokerEpoch || b.fenced) throw new KafkaError(ErrorCode.STALE_BROKER_EPOCH, `broker ${p.brokerId} epoch ${p.brokerEpoch} is not current`)
      const t = this.image.topic(p.topic)
      const s = t?.states[p.partition]
      if (!t || !s) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      if (s.leader !== p.brokerId || s.leaderEpoch !== p.leaderEpoch) throw new KafkaError(ErrorCode.FENCED_LEADER_EPOCH, `leader is ${s.leader} at epoch ${s.leaderEpoch}`)
      if (s.partitionEpoch !== p.partitionEpoch) throw new KafkaError(ErrorCode.INVALID_UPDATE_VERSION, `partition epoch is ${s.partitionEpoch}, not ${p.partitionEpoch}`)
      const isr = [...new Set(p.isr)]
      if (!isr.includes(p.brokerId)) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'the leader must stay in the ISR')
      for (const r of isr) {
        if (!s.replicas.includes(r)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `broker ${r} is not a replica`)
        const rb = this.image.brokers.get(r)
        if (!s.isr.includes(r) && !Controller.eligible(rb)) throw new KafkaError(ErrorCode.INELIGIBLE_REPLICA, `broker ${r} is fenced or shutting down`)
      }
      const changed = this.partitionRecord(p.topic, p.partition, s, { isr }) as MetadataRecord & PartitionState
      const record = (this.completeReassignment(p.topic, p.partition, changed) ?? changed) as MetadataRecord & PartitionState
      const { replicas, leader, leaderEpoch, partitionEpoch, addingReplicas, removingReplicas } = record
      return { records: [record], result: { replicas, isr: record.isr, leader, leaderEpoch, partitionEpoch, addingReplicas, removingReplicas } }
    })
  }

  /** Preferred (type 0) or unclean (type 1) leader election; null partitions: all of them. */
  electLeaders(type: 0 | 1, partitions: { topic: string; partition: number }[] | null): Promise<Outcome<{ topic: string; partition: number; leader: number }>[]> {
    if (type === 0 && partitions === null) return this.electPreferredLeaders()
    return this.run(() => {
      const records: MetadataRecord[] = []
      const brokers = this.image.brokers
      const targets = partitions ?? [...this.image.allTopics()].flatMap((t) => t.states.map((_, partition) => ({ topic: t.name, partition })))
      const outcomes = targets.map((tp): Outcome<{ topic: string; partition: number; leader: number }> => {
        const s = this.image.partitionState(tp.topic, tp.partition)
        if (!s) return { error: { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code, message: `${tp.topic}-${tp.partition} does not exist` } }
        if (type === 0) {
          const preferred = s.replicas[0]!
          if (s.leader === preferred) return { error: { code: ErrorCode.ELECTION_NOT_NEEDED.code, message: 'Leader is already the preferred replica.' } }
          if (!s.isr.includes(preferred) || !Controller.eligible(brokers.get(preferred))) {
            return { error: { code: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE.code, message: `Preferred replica ${preferred} is not in the ISR or not alive.` } }
          }
          records.push(this.partitionRecord(tp.topic, tp.partition, s, { leader: preferred }))
          return { ok: { ...tp, leader: preferred } }
        }
        if (s.leader !== -1) return { error: { code: ErrorCode.ELECTION_NOT_NEEDED.code, message: 'The partition has a leader.' } }
        const leader = this.electLeader(s, brokers, true)
        if (leader === -1) return { error: { code: ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE.code, message: 'No replica is alive.' } }
        records.push(this.partitionRecord(tp.topic, tp.partition, s, { leader, isr: s.isr.includes(leader) ? s.isr : [leader] }))
        return { ok: { ...tp, leader } }
      })
      return { records, result: outcomes }
    })
  }

  /** Moves leadership back to each partition's preferred replica where it is in sync and alive. */
  electPreferredLeaders(): Promise<Outcome<{ topic: string; partition: number; leader: number }>[]> {
    return this.run(() => {
      const records: MetadataRecord[] = []
      const outcomes: Outcome<{ topic: string; partition: number; leader: number }>[] = []
      for (const t of this.image.allTopics()) {
        t.states.forEach((s, partition) => {
          const preferred = s.replicas[0]!
          if (s.leader !== preferred && s.isr.includes(preferred) && Controller.eligible(this.image.brokers.get(preferred)) && s.addingReplicas.length === 0) {
            records.push(this.partitionRecord(t.name, partition, s, { leader: preferred }))
            outcomes.push({ ok: { topic: t.name, partition, leader: preferred } })
          }
        })
      }
      return { records, result: outcomes }
    })
  }

  // ---- reassignment (KIP-455) ------------------------------------------------------------------------

  /**
   * Starts (replicas given) or cancels (null) a reassignment. The partition's replica set
   * becomes target ∪ current with the differences recorded as adding/removing; it completes when
   * every target replica is in the ISR.
   */
  alterReassignments(changes: { topic: string; partition: number; replicas: number[] | null }[]): Promise<Outcome<null>[]> {
    return this.run(() => {
      const records: MetadataRecord[] = []
      const outcomes = changes.map((c): Outcome<null> => {
        const s = this.image.partitionState(c.topic, c.partition)
        if (!s) return { error: { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code, message: `${c.topic}-${c.partition} does not exist` } }
        if (c.replicas === null) {
          if (s.addingReplicas.length === 0 && s.removingReplicas.length === 0) return { error: { code: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS.code, message: 'No reassignment in progress.' } }
          const replicas = s.replicas.filter((r) => !s.addingReplicas.includes(r))
          const isr = s.isr.filter((r) => replicas.includes(r))
          const leader = replicas.includes(s.leader) ? s.leader : this.electLeader({ ...s, replicas, isr, removingReplicas: [] }, this.image.brokers, false)
          records.push(this.partitionRecord(c.topic, c.partition, s, { replicas, isr: isr.length > 0 ? isr : s.isr, leader, addingReplicas: [], removingReplicas: [] }))
          return { ok: null }
        }
        const target = c.replicas
        if (target.length === 0 || new Set(target).size !== target.length) return { error: { code: ErrorCode.INVALID_REPLICA_ASSIGNMENT.code, message: 'Replicas must be distinct and not empty.' } }
        for (const id of target) if (!this.image.brokers.has(id)) return { error: { code: ErrorCode.INVALID_REPLICA_ASSIGNMENT.code, message: `Broker ${id} is not registered.` } }
        const original = s.replicas.filter((r) => !s.addingReplicas.includes(r))
        const adding = target.filter((r) => !original.includes(r))
        const removing = original.filter((r) => !target.includes(r))
        const replicas = [...target, ...removing]
        const state = { ...s, replicas, addingReplicas: adding, removingReplicas: removing }
        const done = this.completeReassignment(c.topic, c.partition, { ...state, partitionEpoch: s.partitionEpoch })
        records.push(done ?? this.partitionRecord(c.topic, c.partition, s, { replicas, addingReplicas: adding, removingReplicas: removing }))
        return { ok: null }
      })
      return { records, result: outcomes }
    })
  }

  /** When every target replica of a reassignment is in the ISR, the record that finishes it. */
  private completeReassignment(topic: string, partition: number, s: PartitionState): MetadataRecord | null {
    if (s.addingReplicas.length === 0 && s.removingReplicas.length === 0) return null
    const target = s.replicas.filter((r) => !s.removingReplicas.includes(r))
    if (!target.every((r) => s.isr.includes(r))) return null
    const isr = s.isr.filter((r) => target.includes(r))
    const base = this.image.partitionState(topic, partition)!
    let leader = s.leader
    if (!target.includes(leader)) leader = this.electLeader({ ...s, replicas: target, isr, removingReplicas: [] }, this.image.brokers, false)
    return this.partitionRecord(topic, partition, base, { replicas: target, isr, leader, addingReplicas: [], removingReplicas: [] })
  }

  listReassignments(): { topic: string; partition: number; replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }[] {
    const out = []
    for (const t of this.image.allTopics()) {
      for (let p = 0; p < t.states.length; p++) {
        const s = t.states[p]!
        if (s.addingReplicas.length > 0 || s.removingReplicas.length > 0) out.push({ topic: t.name, partition: p, replicas: s.replicas, addingReplicas: s.addingReplicas, removingReplicas: s.removingReplicas })
      }
    }
    return out
  }

  /** Carries topics from an older metadata format into the log (standalone upgrade), ids kept. */
  importTopics(topics: { name: string; id: string; partitions: number; configs: Record<string, string>; internal: boolean }[], replicas: number[], nextProducerIdBlock: number): Promise<void> {
    return this.run(() => {
      const records: MetadataRecord[] = []
      for (const t of topics) {
        if (this.image.topic(t.name)) continue
        records.push({ type: 'topic', name: t.name, id: t.id, internal: t.internal, configs: t.configs })
        for (let partition = 0; partition < t.partitions; partition++) {
          records.push({ type: 'partition', topic: t.name, partition, replicas, isr: replicas, leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [] })
        }
      }
      if (nextProducerIdBlock > this.image.nextProducerIdBlock) records.push({ type: 'producerIds', nextBlock: nextProducerIdBlock })
      return { records, result: undefined }
    })
  }

  // ---- producer ids ------------------------------------------------------------------------------------

  /** A block of producer ids no one has had before. */
  allocateProducerIds(): Promise<{ start: number; length: number }> {
    return this.run(() => {
      const start = this.image.nextProducerIdBlock
      return { records: [{ type: 'producerIds', nextBlock: start + PRODUCER_ID_BLOCK_SIZE }], result: { start, length: PRODUCER_ID_BLOCK_SIZE } }
    })
  }
}
