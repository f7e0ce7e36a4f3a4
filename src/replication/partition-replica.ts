// One partition replica on this broker, as leader or follower.
//
// As leader it tracks each follower's log end (learned from the offsets of their fetches), keeps
// the high watermark at the smallest log end in the ISR, releases acks=all produces once the high
// watermark passes them, and proposes ISR changes to the controller: a follower that caught up
// joins, one that fell behind for replica.lag.time.max.ms leaves. While a change is in flight the
// high watermark counts the larger of the two ISRs (Kafka's "maximal ISR"), so a shrink never
// lets it advance before the controller has committed the shrink — a leader cut off from the
// controller cannot acknowledge acks=all writes on its own.
//
// As follower it copies batches from the leader (see fetcher.ts) and takes the leader's high
// watermark, capped at its own log end, so consumers in its zone can read from it (KIP-392).

import type { PartitionState } from '../controller/records.js'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import type { PartitionLog } from '../storage/index.js'

export interface ReplicaHost {
  readonly brokerId: number
  readonly replicaLagTimeMaxMs: number
  /** Whether a broker is registered and not fenced. */
  isAlive(brokerId: number): boolean
  /** Sends an ISR proposal to the controller; resolves with the committed state. */
  proposeIsr(topic: string, partition: number, state: PartitionState, isr: number[]): Promise<PartitionState>
  /** Consumers waiting on the partition: `bytes` became visible below the high watermark. */
  notifyCommitted(topic: string, partition: number, bytes: number): void
  /** Followers waiting on the partition: the leader's log grew. */
  notifyWritten(topic: string, partition: number): void
  warn(fields: object, msg: string): void
}

interface FollowerState {
  /** The follower's log end offset, as its last fetch said; -1 until it fetches. */
  logEnd: number
  lastCaughtUpMs: number
  lastFetchMs: number
  /** Our log end when the follower last fetched. */
  leaderEndAtLastFetch: number
}

interface Waiter {
  offset: number
  resolve: () => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout | null
}

export type Role = 'leader' | 'follower'

export class PartitionReplica {
  role: Role = 'follower'
  hw: number
  private readonly followers = new Map<number, FollowerState>()
  private proposedIsr: number[] | null = null
  private waiters: Waiter[] = []
  /** Sizes of batches written but not yet below the high watermark, for waking consumers with byte counts. */
  private unreadBytes: { end: number; bytes: number }[] = []
  /** The offset the current leader epoch started at on this leader. */
  epochStartOffset = 0

  constructor(readonly host: ReplicaHost, readonly topic: string, readonly partition: number, readonly log: PartitionLog, public state: PartitionState, checkpointedHw: number) {
    this.hw = Math.min(Math.max(checkpointedHw, log.logStartOffset), log.writtenEndOffset)
  }

  get isLeader(): boolean {
    return this.role === 'leader'
  }

  /** The ISR the high watermark must respect: the committed one, plus any member being added. */
  private get maximalIsr(): number[] {
    if (!this.proposedIsr) return this.state.isr
    return [...new Set([...this.state.isr, ...this.proposedIsr])]
  }

  becomeLeader(state: PartitionState): void {
    const now = Date.now()
    this.state = state
    this.role = 'leader'
    this.proposedIsr = null
    this.epochStartOffset = this.log.logEndOffset
    this.log.epochs.assign(state.leaderEpoch, this.log.logEndOffset)
    this.followers.clear()
    for (const r of state.replicas) {
      if (r !== this.host.brokerId) this.followers.set(r, { logEnd: -1, lastCaughtUpMs: now, lastFetchMs: 0, leaderEndAtLastFetch: -1 })
    }
    this.unreadBytes = []
    this.advanceHighWatermark()
  }

  becomeFollower(state: PartitionState): void {
    this.state = state
    this.role = 'follower'
    this.proposedIsr = null
    this.followers.clear()
    this.failWaiters(new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${this.topic}-${this.partition} is now led by broker ${state.leader}`))
    this.unreadBytes = []
  }

  /** A metadata change that keeps this broker's role (an ISR or replica-set change). */
  update(state: PartitionState): void {
    this.state = state
    if (this.role !== 'leader') return
    this.proposedIsr = null // committed or superseded: the metadata is the truth now
    const now = Date.now()
    for (const r of state.replicas) {
      if (r !== this.host.brokerId && !this.followers.has(r)) this.followers.set(r, { logEnd: -1, lastCaughtUpMs: now, lastFetchMs: 0, leaderEndAtLastFetch: -1 })
    }
    for (const r of [...this.followers.keys()]) if (!state.replicas.includes(r)) this.followers.delete(r)
    this.advanceHighWatermark()
  }

  // ---- leader ------------------------------------------------------------------------------------

  /** A follower fetched from `fetchOffset`: everything before it is on its log. */
  followerFetched(replicaId: number, fetchOffset: number): boolean {
    const f = this.followers.get(replicaId)
    if (!f) return false
    const now = Date.now()
    const leaderEnd = this.log.writtenEndOffset
    if (fetchOffset >= leaderEnd) f.lastCaughtUpMs = now
    else if (fetchOffset >= f.leaderEndAtLastFetch) f.lastCaughtUpMs = f.lastFetchMs
    f.logEnd = fetchOffset
    f.leaderEndAtLastFetch = leaderEnd
    f.lastFetchMs = now
    if (!this.maximalIsr.includes(replicaId) && fetchOffset >= this.hw && fetchOffset >= this.epochStartOffset && this.host.isAlive(replicaId)) {
      this.propose([...this.state.isr, replicaId])
    }
    this.advanceHighWatermark()
    return true
  }

  /** Followers in the ISR that have not caught up for replica.lag.time.max.ms leave it. */
  checkLaggingFollowers(now: number): void {
    if (this.role !== 'leader' || this.proposedIsr) return
    const lagging = this.state.isr.filter((r) => {
      if (r === this.host.brokerId) return false
      const f = this.followers.get(r)
      return !f || now - f.lastCaughtUpMs > this.host.replicaLagTimeMaxMs
    })
    if (lagging.length > 0) this.propose(this.state.isr.filter((r) => !lagging.includes(r)))
  }

  private propose(isr: number[]): void {
    if (this.proposedIsr) return
    this.proposedIsr = isr
    const sent = this.state
    this.host.proposeIsr(this.topic, this.partition, sent, isr).then(
      (state) => {
        if (this.role !== 'leader' || this.state.leaderEpoch !== state.leaderEpoch) return
        this.proposedIsr = null
        if (state.partitionEpoch >= this.state.partitionEpoch) this.update(state)
      },
      (err: Error) => {
        if (this.proposedIsr === isr) this.proposedIsr = null
        this.host.warn({ topic: this.topic, partition: this.partition, isr, err: err.message }, 'ISR change refused; waiting for the metadata')
        // A refused shrink is retried by the next lag check; a refused expansion by the next fetch.
      },
    )
  }

  /** This leader wrote batches ending before `end` (`bytes` long). */
  written(end: number, bytes: number): void {
    if (this.role !== 'leader') return
    this.unreadBytes.push({ end, bytes })
    this.host.notifyWritten(this.topic, this.partition)
    this.advanceHighWatermark()
  }

  /** Recomputes the high watermark: the smallest log end of the ISR (which includes this leader). */
  advanceHighWatermark(): void {
    // Only a leader moves its high watermark itself; a follower takes its leader's. (A write that
    // completes after leadership moved away must not make its own records look committed.)
    if (this.role !== 'leader') return
    let hw = this.log.writtenEndOffset
    for (const r of this.maximalIsr) {
      if (r === this.host.brokerId) continue
      const f = this.followers.get(r)
      hw = Math.min(hw, f ? f.logEnd : -1)
    }
    if (hw <= this.hw) return
    this.hw = hw
    let bytes = 0
    let i = 0
    while (i < this.unreadBytes.length && this.unreadBytes[i]!.end <= hw) bytes += this.unreadBytes[i++]!.bytes
    if (i > 0) this.unreadBytes.splice(0, i)
    i = 0
    while (i < this.waiters.length && this.waiters[i]!.offset <= hw) {
      const w = this.waiters[i++]!
      if (w.timer) clearTimeout(w.timer)
      w.resolve()
    }
    if (i > 0) this.waiters.splice(0, i)
    this.host.notifyCommitted(this.topic, this.partition, Math.max(bytes, 1))
  }

  /**
   * Resolves once the high watermark reaches `offset` (acks=all) while this replica still leads
   * in `leaderEpoch` (the epoch the records were appended under); rejects on timeout or when
   * leadership moved, even if the offset looks committed: a deposed leader's records may be
   * truncated by the next one.
   */
  waitForHighWatermark(offset: number, timeoutMs: number, leaderEpoch = this.state.leaderEpoch): Promise<void> {
    if (this.role !== 'leader' || this.state.leaderEpoch !== leaderEpoch) {
      return Promise.reject(new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${this.topic}-${this.partition}: leadership moved (epoch ${this.state.leaderEpoch}, leader ${this.state.leader}) before the write was replicated`))
    }
    if (this.hw >= offset) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const w: Waiter = { offset, resolve, reject, timer: null }
      w.timer = setTimeout(() => {
        const i = this.waiters.indexOf(w)
        if (i >= 0) this.waiters.splice(i, 1)
        reject(new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `the ISR of ${this.topic}-${this.partition} did not replicate the batch within ${timeoutMs} ms`))
      }, timeoutMs)
      // waiters stay sorted: appends come in offset order, but coordinator writes may interleave
      let i = this.waiters.length
      while (i > 0 && this.waiters[i - 1]!.offset > offset) i--
      this.waiters.splice(i, 0, w)
    })
  }

  private failWaiters(err: Error): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) {
      if (w.timer) clearTimeout(w.timer)
      w.reject(err)
    }
  }

  // ---- follower ----------------------------------------------------------------------------------

  /** After copying from the leader: its high watermark, capped by what we have. */
  leaderHighWatermark(leaderHw: number): void {
    const hw = Math.min(leaderHw, this.log.writtenEndOffset)
    if (hw > this.hw) {
      this.hw = hw
      this.host.notifyCommitted(this.topic, this.partition, 1)
    }
  }

  /** After a truncation the high watermark cannot stay above the log end. */
  truncated(): void {
    this.hw = Math.min(this.hw, this.log.writtenEndOffset)
  }

  stop(err: Error): void {
    this.failWaiters(err)
    this.followers.clear()
  }
}
