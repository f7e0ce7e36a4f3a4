// Turns the metadata into roles on this broker: for every partition with a replica here, the log
// exists and the replica leads or follows as the latest partition state says; a replica no longer
// assigned here (topic deleted, reassigned away) is stopped and its log deleted. Leadership of
// the coordinators' internal partitions is reported to them. High watermarks are checkpointed
// (replication-offset-checkpoint, Kafka's format) so a restarted leader starts from its last one.

import { join } from 'node:path'
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import type { MetadataImage, PartitionState } from '../controller/records.js'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import type { LogConfig, LogManager } from '../storage/index.js'
import { LeaderFetcher, type FetcherHost } from './fetcher.js'
import { PartitionReplica, type ReplicaHost } from './partition-replica.js'
import { ReplicationQuota } from './quota.js'

export interface ReplicationSettings {
  replicaLagTimeMaxMs: number
  fetchMaxBytes: number
  fetchResponseMaxBytes: number
  fetchWaitMaxMs: number
  /** follower.replication.throttled.rate at start (bytes/s, 0: none); changed live through followerQuota. */
  throttleBytesPerSec: number
  /** leader.replication.throttled.rate at start; changed live through leaderQuota. */
  leaderThrottleBytesPerSec?: number
  checkpointIntervalMs: number
}

export interface ReplicaManagerHost {
  readonly brokerId: number
  readonly dataDir: string
  readonly logs: LogManager
  logConfig(topic: string): LogConfig
  proposeIsr(topic: string, partition: number, state: PartitionState, isr: number[]): Promise<PartitionState>
  notifyCommitted(topic: string, partition: number, bytes: number): void
  notifyWritten(topic: string, partition: number): void
  /** Leadership of a partition here began (true) or ended (false); for the coordinators. */
  leadershipChanged(topic: string, partition: number, isLeader: boolean): void
  /** A partition's log is gone (deleted topic, moved away). */
  partitionRemoved(topic: string, partition: number): void
  warn(fields: object, msg: string): void
  info(fields: object, msg: string): void
}

const CHECKPOINT_FILE = 'replication-offset-checkpoint'
const key = (topic: string, partition: number) => `${topic}\0${partition}`

export class ReplicaManager implements ReplicaHost, FetcherHost {
  private readonly replicas = new Map<string, PartitionReplica>()
  private readonly fetchers = new Map<number, LeaderFetcher>()
  private image: MetadataImage | null = null
  private reconciling: Promise<void> = Promise.resolve()
  private pendingReconcile = false
  private checkpointed = new Map<string, number>()
  private lagTimer: NodeJS.Timeout | null = null
  private checkpointTimer: NodeJS.Timeout | null = null
  private closed = false
  private readonly endpoints = new Map<number, string>()
  /** Bytes this broker copies as a follower for replicas a reassignment adds. */
  readonly followerQuota: ReplicationQuota
  /** Bytes this broker serves as a leader to replicas a reassignment adds (the Fetch handler). */
  readonly leaderQuota: ReplicationQuota

  constructor(private readonly host: ReplicaManagerHost, private readonly settings: ReplicationSettings) {
    this.followerQuota = new ReplicationQuota(settings.throttleBytesPerSec)
    this.leaderQuota = new ReplicationQuota(settings.leaderThrottleBytesPerSec ?? 0)
    this.checkpointed = this.readCheckpoint()
    this.lagTimer = setInterval(() => this.checkLag(), Math.max(100, Math.floor(settings.replicaLagTimeMaxMs / 2)))
    this.lagTimer.unref()
    this.checkpointTimer = setInterval(() => this.writeCheckpoint(), settings.checkpointIntervalMs)
    this.checkpointTimer.unref()
  }

  // ---- ReplicaHost / FetcherHost ------------------------------------------------------------------

  get brokerId(): number { return this.host.brokerId }
  get replicaLagTimeMaxMs(): number { return this.settings.replicaLagTimeMaxMs }
  get fetchMaxBytes(): number { return this.settings.fetchMaxBytes }
  get fetchResponseMaxBytes(): number { return this.settings.fetchResponseMaxBytes }
  get fetchWaitMaxMs(): number { return this.settings.fetchWaitMaxMs }

  isAlive(brokerId: number): boolean {
    const b = this.image?.brokers.get(brokerId)
    return b !== undefined && !b.fenced && !b.shuttingDown
  }

  proposeIsr(topic: string, partition: number, state: PartitionState, isr: number[]): Promise<PartitionState> {
    return this.host.proposeIsr(topic, partition, state, isr)
  }

  notifyCommitted(topic: string, partition: number, bytes: number): void { this.host.notifyCommitted(topic, partition, bytes) }
  notifyWritten(topic: string, partition: number): void { this.host.notifyWritten(topic, partition) }
  warn(fields: object, msg: string): void { this.host.warn(fields, msg) }

  endpointOf(brokerId: number): { host: string; port: number } | null {
    const b = this.image?.brokers.get(brokerId)
    if (!b || b.fenced) return null
    return { host: b.host, port: b.port }
  }

  // ---- lookups ----------------------------------------------------------------------------------------

  get(topic: string, partition: number): PartitionReplica | undefined {
    return this.replicas.get(key(topic, partition))
  }

  /** The leader replica of a partition here, or the Kafka error a client should see. */
  leader(topic: string, partition: number): PartitionReplica {
    const r = this.replicas.get(key(topic, partition))
    if (r?.isLeader) return r
    const s = this.image?.partitionState(topic, partition)
    if (!s) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    if (s.leader === -1) throw new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, `${topic}-${partition} has no leader: no replica of its ISR is alive`)
    throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${this.host.brokerId} does not lead ${topic}-${partition}; broker ${s.leader} does`)
  }

  // ---- metadata → roles ---------------------------------------------------------------------------------

  /** Called on every metadata change; runs one reconciliation at a time, coalescing bursts. */
  applyMetadata(image: MetadataImage): Promise<void> {
    this.image = image
    if (this.pendingReconcile) return this.reconciling
    this.pendingReconcile = true
    this.reconciling = this.reconciling.then(async () => {
      this.pendingReconcile = false
      if (!this.closed) await this.reconcile(this.image!)
    }).catch((err) => this.host.warn({ err: (err as Error).message }, 'applying metadata failed'))
    return this.reconciling
  }

  private async reconcile(image: MetadataImage): Promise<void> {
    const me = this.host.brokerId
    // A broker that restarted on another port: reconnect its fetcher.
    for (const [id, f] of this.fetchers) {
      const b = image.brokers.get(id)
      const ep = b ? `${b.host}:${b.port}:${b.epoch}` : ''
      if (this.endpoints.get(id) !== ep) {
        if (this.endpoints.has(id)) f.reconnect()
        this.endpoints.set(id, ep)
      }
    }
    const wanted = new Set<string>()
    for (const t of image.allTopics()) {
      for (let p = 0; p < t.states.length; p++) {
        const s = t.states[p]
        if (!s || !s.replicas.includes(me)) continue
        const k = key(t.name, p)
        wanted.add(k)
        let r = this.replicas.get(k)
        if (!r) {
          const log = this.host.logs.getPartition(t.name, p) ?? (await this.host.logs.createPartition(t.name, p, this.host.logConfig(t.name)))
          r = new PartitionReplica(this, t.name, p, log, s, this.checkpointed.get(k) ?? 0)
          this.replicas.set(k, r)
          this.transition(r, s, true)
        } else if (r.state.partitionEpoch !== s.partitionEpoch || r.state.leaderEpoch !== s.leaderEpoch || r.state.leader !== s.leader) {
          this.transition(r, s, false)
        }
      }
    }
    for (const [k, r] of this.replicas) {
      if (wanted.has(k)) continue
      this.replicas.delete(k)
      this.stopFollowing(r)
      if (r.isLeader) this.host.leadershipChanged(r.topic, r.partition, false)
      r.stop(new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${r.topic}-${r.partition} is no longer on broker ${me}`))
      await this.host.logs.deletePartition(r.topic, r.partition)
      this.host.partitionRemoved(r.topic, r.partition)
    }
    // Logs on disk that no replica here owns any more (deleted while this broker was down).
    for (const { topic, partition } of [...this.host.logs.partitions()]) {
      if (!wanted.has(key(topic, partition))) {
        this.host.info({ topic, partition }, 'deleting a log no longer assigned to this broker')
        await this.host.logs.deletePartition(topic, partition)
        this.host.partitionRemoved(topic, partition)
      }
    }
    for (const [id, f] of this.fetchers) {
      if (f.size === 0) {
        this.fetchers.delete(id)
        void f.stop()
      }
    }
  }

  private transition(r: PartitionReplica, s: PartitionState, fresh: boolean): void {
    const me = this.host.brokerId
    const wasLeader = !fresh && r.isLeader
    const leaderChanged = fresh || r.state.leaderEpoch !== s.leaderEpoch || r.state.leader !== s.leader
    if (s.leader === me) {
      if (!wasLeader || leaderChanged) {
        this.stopFollowing(r)
        r.becomeLeader(s)
        this.host.info({ topic: r.topic, partition: r.partition, leaderEpoch: s.leaderEpoch, isr: s.isr, logEnd: r.log.logEndOffset, hw: r.hw }, 'leading')
        this.host.leadershipChanged(r.topic, r.partition, true)
      } else r.update(s)
    } else {
      if (wasLeader) this.host.leadershipChanged(r.topic, r.partition, false)
      if (wasLeader || leaderChanged) {
        this.stopFollowing(r)
        r.becomeFollower(s)
        if (s.leader >= 0) this.fetcherFor(s.leader).add(r)
      } else r.update(s)
      // consumers waiting on a partition we stopped leading answer now, with the error
      if (wasLeader) this.host.notifyCommitted(r.topic, r.partition, 0)
    }
  }

  private fetcherFor(leaderId: number): LeaderFetcher {
    let f = this.fetchers.get(leaderId)
    if (!f) {
      f = new LeaderFetcher(leaderId, this)
      this.fetchers.set(leaderId, f)
      const b = this.image?.brokers.get(leaderId)
      this.endpoints.set(leaderId, b ? `${b.host}:${b.port}:${b.epoch}` : '')
    }
    return f
  }

  private stopFollowing(r: PartitionReplica): void {
    for (const f of this.fetchers.values()) f.remove(r)
  }

  private checkLag(): void {
    const now = Date.now()
    for (const r of this.replicas.values()) if (r.isLeader) r.checkLaggingFollowers(now)
  }

  // ---- high-watermark checkpoint ----------------------------------------------------------------------

  private readCheckpoint(): Map<string, number> {
    const out = new Map<string, number>()
    const file = join(this.host.dataDir, CHECKPOINT_FILE)
    if (!existsSync(file)) return out
    try {
      const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0)
      for (const line of lines.slice(2)) {
        const parts = line.split(' ')
        if (parts.length !== 3) continue
        out.set(key(parts[0]!, Number(parts[1])), Number(parts[2]))
      }
    } catch (err) {
      this.host.warn({ err: (err as Error).message }, `ignoring an unreadable ${CHECKPOINT_FILE}`)
    }
    return out
  }

  writeCheckpoint(): void {
    const entries = [...this.replicas.values()].map((r) => `${r.topic} ${r.partition} ${r.hw}`)
    const file = join(this.host.dataDir, CHECKPOINT_FILE)
    const tmp = `${file}.tmp`
    try {
      const fd = openSync(tmp, 'w')
      try {
        writeSync(fd, `0\n${entries.length}\n${entries.join('\n')}${entries.length ? '\n' : ''}`)
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, file)
    } catch (err) {
      this.host.warn({ err: (err as Error).message }, `cannot write ${CHECKPOINT_FILE}`)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.lagTimer) clearInterval(this.lagTimer)
    if (this.checkpointTimer) clearInterval(this.checkpointTimer)
    await this.reconciling.catch(() => {})
    await Promise.all([...this.fetchers.values()].map((f) => f.stop()))
    this.fetchers.clear()
    for (const r of this.replicas.values()) r.stop(new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'broker shutting down'))
    this.writeCheckpoint()
  }
}

