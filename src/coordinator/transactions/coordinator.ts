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
// The coordinator of a transactional id is the leader of the partition of __transaction_state
// the id hashes to: becomeLeader(partition) replays that partition (COORDINATOR_LOAD_IN_PROGRESS
// meanwhile) and completes the Prepare* transactions found there, resign(partition) drops its
// ids; requests for ids of other partitions answer NOT_COORDINATOR. Markers go to each
// partition's leader through a MarkerTarget (the local log, or WriteTxnMarkers to another
// broker). Deadlines (timed-out transactions, expired ids, marker retries) share one DeadlineTimer.

import { ErrorCode as E, type KafkaErrorInfo } from '../../protocol/errors.js'
import type { Logger } from '../group-coordinator.js'
import { partitionFor, type GroupStore } from '../offsets-log.js'
import { DeadlineTimer } from '../timers.js'
import type { TxnConfig } from './config.js'
import { PartitionTerms, coordinatorWriteError, type Term } from '../ownership.js'
import { TXN_STATES, TXN_TOPIC, decodeTxnRecord, encodeTxnRecord, type TxnLogValue, type TxnState } from './txn-log.js'

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

/** Where markers go: the partition's leader, this broker or another (markers.ts). */
export interface MarkerTarget {
  /** Writes a marker and resolves once it is durable; false when there is nothing to end (the partition is gone, or the marker is stale). */
  writeMarker(topic: string, partition: number, marker: TxnMarker): Promise<boolean>
  /** Releases connections to other brokers (on close). */
  close?(): void
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
  /** The partitions of the transaction log this coordinator serves (becomeLeader/resign). */
  private readonly terms: PartitionTerms

  constructor(
    readonly config: TxnConfig,
    private readonly store: GroupStore,
    private readonly markers: MarkerTarget,
    private readonly allocateProducerId: () => number,
    private readonly log?: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = new DeadlineTimer(now)
    this.terms = new PartitionTerms(TXN_TOPIC, store.partitions)
  }

  partitionFor(transactionalId: string): number {
    return partitionFor(transactionalId, this.store.partitions)
  }

  /** Becomes the coordinator of every partition of the transaction log (one broker; tests). */
  async load(): Promise<void> {
    for (let p = 0; p < this.store.partitions; p++) await this.becomeLeader(p)
  }

  /**
   * This broker now leads partition `partition` of __transaction_state: its records are replayed
   * (requests for its ids answer COORDINATOR_LOAD_IN_PROGRESS meanwhile), then transactions found
   * in PrepareCommit/PrepareAbort are completed (their markers written again), ongoing ones past
   * their timeout are aborted, and the periodic scans run. Resolves once that is done. Calling it
   * again for the same leadership returns the same load; a newer leader epoch than the one loaded
   * (both known) drops the state and loads again. The leader epoch, when known, is the
   * coordinator epoch of the markers written for this partition's transactions (as Kafka's).
   * Rejects when the replay fails (the partition is then not served: NOT_COORDINATOR).
   */
  becomeLeader(partition: number, leaderEpoch = -1): Promise<void> {
    if (this.closed) return Promise.resolve()
    const current = this.terms.get(partition)
    if (current) {
      if (leaderEpoch < 0 || leaderEpoch <= current.leaderEpoch) return current.loaded
      if (current.leaderEpoch >= 0) this.resign(partition)
      else {
        current.leaderEpoch = leaderEpoch // the same leadership, now with its epoch
        return current.loaded
      }
    }
    const term = this.terms.begin(partition, leaderEpoch)
    term.loaded = this.loadPartition(term)
    return term.loaded
  }

  /**
   * This broker no longer leads the partition: its transactional ids are dropped from memory
   * (with their marker retries), later requests for them answer NOT_COORDINATOR, and operations
   * already running for them stop at their next step. Transactions in flight are left to the
   * next leader, which completes Prepare* states when it loads the partition.
   */
  resign(partition: number): void {
    const term = this.terms.end(partition)
    if (!term) return
    let dropped = 0
    for (const id of [...this.txns.keys()]) {
      if (this.partitionFor(id) !== partition) continue
      this.txns.delete(id)
      this.markersLeft.delete(id)
      this.timer.cancel(`retry\0${id}`)
      dropped++
    }
    this.log?.info({ partition, transactionalIds: dropped, wasLoading: term.state === 'loading' }, 'resigned as transaction coordinator of a transaction log partition')
  }

  /** Partitions of the transaction log served here (loading or loaded). */
  ownedPartitions(): number[] {
    return this.terms.owned()
  }

  /** NONE when this broker coordinates the transactional id now, COORDINATOR_LOAD_IN_PROGRESS while its partition loads, NOT_COORDINATOR otherwise. */
  coordinatorError(transactionalId: string): KafkaErrorInfo {
    if (this.closed) return E.NOT_COORDINATOR
    return this.terms.errorFor(this.partitionFor(transactionalId))
  }

  private async loadPartition(term: Term): Promise<void> {
    const p = term.partition
    const started = this.now()
    let records = 0
    const txns = new Map<string, TxnMetadata>()
    try {
      await this.store.replay(p, (key, value) => {
        try {
          const r = decodeTxnRecord(key, value)
          if (!r) return
          records++
          if (r.value === null) txns.delete(r.transactionalId)
          else txns.set(r.transactionalId, fromValue(r.transactionalId, r.value))
        } catch (err) {
          this.log?.warn({ err, partition: p }, 'skipping an undecodable record of the transaction log')
        }
      })
    } catch (err) {
      if (this.terms.isCurrent(term)) this.terms.end(p)
      this.log?.error({ err, partition: p }, 'failed to load a transaction log partition; its transactional ids are not served here')
      throw err
    }
    if (this.closed || !this.terms.isCurrent(term)) return // resigned (or closed) meanwhile
    for (const [id, m] of txns) {
      this.markersLeft.delete(id)
      this.txns.set(id, m)
    }
    term.state = 'active'
    const completing = [...txns.values()].filter((m) => isPrepare(m.state))
    this.log?.info({ partition: p, transactionalIds: txns.size, records, completing: completing.length, ms: this.now() - started }, 'transaction coordinator loaded a transaction log partition')
    await Promise.all(completing.map((m) => this.serial(m.transactionalId, () => this.complete(m.transactionalId))))
    await this.abortTimedOut(p)
    if (!this.timer.has('abort-timed-out')) this.scheduleAbortScan()
    if (!this.timer.has('expire-ids')) this.scheduleExpiry()
  }

  async close(): Promise<void> {
    this.closed = true
    this.timer.close()
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight])
    this.markers.close?.()
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
      const owner = this.coordinatorError(transactionalId)
      if (owner !== E.NONE) return fail(owner)
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
      const owner = this.coordinatorError(transactionalId)
      if (owner !== E.NONE) return owner
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
      const owner = this.coordinatorError(transactionalId)
      if (owner !== E.NONE) return owner
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
    const term = this.terms.get(this.partitionFor(transactionalId))
    if (!term || term.state !== 'active' || this.closed) return
    const commit = meta.state === 'PrepareCommit'
    let left = this.markersLeft.get(transactionalId)
    if (!left) {
      left = new Set()
      for (const [topic, ps] of meta.partitions) for (const p of ps) left.add(pkey(topic, p))
      this.markersLeft.set(transactionalId, left)
    }
    const coordinatorEpoch = term.leaderEpoch >= 0 ? term.leaderEpoch : COORDINATOR_EPOCH
    const marker: TxnMarker = { producerId: meta.producerId, producerEpoch: meta.producerEpoch, commit, coordinatorEpoch }
    const pending = [...left]
    const outcomes = await Promise.allSettled(
      pending.map(async (k) => {
        const [topic, p] = k.split('\0') as [string, string]
        await this.markers.writeMarker(topic, Number(p), marker)
        left.delete(k)
      }),
    )
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')
    if (failed) {
      if (!this.terms.isCurrent(term)) return // no longer the coordinator: the next one writes them
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
    if (this.coordinatorError(transactionalId) !== E.NONE) return
    this.timer.schedule(`retry\0${transactionalId}`, this.now() + MARKER_RETRY_MS, () => {
      this.track(this.serial(transactionalId, () => this.complete(transactionalId))).catch((err: unknown) => this.log?.warn({ err, transactionalId }, 'completing a transaction failed'))
    })
  }

  // ---- Produce and TxnOffsetCommit checks --------------------------------------------------------

  /**
   * Whether a transactional batch of this producer may go to this partition: the producer must
   * hold the current epoch of the transactional id and have added the partition to its ongoing
   * transaction. Synchronous, so pipelined produce requests keep their order.
   *
   * Only the coordinator of the id knows its transaction: when that is another broker the batch
   * is not verified here (NONE, as Kafka before KIP-890; asking the coordinator with
   * AddPartitionsToTxn verifyOnly is not done yet); while the id's partition loads here the
   * answer is NOT_ENOUGH_REPLICAS, which every producer retries (Kafka maps coordinator errors
   * of its verification the same way).
   */
  checkProduce(transactionalId: string, producerId: number, producerEpoch: number, topic: string, partition: number): KafkaErrorInfo {
    const owner = this.coordinatorError(transactionalId)
    if (owner === E.COORDINATOR_LOAD_IN_PROGRESS) return E.NOT_ENOUGH_REPLICAS
    if (owner !== E.NONE) return E.NONE
    return this.checkInTransaction(transactionalId, producerId, producerEpoch, topic, partition)
  }

  /**
   * AddPartitionsToTxn verifyOnly (KIP-890, asked of the coordinator): like checkProduce, but a
   * transactional id not coordinated here is NOT_COORDINATOR, one loading COORDINATOR_LOAD_IN_PROGRESS.
   */
  verifyInTransaction(transactionalId: string, producerId: number, producerEpoch: number, topic: string, partition: number): KafkaErrorInfo {
    const owner = this.coordinatorError(transactionalId)
    if (owner !== E.NONE) return owner
    return this.checkInTransaction(transactionalId, producerId, producerEpoch, topic, partition)
  }

  private checkInTransaction(transactionalId: string, producerId: number, producerEpoch: number, topic: string, partition: number): KafkaErrorInfo {
    const meta = this.txns.get(transactionalId)
    if (!meta || meta.producerId !== producerId) return E.INVALID_PRODUCER_ID_MAPPING
    if (producerEpoch !== meta.producerEpoch) return E.INVALID_PRODUCER_EPOCH
    if (meta.state !== 'Ongoing' || !meta.partitions.get(topic)?.has(partition)) return E.INVALID_TXN_STATE
    return E.NONE
  }

  /**
   * TxnOffsetCommit: the producer's ongoing transaction must include the group's offsets
   * partition (AddOffsetsToTxn). TxnOffsetCommit goes to the group's coordinator; when the
   * transactional id is coordinated by another broker this is not checked here (NONE, as Kafka's
   * group coordinator does not check it either); while its partition loads here,
   * COORDINATOR_LOAD_IN_PROGRESS (retried by clients).
   */
  checkTxnOffsetCommit(transactionalId: string, producerId: number, producerEpoch: number, offsetsTopic: string, offsetsPartition: number): KafkaErrorInfo {
    const owner = this.coordinatorError(transactionalId)
    if (owner === E.COORDINATOR_LOAD_IN_PROGRESS) return owner
    if (owner !== E.NONE) return E.NONE
    const meta = this.txns.get(transactionalId)
    if (!meta || meta.producerId !== producerId) return E.INVALID_PRODUCER_ID_MAPPING
    if (producerEpoch !== meta.producerEpoch) return E.PRODUCER_FENCED
    if (meta.state !== 'Ongoing' || !meta.partitions.get(offsetsTopic)?.has(offsetsPartition)) return E.INVALID_TXN_STATE
    return E.NONE
  }

  // ---- Describe and list ----------------------------------------------------------------------------

  describe(transactionalId: string): DescribedTransaction {
    const base = { transactionalId, state: '', timeoutMs: 0, startTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [] }
    if (transactionalId === '') return { ...base, error: E.INVALID_REQUEST }
    const owner = this.coordinatorError(transactionalId)
    if (owner !== E.NONE) return { ...base, error: owner }
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
    // As Kafka: the ids of the partitions served here, none while one of them loads.
    if (this.terms.anyLoading) return { error: E.COORDINATOR_LOAD_IN_PROGRESS, unknownStates: [], transactions: [] }
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

  /**
   * Aborts every ongoing transaction past its timeout, fencing its producer (the epoch is bumped);
   * of one partition of the transaction log when given.
   */
  async abortTimedOut(partition?: number): Promise<number> {
    const now = this.now()
    const due = [...this.txns.values()].filter((m) => m.state === 'Ongoing' && m.txnStartTimestamp + m.timeoutMs < now && (partition === undefined || this.partitionFor(m.transactionalId) === partition))
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
        if (cur !== m || this.coordinatorError(m.transactionalId) !== E.NONE) return // changed meanwhile, or moved
        const term = this.terms.get(this.partitionFor(m.transactionalId))!
        try {
          await this.track(this.store.append(term.partition, [encodeTxnRecord({ transactionalId: m.transactionalId, value: null })]))
        } catch (err) {
          this.log?.warn({ err, transactionalId: m.transactionalId }, 'failed to expire a transactional id')
          return
        }
        if (!this.terms.isCurrent(term)) return
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
    const partition = this.partitionFor(next.transactionalId)
    const term = this.terms.get(partition)
    if (!term || term.state !== 'active' || this.closed) return E.NOT_COORDINATOR
    try {
      await this.track(this.store.append(partition, [encodeTxnRecord({ transactionalId: next.transactionalId, value: toValue(next) })]))
    } catch (err) {
      this.log?.warn({ err, transactionalId: next.transactionalId, state: next.state }, 'failed to write the transaction log')
      return coordinatorWriteError(err)
    }
    // The partition moved meanwhile: the record is in its log, its next leader goes on from there.
    if (!this.terms.isCurrent(term)) return E.NOT_COORDINATOR
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
