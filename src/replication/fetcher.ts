// Followers copy from leaders with the Kafka Fetch API, as Kafka's replica fetcher threads do:
// one fetcher per leader broker, one long-polling Fetch at a time carrying every partition this
// broker follows there. Each request names the replica id, the leader epoch we believe in, and
// the epoch of our last batch (lastFetchedEpoch); a leader whose log diverged from ours answers
// with the end of the epoch we share (divergingEpoch) and we truncate there before copying on —
// so a returning replica drops a tail the new leader never had.

import { Apis } from '../protocol/apis.js'
import { ErrorCode } from '../protocol/errors.js'
import { splitBatchesLenient } from '../protocol/records.js'
import { KafkaConnection } from '../cli/kafka-client.js'
import { UnexpectedAppendOffsetError } from '../storage/index.js'
import type { PartitionReplica } from './partition-replica.js'
import { isThrottledReplica, type ReplicationQuota } from './quota.js'

/** Fetch v12: replica id in the request, lastFetchedEpoch and divergingEpoch, topic names. */
const FETCH_VERSION = 12

export interface FetcherHost {
  readonly brokerId: number
  readonly fetchMaxBytes: number
  readonly fetchResponseMaxBytes: number
  readonly fetchWaitMaxMs: number
  /** The follower throttle (follower.replication.throttled.rate) over replicas a reassignment adds. */
  readonly followerQuota: ReplicationQuota
  endpointOf(brokerId: number): { host: string; port: number } | null
  warn(fields: object, msg: string): void
}

const key = (topic: string, partition: number) => `${topic}\0${partition}`

export class LeaderFetcher {
  private readonly partitions = new Map<string, PartitionReplica>()
  /** Partitions whose last answer was an error: skipped until this time, or a metadata change. */
  private readonly backoffUntil = new Map<string, number>()
  private conn: KafkaConnection | null = null
  private running = true
  private wake: (() => void) | null = null
  private readonly loop: Promise<void>

  constructor(readonly leaderId: number, private readonly host: FetcherHost) {
    this.loop = this.run()
  }

  add(r: PartitionReplica): void {
    this.partitions.set(key(r.topic, r.partition), r)
    this.backoffUntil.delete(key(r.topic, r.partition))
    this.wake?.()
  }

  remove(r: PartitionReplica): void {
    const k = key(r.topic, r.partition)
    if (this.partitions.get(k) === r) this.partitions.delete(k)
  }

  get size(): number {
    return this.partitions.size
  }

  /** The leader's address changed (it restarted): reconnect. */
  reconnect(): void {
    this.conn?.close()
    this.conn = null
    this.backoffUntil.clear()
    this.wake?.()
  }

  async stop(): Promise<void> {
    this.running = false
    this.conn?.close()
    this.wake?.()
    await this.loop.catch(() => {})
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wake = null; resolve() }, ms)
      this.wake = () => { clearTimeout(t); this.wake = null; resolve() }
    })
  }

  private async run(): Promise<void> {
    while (this.running) {
      const now = Date.now()
      const active = [...this.partitions.values()].filter((r) => (this.backoffUntil.get(key(r.topic, r.partition)) ?? 0) <= now && !r.log.isClosed)
      if (active.length === 0) {
        await this.sleep(this.partitions.size === 0 ? 1000 : 100)
        continue
      }
      try {
        if (!this.conn) {
          const ep = this.host.endpointOf(this.leaderId)
          if (!ep) {
            await this.sleep(200)
            continue
          }
          this.conn = await KafkaConnection.open(ep, { clientId: `fjord-replica-${this.host.brokerId}`, requestTimeoutMs: this.host.fetchWaitMaxMs + 30_000, maxVersions: new Map([[Apis.Fetch.key, FETCH_VERSION]]) })
        }
        await this.fetchOnce(this.conn, active)
      } catch (err) {
        if (!this.running) break
        this.host.warn({ leader: this.leaderId, err: (err as Error).message }, 'replica fetch failed; retrying')
        this.conn?.close()
        this.conn = null
        await this.sleep(250)
      }
    }
    this.conn?.close()
  }

  private async fetchOnce(conn: KafkaConnection, replicas: PartitionReplica[]): Promise<void> {
    const byTopic = new Map<string, PartitionReplica[]>()
    const throttleNow = this.host.followerQuota.exceeded()
    let held = false
    for (const r of replicas) {
      // A reassignment's new replicas copy at the throttled rate; the ISR's members never wait.
      if (throttleNow && isThrottledReplica(r.state, this.host.brokerId)) {
        held = true
        continue
      }
      let list = byTopic.get(r.topic)
      if (!list) byTopic.set(r.topic, (list = []))
      list.push(r)
    }
    if (byTopic.size === 0) {
      // every replica waits for the follower quota: until it is paid (checked at least every 100 ms)
      await this.sleep(Math.min(100, Math.max(1, this.host.followerQuota.msUntilPaid())))
      return
    }
    const sent = new Map<string, { offset: number; leaderEpoch: number }>()
    const { body } = await conn.send(Apis.Fetch, () => ({
      replicaId: this.host.brokerId,
      // With replicas held back by the quota, the fetch must come back when it is paid, not
      // long-poll the in-sync ones for replica.fetch.wait.max.ms (that cut a throttled
      // reassignment to a fifth of its rate, whatever the rate).
      maxWaitMs: held ? Math.min(this.host.fetchWaitMaxMs, Math.max(1, this.host.followerQuota.msUntilPaid())) : this.host.fetchWaitMaxMs,
      minBytes: 1,
      maxBytes: this.host.fetchResponseMaxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...byTopic].map(([topic, list]) => ({
        topic,
        partitions: list.map((r) => {
          const fetchOffset = r.log.logEndOffset
          sent.set(key(r.topic, r.partition), { offset: fetchOffset, leaderEpoch: r.state.leaderEpoch })
          return {
            partition: r.partition,
            currentLeaderEpoch: r.state.leaderEpoch,
            fetchOffset,
            lastFetchedEpoch: r.log.epochs.latestEpoch,
            logStartOffset: r.log.logStartOffset,
            partitionMaxBytes: this.host.fetchMaxBytes,
          }
        }),
      })),
      forgottenTopicsData: [],
      rackId: '',
    }) as never)
    if (body.errorCode !== 0) throw new Error(`fetch from leader ${this.leaderId} failed with error ${body.errorCode}`)
    const work: Promise<void>[] = []
    for (const t of body.responses) {
      for (const p of t.partitions) {
        const k = key(t.topic, p.partitionIndex)
        const r = this.partitions.get(k)
        const s = sent.get(k)
        // The partition moved while the fetch was out: its answer is stale.
        if (!r || !s || r.state.leaderEpoch !== s.leaderEpoch || r.log.logEndOffset !== s.offset) continue
        work.push(this.apply(r, p as unknown as PartitionAnswer, s.offset).catch((err: Error) => {
          this.host.warn({ topic: r.topic, partition: r.partition, err: err.message }, 'applying fetched data failed')
          this.backoffUntil.set(k, Date.now() + 500)
        }))
      }
    }
    await Promise.all(work)
  }

  private async apply(r: PartitionReplica, p: PartitionAnswer, fetchOffset: number): Promise<void> {
    const k = key(r.topic, r.partition)
    const log = r.log
    if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE.code) {
      if (p.logStartOffset >= 0 && fetchOffset < p.logStartOffset) {
        // We are behind the leader's log start: start over from it.
        await log.truncateFullyAndStartAt(p.logStartOffset)
      } else if (p.highWatermark >= 0 && fetchOffset > p.highWatermark) {
        // Ahead of the leader (an unclean election): drop what it does not have.
        await log.truncateTo(p.highWatermark)
      } else {
        this.backoffUntil.set(k, Date.now() + 500)
      }
      r.truncated()
      return
    }
    if (p.errorCode !== 0) {
      // NOT_LEADER_OR_FOLLOWER, FENCED/UNKNOWN_LEADER_EPOCH...: wait for the metadata to catch up.
      this.backoffUntil.set(k, Date.now() + 200)
      return
    }
    const d = p.divergingEpoch
    if (d && d.epoch >= 0 && d.endOffset >= 0) {
      const ours = log.endOffsetForEpoch(d.epoch)
      let offset = d.endOffset
      if (ours.epoch === d.epoch && ours.endOffset >= 0) offset = Math.min(offset, ours.endOffset)
      offset = Math.min(offset, log.logEndOffset)
      await log.truncateTo(offset)
      r.truncated()
      return
    }
    const records = p.records
    if (records && records.length > 0) {
      const batches = splitBatchesLenient(records)
      if (batches.length > 0) {
        let bytes = 0
        for (const b of batches) bytes += b.length
        if (isThrottledReplica(r.state, this.host.brokerId)) this.host.followerQuota.record(bytes)
        await appendCopied(log, batches, p.logStartOffset)
      }
    }
    if (p.logStartOffset > log.logStartOffset && p.logStartOffset <= log.logEndOffset) {
      await log.deleteRecordsBefore(Math.min(p.logStartOffset, p.highWatermark)).catch(() => {})
    }
    r.leaderHighWatermark(p.highWatermark)
  }
}

/**
 * A follower that restarted at the leader's log start can get a first batch that begins before
 * it (the log start fell inside a batch, after DeleteRecords): restart the empty log at that
 * batch, then move the log start up again, as Kafka's follower does.
 */
async function appendCopied(log: PartitionReplica['log'], batches: Buffer[], leaderLogStart: number): Promise<void> {
  try {
    await log.appendAsFollower(batches).done
  } catch (err) {
    if (!(err instanceof UnexpectedAppendOffsetError) || err.firstOffset >= log.logEndOffset || log.logStartOffset !== log.logEndOffset) throw err
    await log.truncateFullyAndStartAt(err.firstOffset)
    await log.appendAsFollower(batches).done
    if (leaderLogStart > log.logStartOffset) await log.deleteRecordsBefore(leaderLogStart)
  }
}

interface PartitionAnswer {
  partitionIndex: number
  errorCode: number
  highWatermark: number
  logStartOffset: number
  divergingEpoch?: { epoch: number; endOffset: number }
  records: Buffer | null
}
