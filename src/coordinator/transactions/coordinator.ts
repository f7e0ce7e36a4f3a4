// The transaction coordinator (after apache/kafka TransactionCoordinator, TransactionStateManager
// and TransactionMetadata): the state of every transactional id, durable in the internal
// compacted topic __transaction_state, written before a client hears of a change.
//
// States: Empty → Ongoing (AddPartitionsToTxn/AddOffsetsToTxn) → PrepareCommit | PrepareAbort
// (EndTxn, persisted) → markers written to every partition of the transaction →
// CompleteCommit | CompleteAbort (persisted) → Ongoing again with the next transaction.
// InitProducerId bumps the epoch (fencing older producers), aborting an ongoing transaction
// first. Operations on one transactional id run one at a time (a per-id queue), so the
// intermediate states Kafka answers with CONCURRENT_TRANSACTIONS are only seen when markers
// could not be written and are being retried.
//
// On one broker every partition is local, so markers go straight to storage (MarkerTarget)
// instead of WriteTxnMarkers requests. Deadlines (timed-out transactions, expired ids, marker
// retries) share one DeadlineTimer.

import { ErrorCode as E, KafkaError, type KafkaErrorInfo } from '../../protocol/errors.js'
import type { Logger } from '../group-coordinator.js'
import { partitionFor, type GroupStore } from '../offsets-log.js'
import { DeadlineTimer } from '../timers.js'
import type { TxnConfig } from './config.js'
import { TXN_STATES, decodeTxnRecord, encodeTxnRecord, type TxnLogValue, type TxnState } from './txn-log.js'

export const NO_PRODUCER_ID = -1
export const NO_PRODUCER_EPOCH = -1
const MAX_EPOCH = 32767
/** Coordinator epoch written into markers: one broker, one coordinator, always 0. */
export const COORDINATOR_EPOCH = 0
const MARKER_RETRY_MS = 1000

/** Kafka: an epoch this high cannot be bumped twice more (once for a fence, once for the client). */
export function isEpochExhausted(epoch: number): boolean {
  return epoch >= MAX_EPOCH - 1
}

export interface TxnMarker {
  producerId: number
  producerEpoch: number
  commit: boolean
  coordinatorEpoch: number
}

/** Where markers go: the partition logs of this broker. */
export interface MarkerTarget {
  /** Writes a marker and resolves once it is durable; false when the partition no longer exists (nothing to end). */
  writeMarker(topic: string, partition: number, marker: TxnMarker): Promise<boolean>
}

/** The in-memory state of one transactional id (Kafka's TransactionMetadata). */
export interface TxnMetadata {
  readonly transactionalId: string
  readonly producerId: number
  readonly lastProducerId: number
  readonly producerEpoch: number
  readonly lastProducerEpoch: number
  readonly timeoutMs: number
  readonly state: TxnState
  /** topic → partitions of the ongoing (or completing) transaction */
  readonly partitions: ReadonlyMap<string, ReadonlySet<number>>
  readonly txnStartTimestamp: number
  readonly txnLastUpdateTimestamp: number
}

export interface InitProducerIdResult {
  error: KafkaErrorInfo
  producerId: number
  producerEpoch: number
}

export interface DescribedTransaction {
  error: KafkaErrorInfo
  transactionalId: string
  state: string
  timeoutMs: number
  startTimeMs: number
  producerId: number
  producerEpoch: number
  topics: { topic: string; partitions: number[] }[]
}

export interface ListedTransaction {
  transactionalId: string
  producerId: number
  state: string
}

const pkey = (topic: string, partition: number) => `${topic}\0${partition}`

function toValue(m: TxnMetadata): TxnLogValue {
  return {
    producerId: m.producerId,
    lastProducerId: m.lastProducerId,
    producerEpoch: m.producerEpoch,
    lastProducerEpoch: m.lastProducerEpoch,
    timeoutMs: m.timeoutMs,
    state: m.state,
    partitions: [...m.partitions].map(([topic, ps]) => ({ topic, partitions: [...ps].sort((a, b) => a - b) })),
    txnStartTimestamp: m.txnStartTimestamp,
    txnLastUpdateTimestamp: m.txnLastUpdateTimestamp,
  }
}

function fromValue(transactionalId: string, v: TxnLogValue): TxnMetadata {
  return {
    transactionalId,
    producerId: v.producerId,
    lastProducerId: v.lastProducerId,
    producerEpoch: v.producerEpoch,
    lastProducerEpoch: v.lastProducerEpoch,
    timeoutMs: v.timeoutMs,
    state: v.state,
    partitions: new Map(v.partitions.map((t) => [t.topic, new Set(t.partitions)])),
    txnStartTimestamp: v.txnStartTimestamp,
    txnLastUpdateTimestamp: v.txnLastUpdateTimestamp,
  }
}

function storeError(err: unknown): KafkaErrorInfo {
  return err instanceof KafkaError && err.code === E.NOT_COORDINATOR.code ? E.NOT_COORDINATOR : E.COORDINATOR_NOT_AVAILABLE
}

const isPrepare = (s: TxnState) => s === 'PrepareCommit' || s === 'PrepareAbort'
const isComplete = (s: TxnState) => s === 'CompleteCommit' || s === 'CompleteAbort'

export class TransactionCoordinator {
  private readonly txns = new Map<string, TxnMetadata>()
  private readonly queues = new Map<string, Promise<unknown>>()
  /** Partitions of a Prepare* transaction still without their marker (after a failed write). */
  private readonly markersLeft = new Map<string, Set<string>>()
  private readonly timer: DeadlineTimer
  private readonly inflight = new Set<Promise<unknown>>()
  private closed = false
  private loaded = false

  constructor(
    readonly config: TxnConfig,
    private readonly store: GroupStore,
    private readonly markers: MarkerTarget,
    private readonly allocateProducerId: () => number,
    private readonly log?: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = new DeadlineTimer(now)
  }

  partitionFor(transactionalId: string): number {
    return partitionFor(transactionalId, this.store.partitions)
  }

  /**
   * Replays __transaction_state, completes the transactions found in PrepareCommit/PrepareAbort
   * (their markers are written again), then aborts ongoing ones past their timeout and starts
   * the periodic scans.
   */
  async load(): Promise<void> {
    const started = this.now()
    let records = 0
    for (let p = 0; p < this.store.partitions; p++) {
      await this.store.replay(p, (key, value) => {
        try {
          const r = decodeTxnRecord(key, value)
          if (!r) return
          records++
          if (r.value === null) this.txns.delete(r.transactionalId)
          else this.txns.set(r.transactionalId, fromValue(r.transactionalId, r.value))
        } catch (err) {
          this.log?.warn({ err, partition: p }, 'skipping an undecodable record of the transaction log')
        }
      })
    }
    this.loaded = true
    const completing = [...this.txns.values()].filter((m) => isPrepare(m.state))
    this.log?.info({ transactionalIds: this.txns.size, records, completing: completing.length, ms: this.now() - started }, 'transaction coordinator loaded')
    await Promise.all(completing.map((m) => this.serial(m.transactionalId, () => this.complete(m.transactionalId))))
    await this.abortTimedOut()
    this.scheduleAbortScan()
    this.scheduleExpiry()
  }

  async close(): Promise<void> {
    this.closed = true
    this.timer.close()
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight])
  }

  // ---- InitProducerId ---------------------------------------------------------------------------

  /**
   * InitProducerId with a transactional id: a new producer id, or the next epoch of the current
   * one (which fences the producers holding older epochs); an ongoing transaction is aborted
   * first. `expected` is the producer id and epoch a v3+ client names (KIP-360).
   */
  initProducerId(transactionalId: string, timeoutMs: number, expected: { producerId: number; producerEpoch: number } | null): Promise<InitProducerIdResult> {
    const fail = (error: KafkaErrorInfo): InitProducerIdResult => ({ error, producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH })
    if (transactionalId === '') return Promise.resolve(fail(E.INVALID_REQUEST))
    if (timeoutMs <= 0 || timeoutMs > this.config.maxTimeoutMs) return Promise.resolve(fail(E.INVALID_TRANSACTION_TIMEOUT))
    return this.serial(transactionalId, async () => {
      if (this.closed) return fail(E.NOT_COORDINATOR)
      if (!this.loaded) return fail(E.COORDINATOR_LOAD_IN_PROGRESS)
      const now = this.now()
      let meta = this.txns.get(transactionalId)
      if (!meta) {
        meta = {
          transactionalId,
          producerId: this.allocateProducerId(),
          lastProducerId: NO_PRODUCER_ID,
          producerEpoch: NO_PRODUCER_EPOCH,
          lastProducerEpoch: NO_PRODUCER_EPOCH,
          timeoutMs,
          state: 'Empty',
          partitions: new Map(),
          txnStartTimestamp: -1,
          txnLastUpdateTimestamp: now,
        }
      }
      if (expected && expected.producerId !== NO_PRODUCER_ID) {
        const valid =
          meta.producerEpoch === NO_PRODUCER_EPOCH ||
          expected.producerId === meta.producerId ||
          (expected.producerId === meta.lastProducerId && isEpochExhausted(expected.producerEpoch))
        if (!valid) return fail(E.PRODUCER_FENCED)
      }
      if (isPrepare(meta.state)) {
        // markers are being retried: try once more now, the client retries on CONCURRENT_TRANSACTIONS
        await this.complete(transactionalId)
        meta = this.txns.get(transactionalId)!
        if (isPrepare(meta.state)) return fail(E.CONCURRENT_TRANSACTIONS)
      }
      if (meta.state === 'Ongoing') {
        // Fence the current producer: abort its transaction with a bumped epoch (never returned),
        // then go on as a client retrying after CONCURRENT_TRANSACTIONS would.
        const error = await this.endLocked(meta, false, Math.min(meta.producerEpoch + 1, MAX_EPOCH), true)
        if (error !== E.NONE) return fail(error)
        meta = this.txns.get(transactionalId)!
        if (isPrepare(meta.state)) return fail(E.CONCURRENT_TRANSACTIONS)
      }
      if (meta.state === 'Dead' || meta.state === 'PrepareEpochFence') return fail(E.UNKNOWN_SERVER_ERROR)
      // Empty, CompleteCommit, CompleteAbort
      let producerId = meta.producerId
      let lastProducerId = meta.lastProducerId
      let epoch: number
      let lastEpoch: number
      if (isEpochExhausted(meta.producerEpoch) && (!expected || expected.producerId === NO_PRODUCER_ID || expected.producerEpoch === meta.producerEpoch)) {
        lastProducerId = meta.producerId
        producerId = this.allocateProducerId()
        epoch = 0
        lastEpoch = expected && expected.producerId !== NO_PRODUCER_ID ? meta.producerEpoch : NO_PRODUCER_EPOCH
      } else {
        const bumped = meta.producerEpoch === NO_PRODUCER_EPOCH ? 0 : meta.producerEpoch + 1
        if (!expected || expected.producerId === NO_PRODUCER_ID) {
          epoch = bumped
          lastEpoch = NO_PRODUCER_EPOCH
        } else if (meta.producerEpoch === NO_PRODUCER_EPOCH || expected.producerEpoch === meta.producerEpoch) {
          epoch = bumped
          lastEpoch = meta.producerEpoch
        } else if (expected.producerEpoch === meta.lastProducerEpoch) {
          // a retry of a bump whose answer the producer never received
          epoch = meta.producerEpoch
          lastEpoch = meta.lastProducerEpoch
        } else {
          return fail(E.PRODUCER_FENCED)
        }
      }
      const next: TxnMetadata = {
        ...meta,
        producerId,
        lastProducerId,
        producerEpoch: epoch,
        lastProducerEpoch: lastEpoch,
        timeoutMs,
        state: 'Empty',
        partitions: new Map(),
        txnStartTimestamp: -1,
        txnLastUpdateTimestamp: now,
      }
      const error = await this.persist(next)
      if (error !== E.NONE) return fail(error)
      this.log?.info({ transactionalId, producerId, producerEpoch: epoch }, 'initialized transactional producer')
      return { error: E.NONE, producerId, producerEpoch: epoch }
    })
  }

  // ---- AddPartitionsToTxn / AddOffsetsToTxn -------------------------------------------------------

  /** Adds partitions to the producer's transaction (starting one when none is ongoing). */
  addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: { topic: string; partition: number }[]): Promise<KafkaErrorInfo> {
    if (transactionalId === '') return Promise.resolve(E.INVALID_REQUEST)
    return this.serial(transactionalId, async () => {
      if (this.closed) return E.NOT_COORDINATOR
      if (!this.loaded) return E.COORDINATOR_LOAD_IN_PROGRESS
      const meta = this.txns.get(transactionalId)
      if (!meta || meta.producerId !== producerId) return E.INVALID_PRODUCER_ID_MAPPING
      if (meta.producerEpoch !== producerEpoch) return E.PRODUCER_FENCED
      if (isPrepare(meta.state)) return E.CONCURRENT_TRANSACTIONS
      if (meta.state !== 'Ongoing' && meta.state !== 'Empty' && !isComplete(meta.state)) return E.INVALID_TXN_STATE
      const fresh = meta.state !== 'Ongoing'
      const merged = new Map<string, Set<number>>(fresh ? [] : [...meta.partitions].map(([t, ps]) => [t, new Set(ps)]))
      let added = 0
      for (const { topic, partition } of partitions) {
        let ps = merged.get(topic)
        if (!ps) merged.set(topic, (ps = new Set()))
        if (!ps.has(partition)) {
          ps.add(partition)
          added++
        }
      }
      if (!fresh && added === 0) return E.NONE
      const now = this.now()
      return this.persist({ ...meta, state: 'Ongoing', partitions: merged, txnStartTimestamp: fresh ? now : meta.txnStartTimestamp, txnLastUpdateTimestamp: now })
    })
  }

  // ---- EndTxn ----------------------------------------------------------------------------------------

  /**
   * EndTxn: PrepareCommit/PrepareAbort is persisted, markers are written to every partition of
   * the transaction, then CompleteCommit/CompleteAbort is persisted. Answers once the markers are
   * written, or, when a marker write failed, once the decision is durable (markers are retried).
   */
  endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<KafkaErrorInfo> {
    if (transactionalId === '') return Promise.resolve(E.INVALID_REQUEST)
    return this.serial(transactionalId, async () => {
      if (this.closed) return E.NOT_COORDINATOR
      if (!this.loaded) return E.COORDINATOR_LOAD_IN_PROGRESS
      const meta = this.txns.get(transactionalId)
      if (!meta || meta.producerId !== producerId) return E.INVALID_PRODUCER_ID_MAPPING
      if (meta.producerEpoch !== producerEpoch) return E.PRODUCER_FENCED
      switch (meta.state) {
        case 'Ongoing':
          return this.endLocked(meta, commit, meta.producerEpoch, false)
        case 'CompleteCommit':
          return commit ? E.NONE : E.INVALID_TXN_STATE
        case 'CompleteAbort':
          return commit ? E.INVALID_TXN_STATE : E.NONE
        case 'PrepareCommit':
          return commit ? E.CONCURRENT_TRANSACTIONS : E.INVALID_TXN_STATE
        case 'PrepareAbort':
          return commit ? E.INVALID_TXN_STATE : E.CONCURRENT_TRANSACTIONS
        default:
          return E.INVALID_TXN_STATE
      }
    })
  }

  /** Ends an Ongoing transaction; `epoch` above the current one fences its producer. Runs in the id's queue. */
  private async endLocked(meta: TxnMetadata, commit: boolean, epoch: number, fence: boolean): Promise<KafkaErrorInfo> {
    const prepared: TxnMetadata = {
      ...meta,
      producerEpoch: epoch,
      lastProducerEpoch: fence ? NO_PRODUCER_EPOCH : meta.lastProducerEpoch,
      state: commit ? 'PrepareCommit' : 'PrepareAbort',
      txnLastUpdateTimestamp: this.now(),
    }
    const error = await this.persist(prepared)
    if (error !== E.NONE) return error
    this.log?.info({ transactionalId: meta.transactionalId, producerId: meta.producerId, producerEpoch: epoch, state: prepared.state, fence }, 'ending transaction')
    await this.complete(meta.transactionalId)
    return E.NONE
  }

  /**
   * Writes the markers of a Prepare* transaction that are still missing, then persists
   * Complete*. On a failure the rest is retried later. Runs in the id's queue.
   */
  private async complete(transactionalId: string): Promise<void> {
    const meta = this.txns.get(transactionalId)
    if (!meta || !isPrepare(meta.state)) return
    const commit = meta.state === 'PrepareCommit'
    let left = this.markersLeft.get(transactionalId)
    if (!left) {
      left = new Set()
      for (const [topic, ps] of meta.partitions) for (const p of ps) left.add(pkey(topic, p))
      this.markersLeft.set(transactionalId, left)
    }
    const marker: TxnMarker = { producerId: meta.producerId, producerEpoch: meta.producerEpoch, commit, coordinatorEpoch: COORDINATOR_EPOCH }
    const todo = [...left]
    const outcomes = await Promise.allSettled(
      todo.map(async (k) => {
        const [topic, p] = k.split('\0') as [string, string]
        await this.markers.writeMarker(topic, Number(p), marker)
        left.delete(k)
      }),
    )
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')
    if (failed) {
      this.log?.warn({ err: failed.reason, transactionalId, partitions: left.size }, 'failed to write transaction markers; retrying')
      this.scheduleRetry(transactionalId)
      return
    }
    const done: TxnMetadata = { ...meta, state: commit ? 'CompleteCommit' : 'CompleteAbort', partitions: new Map(), txnLastUpdateTimestamp: this.now() }
    const error = await this.persist(done)
    if (error !== E.NONE) {
      this.scheduleRetry(transactionalId)
      return
    }
    this.markersLeft.delete(transactionalId)
  }

  private scheduleRetry(transactionalId: string): void {
    this.timer.schedule(`retry\0${transactionalId}`, this.now() + MARKER_RETRY_MS, () => {
      this.track(this.serial(transactionalId, () => this.complete(transactionalId))).catch((err: unknown) => this.log?.warn({ err, transactionalId }, 'completing a transaction failed'))
    })
  }

  // ---- Produce and TxnOffsetCommit checks --------------------------------------------------------

  /**
   * Whether a transactional batch of this producer may go to this partition: the producer must
   * hold the current epoch of the transactional id and have added the partition to its ongoing
   * transaction. Synchronous, so pipelined produce requests keep their order.
   */
  checkProduce(transactionalId: string, producerId: number, producerEpoch: number, topic: string, partition: number): KafkaErrorInfo {
    const meta = this.txns.get(transactionalId)
    if (!meta || meta.producerId !== producerId) return E.INVALID_PRODUCER_ID_MAPPING
    if (producerEpoch !== meta.producerEpoch) return E.INVALID_PRODUCER_EPOCH
    if (meta.state !== 'Ongoing' || !meta.partitions.get(topic)?.has(partition)) return E.INVALID_TXN_STATE
    return E.NONE
  }

  /** TxnOffsetCommit: the producer's ongoing transaction must include the group's offsets partition (AddOffsetsToTxn). */
  checkTxnOffsetCommit(transactionalId: string, producerId: number, producerEpoch: number, offsetsTopic: string, offsetsPartition: number): KafkaErrorInfo {
    const meta = this.txns.get(transactionalId)
    if (!meta || meta.producerId !== producerId) return E.INVALID_PRODUCER_ID_MAPPING
    if (producerEpoch !== meta.producerEpoch) return E.PRODUCER_FENCED
    if (meta.state !== 'Ongoing' || !meta.partitions.get(offsetsTopic)?.has(offsetsPartition)) return E.INVALID_TXN_STATE
    return E.NONE
  }

  // ---- Describe and list ----------------------------------------------------------------------------

  describe(transactionalId: string): DescribedTransaction {
    const base = { transactionalId, state: '', timeoutMs: 0, startTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [] }
    if (this.closed) return { ...base, error: E.NOT_COORDINATOR }
    if (!this.loaded) return { ...base, error: E.COORDINATOR_LOAD_IN_PROGRESS }
    if (transactionalId === '') return { ...base, error: E.INVALID_REQUEST }
    const m = this.txns.get(transactionalId)
    if (!m || m.state === 'Dead') return { ...base, error: E.TRANSACTIONAL_ID_NOT_FOUND }
    return {
      error: E.NONE,
      transactionalId,
      state: m.state,
      timeoutMs: m.timeoutMs,
      startTimeMs: m.txnStartTimestamp,
      producerId: m.producerId,
      producerEpoch: m.producerEpoch,
      topics: toValue(m).partitions.map((t) => ({ topic: t.topic, partitions: t.partitions })),
    }
  }

  /** ListTransactions: filters by state names and producer ids (empty: all) and, when >= 0, by how long they run. */
  list(states: string[], producerIds: number[], durationMs = -1): { error: KafkaErrorInfo; unknownStates: string[]; transactions: ListedTransaction[] } {
    if (this.closed) return { error: E.NOT_COORDINATOR, unknownStates: [], transactions: [] }
    if (!this.loaded) return { error: E.COORDINATOR_LOAD_IN_PROGRESS, unknownStates: [], transactions: [] }
    const known = new Set<string>(TXN_STATES)
    const unknownStates = states.filter((s) => !known.has(s))
    const wantedStates = new Set(states.filter((s) => known.has(s)))
    if (states.length > 0 && wantedStates.size === 0) return { error: E.NONE, unknownStates, transactions: [] }
    const pids = new Set(producerIds)
    const now = this.now()
    const transactions: ListedTransaction[] = []
    for (const m of this.txns.values()) {
      if (m.state === 'Dead') continue
      if (wantedStates.size > 0 && !wantedStates.has(m.state)) continue
      if (pids.size > 0 && !pids.has(m.producerId)) continue
      if (durationMs >= 0 && now - m.txnStartTimestamp <= durationMs) continue
      transactions.push({ transactionalId: m.transactionalId, producerId: m.producerId, state: m.state })
    }
    return { error: E.NONE, unknownStates, transactions }
  }

  /** The state of a transactional id (tests and tools). */
  get(transactionalId: string): TxnMetadata | undefined {
    return this.txns.get(transactionalId)
  }

  // ---- Timeouts and expiry ---------------------------------------------------------------------------

  private scheduleAbortScan(): void {
    this.timer.schedule('abort-timed-out', this.now() + this.config.abortTimedOutIntervalMs, () => {
      this.track(this.abortTimedOut()).catch((err: unknown) => this.log?.warn({ err }, 'aborting timed-out transactions failed'))
      this.scheduleAbortScan()
    })
  }

  /** Aborts every ongoing transaction past its timeout, fencing its producer (the epoch is bumped). */
  async abortTimedOut(): Promise<number> {
    const now = this.now()
    const due = [...this.txns.values()].filter((m) => m.state === 'Ongoing' && m.txnStartTimestamp + m.timeoutMs < now)
    let aborted = 0
    await Promise.all(
      due.map((m) =>
        this.serial(m.transactionalId, async () => {
          const cur = this.txns.get(m.transactionalId)
          // the producer may have ended it meanwhile
          if (!cur || cur.state !== 'Ongoing' || cur.producerId !== m.producerId || cur.producerEpoch !== m.producerEpoch) return
          this.log?.info({ transactionalId: m.transactionalId, producerId: m.producerId, timeoutMs: m.timeoutMs }, 'aborting a timed-out transaction')
          const error = await this.endLocked(cur, false, Math.min(cur.producerEpoch + 1, MAX_EPOCH), true)
          if (error === E.NONE) aborted++
        }),
      ),
    )
    return aborted
  }

  private scheduleExpiry(): void {
    this.timer.schedule('expire-ids', this.now() + this.config.removeExpiredIntervalMs, () => {
      this.track(this.expireTransactionalIds()).catch((err: unknown) => this.log?.warn({ err }, 'expiring transactional ids failed'))
      this.scheduleExpiry()
    })
  }

  /** Forgets transactional ids without a transaction for transactional.id.expiration.ms (a tombstone each). */
  async expireTransactionalIds(): Promise<number> {
    const now = this.now()
    const idle = [...this.txns.values()].filter((m) => (m.state === 'Empty' || isComplete(m.state)) && m.txnLastUpdateTimestamp + this.config.idExpirationMs <= now)
    let expired = 0
    for (const m of idle) {
      await this.serial(m.transactionalId, async () => {
        const cur = this.txns.get(m.transactionalId)
        if (cur !== m) return // changed meanwhile
        try {
          await this.store.append(this.partitionFor(m.transactionalId), [encodeTxnRecord({ transactionalId: m.transactionalId, value: null })])
        } catch (err) {
          this.log?.warn({ err, transactionalId: m.transactionalId }, 'failed to expire a transactional id')
          return
        }
        this.txns.delete(m.transactionalId)
        expired++
      })
    }
    if (expired > 0) this.log?.info({ expired }, 'expired transactional ids')
    return expired
  }

  // ---- Persistence --------------------------------------------------------------------------------------

  /** Writes the new state of an id and installs it once durable. Runs in the id's queue. */
  private async persist(next: TxnMetadata): Promise<KafkaErrorInfo> {
    try {
      await this.track(this.store.append(this.partitionFor(next.transactionalId), [encodeTxnRecord({ transactionalId: next.transactionalId, value: toValue(next) })]))
    } catch (err) {
      this.log?.warn({ err, transactionalId: next.transactionalId, state: next.state }, 'failed to write the transaction log')
      return storeError(err)
    }
    this.txns.set(next.transactionalId, next)
    return E.NONE
  }

  /** Runs fn after every earlier operation on the same transactional id. */
  private serial<T>(transactionalId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(transactionalId) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.then(
      () => undefined,
      () => undefined,
    )
    this.queues.set(transactionalId, tail)
    void tail.then(() => {
      if (this.queues.get(transactionalId) === tail) this.queues.delete(transactionalId)
    })
    return run
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p)
    const done = () => this.inflight.delete(p)
    p.then(done, done)
    return p
  }
}
