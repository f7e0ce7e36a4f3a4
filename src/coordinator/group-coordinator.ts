// The group coordinator for classic consumer groups (JoinGroup/SyncGroup/Heartbeat/LeaveGroup)
// and committed offsets, after Kafka's ClassicGroup and GroupMetadataManager:
//
//   Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
//     ▲                    ▲   ▲                                        │ leader syncs
//     │ last member gone   │   └──────── member joins, leaves, expires ─┤
//     └────────────────────┴──────────────────────────────────── Stable ◀┘
//
// Dead is where a deleted group goes. Every deadline (sessions, the join and sync phases, offset
// expiry) runs on one DeadlineTimer. Offsets and group metadata are written to __consumer_offsets
// through a GroupStore before the client hears of them. This coordinator serves the groups of
// the partitions this broker leads: becomeLeader(partition) rebuilds them from the partition
// (groups come back with their generation, members, assignments and offsets, as Kafka's
// GroupMetadataManager loads them; COORDINATOR_LOAD_IN_PROGRESS meanwhile), resign(partition)
// drops them; other groups answer NOT_COORDINATOR.

import { randomUUID } from 'node:crypto'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import type { GroupConfig } from './config.js'
import { PartitionTerms, coordinatorWriteError, type Term } from './ownership.js'
import { OFFSETS_TOPIC, decodeRecord, encodeRecord, partitionFor, type CoordinatorRecord, type GroupMemberValue, type GroupStore, type GroupValue, type KeyValue, type OffsetValue, type TxnProducer } from './offsets-log.js'
import { DeadlineTimer } from './timers.js'
import type { ConsumerGroupCoordinator } from './consumer-group-coordinator.js'
import type { ConsumerGroupState } from './consumer-group.js'

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

export interface Logger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

const E = ErrorCode
const NONE = 0
const CONSUMER_PROTOCOL_TYPE = 'consumer'
/** How long a member that joined as new may wait in the join phase (Kafka's NewMemberJoinTimeoutMs). */
const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000

export interface Protocol {
  name: string
  metadata: Buffer
}

export interface JoinRequest {
  groupId: string
  memberId: string
  groupInstanceId: string | null
  sessionTimeoutMs: number
  /** -1 (JoinGroup v0) means the session timeout. */
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: Protocol[]
  clientId: string
  clientHost: string
  /** The JoinGroup version: v4+ requires a member id (KIP-394), v9+ may skip the assignment (KIP-814). */
  apiVersion: number
  reason?: string | null
}

export interface JoinMember {
  memberId: string
  groupInstanceId: string | null
  metadata: Buffer
}

export interface JoinResult {
  errorCode: number
  generationId: number
  protocolType: string | null
  protocolName: string | null
  leader: string
  memberId: string
  members: JoinMember[]
  skipAssignment: boolean
}

export interface SyncRequest {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId: string | null
  protocolType: string | null
  protocolName: string | null
  assignments: { memberId: string; assignment: Buffer }[]
}

export interface SyncResult {
  errorCode: number
  protocolType: string | null
  protocolName: string | null
  assignment: Buffer
}

export interface MemberIdentity {
  memberId: string
  groupInstanceId: string | null
}

export interface LeaveResult {
  errorCode: number
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[]
}

export interface CommitRequest {
  groupId: string
  /** -1 for commits from outside group management (assign(), kcat, v0). */
  generationId: number
  memberId: string
  groupInstanceId: string | null
  /** OffsetCommit v2-4; -1 for the broker's retention. */
  retentionTimeMs: number
  offsets: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string | null; commitTimestamp?: number }[]
}

/** TxnOffsetCommit: offsets that become committed when the producer's transaction commits. */
export interface TxnCommitRequest {
  groupId: string
  producerId: number
  producerEpoch: number
  /** -1 (and memberId '') when the producer does not name the group generation (v0-2). */
  generationId: number
  memberId: string
  groupInstanceId: string | null
  offsets: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string | null }[]
}

interface PendingTxnOffset {
  topic: string
  partition: number
  value: OffsetValue
}

export interface FetchedOffset {
  topic: string
  partition: number
  offset: number
  leaderEpoch: number
  metadata: string | null
  errorCode: number
}

export interface GroupDescription {
  errorCode: number
  groupId: string
  state: GroupState | ConsumerGroupState
  protocolType: string
  protocolData: string
  members: { memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }[]
}

export interface GroupListing {
  groupId: string
  protocolType: string
  state: GroupState | ConsumerGroupState
  /** ListGroups v5: classic unless a KIP-848 consumer group. */
  type?: 'classic' | 'consumer'
}

interface Member {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: Protocol[]
  assignment: Buffer
  awaitingJoin: ((r: JoinResult) => void) | null
  joinVersion: number
  awaitingSync: ((r: SyncResult) => void) | null
  isNew: boolean
  lastHeartbeat: number
}

class Group {
  state: GroupState = 'Empty'
  stateTimestamp: number
  generationId = 0
  protocolType: string | null = null
  protocolName: string | null = null
  leaderId: string | null = null
  readonly members = new Map<string, Member>()
  /** group.instance.id → member id of static members */
  readonly staticMembers = new Map<string, string>()
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined. */
  readonly pendingMembers = new Set<string>()
  /** Members of this generation that have not sent SyncGroup yet. */
  readonly pendingSync = new Set<string>()
  /** topic → partition → committed offset */
  readonly offsets = new Map<string, Map<number, OffsetValue>>()
  /** The initial-rebalance delay is running: the join phase does not complete early. */
  initialDelay: { remainingMs: number } | null = null
  newMemberAdded = false
  /** A group metadata record exists in the log (so deleting the group writes a tombstone). */
  hasMetadataRecord = false

  constructor(readonly id: string, now: number) {
    this.stateTimestamp = now
  }

  transition(state: GroupState, now: number): void {
    this.state = state
    this.stateTimestamp = now
  }

  get hasOffsets(): boolean {
    return this.offsets.size > 0
  }

  isStaticMemberFenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false
    const current = this.staticMembers.get(groupInstanceId)
    return current !== undefined && current !== memberId
  }

  rebalanceTimeoutMs(): number {
    let max = 0
    for (const m of this.members.values()) if (m.rebalanceTimeoutMs > max) max = m.rebalanceTimeoutMs
    return max
  }

  /** Protocol names every member (but `except`) supports. */
  candidateProtocols(except?: string): Set<string> {
    let out: Set<string> | null = null
    for (const m of this.members.values()) {
      if (m.memberId === except) continue
      const names = new Set(m.protocols.map((p) => p.name))
      if (out === null) out = names
      else for (const n of out) if (!names.has(n)) out.delete(n)
    }
    return out ?? new Set()
  }

  /** Whether a member (a rejoining one is `memberId`) with these protocols fits the group. */
  supportsProtocols(protocolType: string, protocols: Protocol[], memberId?: string): boolean {
    const others = this.members.size - (memberId !== undefined && this.members.has(memberId) ? 1 : 0)
    if (others === 0) return protocolType !== '' && protocols.length > 0
    if (protocolType !== this.protocolType) return false
    const candidates = this.candidateProtocols(memberId)
    return protocols.some((p) => candidates.has(p.name))
  }

  /** A protocol every member supports, chosen by the members' votes (each votes its first candidate). */
  selectProtocol(): string | null {
    const candidates = this.candidateProtocols()
    const votes = new Map<string, number>()
    let best: string | null = null
    for (const m of this.members.values()) {
      const vote = m.protocols.find((p) => candidates.has(p.name))?.name
      if (vote === undefined) continue
      const n = (votes.get(vote) ?? 0) + 1
      votes.set(vote, n)
      if (best === null || n > votes.get(best)!) best = vote
    }
    return best
  }

  allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false
    for (const m of this.members.values()) if (!m.awaitingJoin) return false
    return true
  }

  /** Topics the members subscribe to, from the consumer protocol's metadata; null if unknown. */
  subscribedTopics(): Set<string> | null {
    if (this.protocolType !== CONSUMER_PROTOCOL_TYPE || this.protocolName === null) return this.members.size === 0 ? new Set() : null
    const out = new Set<string>()
    for (const m of this.members.values()) {
      const p = m.protocols.find((x) => x.name === this.protocolName)
      const topics = p ? parseSubscriptionTopics(p.metadata) : null
      if (topics === null) return null
      for (const t of topics) out.add(t)
    }
    return out
  }
}

/** Transactional offset commits awaiting their transaction's marker: producer id → group → topic\0partition → offset. */
type PendingTxnOffsets = Map<number, Map<string, Map<string, PendingTxnOffset>>>

function addPending(pending: PendingTxnOffsets, producerId: number, groupId: string, offsets: PendingTxnOffset[]): void {
  let byGroup = pending.get(producerId)
  if (!byGroup) pending.set(producerId, (byGroup = new Map()))
  let byPartition = byGroup.get(groupId)
  if (!byPartition) byGroup.set(groupId, (byPartition = new Map()))
  for (const o of offsets) byPartition.set(`${o.topic}\0${o.partition}`, o)
}

/** A marker of producerId: its pending offsets of the groups `inPartition` accepts become committed (commit) or are dropped. */
function completePending(pending: PendingTxnOffsets, producerId: number, commit: boolean, inPartition: (groupId: string) => boolean, getOrCreate: (groupId: string) => Group): void {
  const byGroup = pending.get(producerId)
  if (!byGroup) return
  for (const [groupId, byPartition] of byGroup) {
    if (!inPartition(groupId)) continue
    byGroup.delete(groupId)
    if (!commit) continue
    const g = getOrCreate(groupId)
    for (const o of byPartition.values()) {
      let offsets = g.offsets.get(o.topic)
      if (!offsets) g.offsets.set(o.topic, (offsets = new Map()))
      offsets.set(o.partition, o.value)
    }
  }
  if (byGroup.size === 0) pending.delete(producerId)
}

/** The topics of a ConsumerProtocolSubscription (int16 version, array of int16-length strings). */
export function parseSubscriptionTopics(metadata: Buffer): string[] | null {
  try {
    let pos = 2
    const n = metadata.readInt32BE(pos)
    pos += 4
    if (n < 0 || n > metadata.length) return null
    const out: string[] = []
    for (let i = 0; i < n; i++) {
      const len = metadata.readInt16BE(pos)
      pos += 2
      if (len < 0 || pos + len > metadata.length) return null
      out.push(metadata.toString('utf8', pos, pos + len))
      pos += len
    }
    return out
  } catch {
    return null
  }
}

const EMPTY = Buffer.alloc(0)

function joinError(errorCode: number, memberId = ''): JoinResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [], skipAssignment: false }
}

function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY }
}

/** Maps a failed write of the coordinator's log to the error Kafka answers clients with. */
function storeErrorCode(err: unknown): number {
  if (err instanceof KafkaError) {
    switch (err.code) {
      case E.MESSAGE_TOO_LARGE.code:
      case E.RECORD_LIST_TOO_LARGE.code:
      case E.INVALID_FETCH_SIZE.code:
        return E.INVALID_COMMIT_OFFSET_SIZE.code
    }
  }
  return coordinatorWriteError(err).code
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>()
  private readonly timer: DeadlineTimer
  private readonly inflight = new Set<Promise<unknown>>()
  private closed = false
  /** KIP-848 consumer groups sharing group ids and offsets with this coordinator. */
  consumerGroups: ConsumerGroupCoordinator | null = null
  /** Transactional offset commits awaiting their transaction's marker: producer id → group → topic\0partition → offset. */
  private readonly pendingTxnOffsets: PendingTxnOffsets = new Map()
  /** The partitions of the offsets topic this coordinator serves (becomeLeader/resign). */
  private readonly terms: PartitionTerms
  /** Markers that reached a partition while it was loading, applied once it is loaded. */
  private readonly loadCompletions = new Map<Term, { producerId: number; commit: boolean }[]>()

  constructor(
    readonly config: GroupConfig,
    private readonly store: GroupStore,
    private readonly log?: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = new DeadlineTimer(now)
    this.terms = new PartitionTerms(OFFSETS_TOPIC, store.partitions)
  }

  /** Becomes the coordinator of every partition of the offsets topic (one broker; tests). */
  async load(): Promise<void> {
    for (let p = 0; p < this.store.partitions; p++) await this.becomeLeader(p)
  }

  /**
   * This broker now leads partition `partition` of __consumer_offsets: its records are replayed
   * (classic groups come back Stable with the members, generation and assignments of their last
   * record, or Empty, with their offsets; consumer groups with their members; members' sessions
   * start now), requests for its groups answering COORDINATOR_LOAD_IN_PROGRESS meanwhile. Calling
   * it again for the same leadership returns the same load; a newer leader epoch than the one
   * loaded (both known) drops the state and loads again. Rejects when the replay fails (the
   * partition is then not served: NOT_COORDINATOR).
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
    this.loadCompletions.set(term, [])
    term.loaded = this.loadPartition(term).finally(() => this.loadCompletions.delete(term))
    return term.loaded
  }

  /**
   * This broker no longer leads the partition: its groups are dropped from memory with their
   * timers, members waiting in a join or sync phase hear NOT_COORDINATOR, and later requests for
   * its groups answer NOT_COORDINATOR. The next leader replays the partition.
   */
  resign(partition: number): void {
    const term = this.terms.end(partition)
    if (!term) return
    let dropped = 0
    for (const g of [...this.groups.values()]) {
      if (this.partitionFor(g.id) !== partition) continue
      this.dropGroup(g)
      dropped++
    }
    for (const [producerId, byGroup] of this.pendingTxnOffsets) {
      for (const groupId of [...byGroup.keys()]) if (this.partitionFor(groupId) === partition) byGroup.delete(groupId)
      if (byGroup.size === 0) this.pendingTxnOffsets.delete(producerId)
    }
    this.consumerGroups?.resign(partition)
    this.log?.info({ partition, groups: dropped, wasLoading: term.state === 'loading' }, 'resigned as group coordinator of an offsets partition')
  }

  /** Partitions of the offsets topic served here (loading or loaded). */
  ownedPartitions(): number[] {
    return this.terms.owned()
  }

  /**
   * NONE when this broker coordinates the group now, COORDINATOR_LOAD_IN_PROGRESS while its
   * partition loads, NOT_COORDINATOR otherwise (also after close). For handlers answering a
   * group-level error (OffsetFetch v2+).
   */
  coordinatorError(groupId: string): number {
    if (this.closed) return E.NOT_COORDINATOR.code
    return this.terms.errorFor(this.partitionFor(groupId)).code
  }

  /** ListGroups' error: COORDINATOR_LOAD_IN_PROGRESS while a partition served here loads (as Kafka). */
  listErrorCode(): number {
    return this.terms.anyLoading ? E.COORDINATOR_LOAD_IN_PROGRESS.code : NONE
  }

  private dropGroup(g: Group): void {
    for (const m of g.members.values()) {
      this.answerJoin(m, joinError(E.NOT_COORDINATOR.code, m.memberId))
      this.answerSync(m, syncError(E.NOT_COORDINATOR.code))
      this.timer.cancel(heartbeatKey(g.id, m.memberId))
    }
    for (const id of g.pendingMembers) this.timer.cancel(pendingKey(g.id, id))
    this.timer.cancel(joinKey(g.id))
    this.timer.cancel(syncKey(g.id))
    if (this.groups.get(g.id) === g) this.groups.delete(g.id)
  }

  /** Replays one partition into fresh maps and installs them if the term still holds. */
  private async loadPartition(term: Term): Promise<void> {
    const p = term.partition
    const started = this.now()
    let records = 0
    const groups = new Map<string, Group>()
    const getOrCreate = (id: string): Group => {
      let g = groups.get(id)
      if (!g) groups.set(id, (g = new Group(id, this.now())))
      return g
    }
    const pending: PendingTxnOffsets = new Map()
    const groupValues = new Map<string, GroupValue>()
    const consumer = this.consumerGroups?.beginLoad()
    try {
      await this.store.replay(p, (key, value, txnProducerId) => {
        let r: CoordinatorRecord | null
        try {
          r = decodeRecord(key, value)
        } catch (err) {
          this.log?.warn({ err, partition: p }, 'skipping an undecodable record of the offsets topic')
          return
        }
        if (!r) {
          if (consumer) this.consumerGroups!.replayInto(consumer, key, value)
          return
        }
        records++
        if (r.type === 'offset') {
          if (txnProducerId >= 0) {
            if (r.value) addPending(pending, txnProducerId, r.group, [{ topic: r.topic, partition: r.partition, value: r.value }])
          } else if (r.value === null) {
            const g = groups.get(r.group)
            g?.offsets.get(r.topic)?.delete(r.partition)
            if (g?.offsets.get(r.topic)?.size === 0) g.offsets.delete(r.topic)
          } else {
            const g = getOrCreate(r.group)
            let byPartition = g.offsets.get(r.topic)
            if (!byPartition) g.offsets.set(r.topic, (byPartition = new Map()))
            byPartition.set(r.partition, r.value)
          }
        } else if (r.value === null) {
          groupValues.delete(r.group)
        } else {
          groupValues.set(r.group, r.value)
        }
      }, (producerId, commit) => completePending(pending, producerId, commit, (g) => this.partitionFor(g) === p, getOrCreate))
    } catch (err) {
      if (this.terms.isCurrent(term)) this.terms.end(p)
      this.log?.error({ err, partition: p }, 'failed to load an offsets partition; its groups are not served here')
      throw err
    }
    const loadedAt = this.now()
    for (const [id, v] of groupValues) restoreGroup(getOrCreate(id), v, loadedAt)
    for (const [id, g] of groups) {
      if (!g.hasOffsets && !g.hasMetadataRecord) groups.delete(id)
    }
    if (this.closed || !this.terms.isCurrent(term)) return // resigned (or closed) meanwhile: nothing to install
    for (const [id, g] of groups) {
      const stale = this.groups.get(id)
      if (stale) this.dropGroup(stale)
      this.groups.set(id, g)
    }
    for (const [producerId, byGroup] of pending) for (const [groupId, byPartition] of byGroup) addPending(this.pendingTxnOffsets, producerId, groupId, [...byPartition.values()])
    if (consumer) this.consumerGroups!.install(p, consumer)
    term.state = 'active'
    // Restored members' sessions start now, so members that died meanwhile still expire (Kafka's
    // onGroupLoaded); a group above group.max.size (lowered since) rebalances.
    let members = 0
    for (const g of groups.values()) {
      for (const m of g.members.values()) this.heartbeatReceived(g, m)
      members += g.members.size
      if (g.state === 'Stable' && g.members.size > this.config.maxSize) this.prepareRebalance(g, `loaded with ${g.members.size} members, above group.max.size ${this.config.maxSize}`)
    }
    // Markers that reached the partition while it loaded (the replay may have missed them).
    for (const c of this.loadCompletions.get(term) ?? []) this.completePendingTxnOffsets(c.producerId, c.commit, p)
    this.log?.info({ partition: p, groups: groups.size, members, records, ms: this.now() - started }, 'group coordinator loaded an offsets partition')
    if (!this.timer.has('expire-offsets')) this.scheduleExpiry()
  }

  async close(): Promise<void> {
    this.closed = true
    this.timer.close()
    await this.consumerGroups?.close()
    for (const g of this.groups.values()) {
      for (const m of g.members.values()) {
        this.answerJoin(m, joinError(E.NOT_COORDINATOR.code, m.memberId))
        this.answerSync(m, syncError(E.NOT_COORDINATOR.code))
      }
    }
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight])
  }

  partitionFor(groupId: string): number {
    return partitionFor(groupId, this.store.partitions)
  }

  // ---- JoinGroup ------------------------------------------------------------------------------

  join(req: JoinRequest): Promise<JoinResult> {
    return new Promise((resolve) => this.doJoin(req, resolve))
  }

  private doJoin(req: JoinRequest, respond: (r: JoinResult) => void): void {
    if (this.closed) return respond(joinError(E.NOT_COORDINATOR.code, req.memberId))
    if (!req.groupId) return respond(joinError(E.INVALID_GROUP_ID.code, req.memberId))
    const owner = this.coordinatorError(req.groupId)
    if (owner !== NONE) return respond(joinError(owner, req.memberId))
    const consumerCode = this.consumerGroups?.classicJoin(req.groupId) ?? NONE
    if (consumerCode !== NONE) return respond(joinError(consumerCode, req.memberId))
    if (req.sessionTimeoutMs < this.config.minSessionTimeoutMs || req.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return respond(joinError(E.INVALID_SESSION_TIMEOUT.code, req.memberId))
    }
    if (req.rebalanceTimeoutMs < 0) req = { ...req, rebalanceTimeoutMs: req.sessionTimeoutMs }
    let group = this.groups.get(req.groupId)
    if (!group) {
      if (req.memberId !== '') return respond(joinError(E.UNKNOWN_MEMBER_ID.code, req.memberId))
      group = this.getOrCreate(req.groupId)
    }
    if (group.state === 'Dead') return respond(joinError(E.COORDINATOR_NOT_AVAILABLE.code, req.memberId))
    const isNewMember = req.memberId === '' || (!group.members.has(req.memberId) && !group.pendingMembers.has(req.memberId))
    const replacesStatic = req.groupInstanceId !== null && group.staticMembers.has(req.groupInstanceId)
    if (isNewMember && !replacesStatic && group.members.size + group.pendingMembers.size >= this.config.maxSize) {
      return respond(joinError(E.GROUP_MAX_SIZE_REACHED.code, req.memberId))
    }
    if (req.memberId === '') this.joinUnknownMember(group, req, respond)
    else this.joinKnownMember(group, req, respond)
  }

  private joinUnknownMember(group: Group, req: JoinRequest, respond: (r: JoinResult) => void): void {
    if (!group.supportsProtocols(req.protocolType, req.protocols)) return respond(joinError(E.INCONSISTENT_GROUP_PROTOCOL.code))
    const memberId = `${req.clientId}-${randomUUID()}`
    if (req.groupInstanceId !== null) {
      const existing = group.staticMembers.get(req.groupInstanceId)
      if (existing === undefined) this.addMemberAndRebalance(group, memberId, req, respond)
      else this.replaceStaticMember(group, existing, memberId, req, respond)
      return
    }
    if (req.apiVersion >= 4) {
      // KIP-394: the member learns its id first and joins with it, so a client that times out
      // and retries does not leave an orphan member behind.
      group.pendingMembers.add(memberId)
      this.timer.schedule(pendingKey(group.id, memberId), this.now() + req.sessionTimeoutMs, () => this.expirePendingMember(group, memberId))
      return respond(joinError(E.MEMBER_ID_REQUIRED.code, memberId))
    }
    this.addMemberAndRebalance(group, memberId, req, respond)
  }

  private joinKnownMember(group: Group, req: JoinRequest, respond: (r: JoinResult) => void): void {
    const memberId = req.memberId
    if (!group.supportsProtocols(req.protocolType, req.protocols, memberId)) {
      return respond(joinError(E.INCONSISTENT_GROUP_PROTOCOL.code, memberId))
    }
    if (group.pendingMembers.has(memberId)) {
      group.pendingMembers.delete(memberId)
      this.timer.cancel(pendingKey(group.id, memberId))
      return this.addMemberAndRebalance(group, memberId, req, respond)
    }
    if (group.isStaticMemberFenced(memberId, req.groupInstanceId)) return respond(joinError(E.FENCED_INSTANCE_ID.code, memberId))
    const member = group.members.get(memberId)
    if (!member) return respond(joinError(E.UNKNOWN_MEMBER_ID.code, memberId))
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, req, respond)
      case 'CompletingRebalance':
        // A retried JoinGroup of this generation gets the same answer again.
        if (sameProtocols(member, req)) return respond(this.joinResultFor(group, member))
        return this.updateMemberAndRebalance(group, member, req, respond)
      case 'Stable':
        if (group.leaderId === memberId || !sameProtocols(member, req)) return this.updateMemberAndRebalance(group, member, req, respond)
        this.heartbeatReceived(group, member)
        return respond(this.joinResultFor(group, member))
      default:
        return respond(joinError(E.UNKNOWN_MEMBER_ID.code, memberId))
    }
  }

  /** The answer of a completed join phase: the leader gets every member's metadata. */
  private joinResultFor(group: Group, member: Member): JoinResult {
    const isLeader = group.leaderId === member.memberId
    return {
      errorCode: NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader ? this.memberMetadata(group) : [],
      skipAssignment: false,
    }
  }

  private memberMetadata(group: Group): JoinMember[] {
    const out: JoinMember[] = []
    for (const m of group.members.values()) {
      const p = m.protocols.find((x) => x.name === group.protocolName)
      out.push({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: p?.metadata ?? EMPTY })
    }
    return out
  }

  private addMemberAndRebalance(group: Group, memberId: string, req: JoinRequest, respond: (r: JoinResult) => void): void {
    const member: Member = {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      assignment: EMPTY,
      awaitingJoin: respond,
      joinVersion: req.apiVersion,
      awaitingSync: null,
      isNew: true,
      lastHeartbeat: this.now(),
    }
    if (group.members.size === 0) group.protocolType = req.protocolType
    group.members.set(memberId, member)
    if (req.groupInstanceId !== null) group.staticMembers.set(req.groupInstanceId, memberId)
    if (group.leaderId === null) group.leaderId = memberId
    if (group.state === 'PreparingRebalance' && group.generationId === 0) group.newMemberAdded = true
    // A new member that never completes the join phase is dropped after a while.
    this.timer.schedule(heartbeatKey(group.id, memberId), this.now() + NEW_MEMBER_JOIN_TIMEOUT_MS, () => this.expireSession(group, memberId))
    this.maybePrepareRebalance(group, `member ${memberId} joined`)
  }

  private updateMemberAndRebalance(group: Group, member: Member, req: JoinRequest, respond: (r: JoinResult) => void): void {
    member.protocols = req.protocols
    member.sessionTimeoutMs = req.sessionTimeoutMs
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs
    member.clientId = req.clientId
    member.clientHost = req.clientHost
    member.joinVersion = req.apiVersion
    if (group.members.size === 1) group.protocolType = req.protocolType
    // A second JoinGroup while one waits: the older request is answered, the newer one waits.
    this.answerJoin(member, joinError(E.REBALANCE_IN_PROGRESS.code, member.memberId))
    member.awaitingJoin = respond
    member.lastHeartbeat = this.now()
    this.maybePrepareRebalance(group, `member ${member.memberId} rejoined`)
  }

  /** KIP-345: a static member rejoins with a new member id; the old id is fenced. */
  private replaceStaticMember(group: Group, oldMemberId: string, newMemberId: string, req: JoinRequest, respond: (r: JoinResult) => void): void {
    const member = group.members.get(oldMemberId)!
    const currentLeader = group.leaderId
    this.answerJoin(member, joinError(E.FENCED_INSTANCE_ID.code, oldMemberId))
    this.answerSync(member, syncError(E.FENCED_INSTANCE_ID.code))
    this.timer.cancel(heartbeatKey(group.id, oldMemberId))
    group.members.delete(oldMemberId)
    member.memberId = newMemberId
    group.members.set(newMemberId, member)
    group.staticMembers.set(req.groupInstanceId!, newMemberId)
    if (group.leaderId === oldMemberId) group.leaderId = newMemberId
    if (group.pendingSync.delete(oldMemberId)) group.pendingSync.add(newMemberId)
    const oldProtocols = member.protocols
    const oldSession = member.sessionTimeoutMs
    const oldRebalance = member.rebalanceTimeoutMs
    member.protocols = req.protocols
    member.sessionTimeoutMs = req.sessionTimeoutMs
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs
    member.clientId = req.clientId
    member.clientHost = req.clientHost
    switch (group.state) {
      case 'Stable': {
        if (group.selectProtocol() !== group.protocolName || req.protocolType !== group.protocolType) {
          return this.updateMemberAndRebalance(group, member, req, respond)
        }
        // Nothing changed: the member takes its old place without a rebalance, once the new
        // member id is durable.
        this.heartbeatReceived(group, member)
        const generation = group.generationId
        this.track(this.persistGroup(group)).then(
          () => {
            if (!this.isServed(group)) return respond(joinError(E.NOT_COORDINATOR.code, newMemberId)) // resigned meanwhile
            const isLeader = group.leaderId === newMemberId
            const skip = isLeader && req.apiVersion >= 9
            respond({
              errorCode: NONE,
              generationId: generation,
              protocolType: group.protocolType,
              protocolName: group.protocolName,
              // The old leader id keeps a replaced leader from computing an assignment a Stable
              // group would not hand out; v9 tells it to skip the assignment instead.
              leader: skip ? newMemberId : currentLeader ?? '',
              memberId: newMemberId,
              members: skip ? this.memberMetadata(group) : [],
              skipAssignment: skip,
            })
          },
          (err: unknown) => {
            // Revert, so the old member id keeps working.
            this.log?.warn({ err, group: group.id }, 'failed to persist a static member replacement')
            if (group.members.get(newMemberId) === member) {
              group.members.delete(newMemberId)
              member.memberId = oldMemberId
              member.protocols = oldProtocols
              member.sessionTimeoutMs = oldSession
              member.rebalanceTimeoutMs = oldRebalance
              group.members.set(oldMemberId, member)
              group.staticMembers.set(req.groupInstanceId!, oldMemberId)
              if (group.leaderId === newMemberId) group.leaderId = oldMemberId
              if (group.pendingSync.delete(newMemberId)) group.pendingSync.add(oldMemberId)
              this.heartbeatReceived(group, member)
            }
            respond(joinError(storeErrorCode(err), newMemberId))
          },
        )
        return
      }
      case 'CompletingRebalance':
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, req, respond)
      default:
        return respond(joinError(E.UNKNOWN_MEMBER_ID.code, newMemberId))
    }
  }

  private maybePrepareRebalance(group: Group, reason: string): void {
    if (group.state === 'Stable' || group.state === 'CompletingRebalance' || group.state === 'Empty') this.prepareRebalance(group, reason)
    else if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group)
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'CompletingRebalance') this.resetAssignments(group, E.REBALANCE_IN_PROGRESS.code)
    this.timer.cancel(syncKey(group.id))
    group.pendingSync.clear()
    const now = this.now()
    const wasEmpty = group.state === 'Empty'
    group.transition('PreparingRebalance', now)
    this.log?.info({ group: group.id, generation: group.generationId, reason }, 'preparing to rebalance')
    if (wasEmpty) {
      // The first rebalance waits group.initial.rebalance.delay.ms for more members, and again
      // (up to the rebalance timeout) while new members keep arriving.
      const delay = this.config.initialRebalanceDelayMs
      group.initialDelay = { remainingMs: Math.max(group.rebalanceTimeoutMs() - delay, 0) }
      group.newMemberAdded = false
      this.timer.schedule(joinKey(group.id), now + delay, () => this.initialDelayExpired(group))
    } else {
      group.initialDelay = null
      this.timer.schedule(joinKey(group.id), now + group.rebalanceTimeoutMs(), () => this.completeJoin(group))
      this.tryCompleteJoin(group)
    }
  }

  private initialDelayExpired(group: Group): void {
    const d = group.initialDelay
    if (group.state !== 'PreparingRebalance' || !d) return
    if (group.newMemberAdded && d.remainingMs > 0) {
      group.newMemberAdded = false
      const delay = Math.min(this.config.initialRebalanceDelayMs, d.remainingMs)
      d.remainingMs = Math.max(d.remainingMs - this.config.initialRebalanceDelayMs, 0)
      this.timer.schedule(joinKey(group.id), this.now() + delay, () => this.initialDelayExpired(group))
      return
    }
    group.initialDelay = null
    this.completeJoin(group)
  }

  private tryCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || group.initialDelay) return
    if (group.allMembersJoined()) {
      this.timer.cancel(joinKey(group.id))
      this.completeJoin(group)
    }
  }

  /** The join phase ends: members that did not rejoin are gone, a new generation starts. */
  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return
    this.timer.cancel(joinKey(group.id))
    group.initialDelay = null
    for (const m of [...group.members.values()]) {
      if (!m.awaitingJoin && m.groupInstanceId === null) this.removeMember(group, m, E.UNKNOWN_MEMBER_ID.code)
    }
    // Pending members that never came back do not hold up the group any longer.
    for (const id of group.pendingMembers) this.timer.cancel(pendingKey(group.id, id))
    group.pendingMembers.clear()
    const joined = [...group.members.values()].filter((m) => m.awaitingJoin)
    if (group.members.size > 0 && joined.length === 0) {
      // Only static members that did not rejoin: wait another round for them.
      this.timer.schedule(joinKey(group.id), this.now() + group.rebalanceTimeoutMs(), () => this.completeJoin(group))
      return
    }
    if (group.leaderId === null || !group.members.get(group.leaderId)?.awaitingJoin) group.leaderId = joined[0]?.memberId ?? null
    const now = this.now()
    group.generationId++
    if (group.members.size === 0) {
      group.protocolName = null
      group.leaderId = null
      group.transition('Empty', now)
      this.log?.info({ group: group.id, generation: group.generationId }, 'group is empty')
      this.track(this.persistGroup(group)).catch((err: unknown) => this.log?.warn({ err, group: group.id }, 'failed to persist an empty group'))
      return
    }
    group.protocolName = group.selectProtocol()
    group.transition('CompletingRebalance', now)
    this.log?.info({ group: group.id, generation: group.generationId, protocol: group.protocolName, members: group.members.size }, 'join phase complete')
    for (const m of group.members.values()) {
      group.pendingSync.add(m.memberId)
      const respond = m.awaitingJoin
      if (respond) {
        m.awaitingJoin = null
        m.isNew = false
        respond(this.joinResultFor(group, m))
      }
      this.heartbeatReceived(group, m)
    }
    // Members that do not sync within the rebalance timeout are removed.
    const generation = group.generationId
    this.timer.schedule(syncKey(group.id), now + group.rebalanceTimeoutMs(), () => this.expirePendingSync(group, generation))
  }

  private expirePendingSync(group: Group, generation: number): void {
    if (group.generationId !== generation || (group.state !== 'CompletingRebalance' && group.state !== 'Stable')) return
    if (group.pendingSync.size === 0) return
    for (const id of [...group.pendingSync]) {
      const m = group.members.get(id)
      if (m) this.removeMember(group, m, E.REBALANCE_IN_PROGRESS.code)
    }
    group.pendingSync.clear()
    this.prepareRebalance(group, 'members did not sync in time')
  }

  private expirePendingMember(group: Group, memberId: string): void {
    if (!group.pendingMembers.delete(memberId)) return
    if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group)
  }

  // ---- SyncGroup -------------------------------------------------------------------------------

  sync(req: SyncRequest): Promise<SyncResult> {
    return new Promise((resolve) => this.doSync(req, resolve))
  }

  private doSync(req: SyncRequest, respond: (r: SyncResult) => void): void {
    const owner = this.coordinatorError(req.groupId)
    if (owner !== NONE) return respond(syncError(owner))
    const group = this.groups.get(req.groupId)
    if (!group) return respond(syncError(E.UNKNOWN_MEMBER_ID.code))
    if (group.state === 'Dead') return respond(syncError(E.COORDINATOR_NOT_AVAILABLE.code))
    if (group.isStaticMemberFenced(req.memberId, req.groupInstanceId)) return respond(syncError(E.FENCED_INSTANCE_ID.code))
    const member = group.members.get(req.memberId)
    if (!member) return respond(syncError(E.UNKNOWN_MEMBER_ID.code))
    if (req.generationId !== group.generationId) return respond(syncError(E.ILLEGAL_GENERATION.code))
    if ((req.protocolType !== null && req.protocolType !== group.protocolType) || (req.protocolName !== null && req.protocolName !== group.protocolName)) {
      return respond(syncError(E.INCONSISTENT_GROUP_PROTOCOL.code))
    }
    switch (group.state) {
      case 'Empty':
        return respond(syncError(E.UNKNOWN_MEMBER_ID.code))
      case 'PreparingRebalance':
        return respond(syncError(E.REBALANCE_IN_PROGRESS.code))
      case 'CompletingRebalance': {
        this.answerSync(member, syncError(E.REBALANCE_IN_PROGRESS.code))
        member.awaitingSync = respond
        group.pendingSync.delete(member.memberId)
        this.heartbeatReceived(group, member)
        if (group.leaderId !== member.memberId) return
        const assignments = new Map<string, Buffer>()
        for (const a of req.assignments) assignments.set(a.memberId, a.assignment)
        const generation = group.generationId
        for (const m of group.members.values()) m.assignment = assignments.get(m.memberId) ?? EMPTY
        this.track(this.persistGroup(group)).then(
          () => {
            if (group.state !== 'CompletingRebalance' || group.generationId !== generation) return
            group.transition('Stable', this.now())
            this.log?.info({ group: group.id, generation, members: group.members.size }, 'group is stable')
            for (const m of group.members.values()) this.answerSync(m, { errorCode: NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: m.assignment })
          },
          (err: unknown) => {
            this.log?.warn({ err, group: group.id }, 'failed to persist the group assignment')
            if (group.state !== 'CompletingRebalance' || group.generationId !== generation) return
            this.resetAssignments(group, storeErrorCode(err))
            this.prepareRebalance(group, 'the assignment could not be written')
          },
        )
        return
      }
      case 'Stable':
        group.pendingSync.delete(member.memberId)
        this.heartbeatReceived(group, member)
        return respond({ errorCode: NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment })
    }
  }

  private resetAssignments(group: Group, errorCode: number): void {
    for (const m of group.members.values()) {
      m.assignment = EMPTY
      this.answerSync(m, syncError(errorCode))
    }
  }

  // ---- Heartbeat and sessions --------------------------------------------------------------------

  heartbeat(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null): number {
    const owner = this.coordinatorError(groupId)
    if (owner !== NONE) return owner
    const group = this.groups.get(groupId)
    if (!group) return E.UNKNOWN_MEMBER_ID.code
    if (group.state === 'Dead') return E.COORDINATOR_NOT_AVAILABLE.code
    if (group.isStaticMemberFenced(memberId, groupInstanceId)) return E.FENCED_INSTANCE_ID.code
    const member = group.members.get(memberId)
    if (!member) return E.UNKNOWN_MEMBER_ID.code
    if (generationId !== group.generationId) return E.ILLEGAL_GENERATION.code
    switch (group.state) {
      case 'Empty':
        return E.UNKNOWN_MEMBER_ID.code
      case 'PreparingRebalance':
        this.heartbeatReceived(group, member)
        return E.REBALANCE_IN_PROGRESS.code
      default:
        this.heartbeatReceived(group, member)
        return NONE
    }
  }

  private heartbeatReceived(group: Group, member: Member): void {
    member.lastHeartbeat = this.now()
    this.timer.schedule(heartbeatKey(group.id, member.memberId), member.lastHeartbeat + member.sessionTimeoutMs, () => this.expireSession(group, member.memberId))
  }

  private expireSession(group: Group, memberId: string): void {
    const member = group.members.get(memberId)
    if (!member || this.groups.get(group.id) !== group) return
    const now = this.now()
    // Members waiting in a join or sync phase are alive; a new member waits at most a while.
    const keepAlive = member.awaitingJoin
      ? !member.isNew || member.lastHeartbeat + NEW_MEMBER_JOIN_TIMEOUT_MS > now
      : member.awaitingSync !== null
    if (keepAlive) {
      this.timer.schedule(heartbeatKey(group.id, memberId), now + member.sessionTimeoutMs, () => this.expireSession(group, memberId))
      return
    }
    this.log?.info({ group: group.id, member: memberId, generation: group.generationId }, 'member session expired')
    this.removeMemberAndUpdateGroup(group, member, E.UNKNOWN_MEMBER_ID.code, 'session expired')
  }

  private removeMember(group: Group, member: Member, errorCode: number): void {
    this.answerJoin(member, joinError(errorCode, member.memberId))
    this.answerSync(member, syncError(errorCode))
    this.timer.cancel(heartbeatKey(group.id, member.memberId))
    group.members.delete(member.memberId)
    group.pendingSync.delete(member.memberId)
    if (member.groupInstanceId !== null && group.staticMembers.get(member.groupInstanceId) === member.memberId) group.staticMembers.delete(member.groupInstanceId)
    if (group.leaderId === member.memberId) group.leaderId = group.members.keys().next().value ?? null
  }

  private removeMemberAndUpdateGroup(group: Group, member: Member, errorCode: number, reason: string): void {
    this.removeMember(group, member, errorCode)
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') this.prepareRebalance(group, `member ${member.memberId} left: ${reason}`)
    else if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group)
  }

  private answerJoin(member: Member, r: JoinResult): void {
    const respond = member.awaitingJoin
    if (respond) {
      member.awaitingJoin = null
      respond(r)
    }
  }

  private answerSync(member: Member, r: SyncResult): void {
    const respond = member.awaitingSync
    if (respond) {
      member.awaitingSync = null
      respond(r)
    }
  }

  // ---- LeaveGroup ------------------------------------------------------------------------------

  leave(groupId: string, members: MemberIdentity[]): LeaveResult {
    const owner = this.coordinatorError(groupId)
    if (owner !== NONE) return { errorCode: owner, members: [] }
    const group = this.groups.get(groupId)
    const each = (errorCode: number): LeaveResult => ({ errorCode, members: members.map((m) => ({ ...m, errorCode })) })
    if (!group) return each(E.UNKNOWN_MEMBER_ID.code)
    if (group.state === 'Dead') return { errorCode: E.COORDINATOR_NOT_AVAILABLE.code, members: [] }
    const out: LeaveResult['members'] = []
    for (const m of members) {
      let errorCode = NONE
      if (m.groupInstanceId !== null) {
        const id = group.staticMembers.get(m.groupInstanceId)
        if (id === undefined) errorCode = E.UNKNOWN_MEMBER_ID.code
        else if (m.memberId !== '' && m.memberId !== id) errorCode = E.FENCED_INSTANCE_ID.code
        else this.removeMemberAndUpdateGroup(group, group.members.get(id)!, E.UNKNOWN_MEMBER_ID.code, 'left the group')
      } else if (group.pendingMembers.delete(m.memberId)) {
        this.timer.cancel(pendingKey(group.id, m.memberId))
        if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group)
      } else {
        const member = group.members.get(m.memberId)
        if (!member) errorCode = E.UNKNOWN_MEMBER_ID.code
        else this.removeMemberAndUpdateGroup(group, member, E.UNKNOWN_MEMBER_ID.code, 'left the group')
      }
      out.push({ ...m, errorCode })
    }
    return { errorCode: NONE, members: out }
  }

  // ---- Offsets ---------------------------------------------------------------------------------

  /** Commits offsets; answers one error code per entry of req.offsets, in order. */
  async commitOffsets(req: CommitRequest): Promise<number[]> {
    const all = (code: number) => req.offsets.map(() => code)
    if (this.closed) return all(E.NOT_COORDINATOR.code)
    if (!req.groupId) return all(E.INVALID_GROUP_ID.code)
    const owner = this.coordinatorError(req.groupId)
    if (owner !== NONE) return all(owner)
    let group = this.groups.get(req.groupId)
    const consumerCode = this.consumerGroups?.validateCommit(req.groupId, req.memberId, req.generationId)
    if (consumerCode !== undefined) {
      if (consumerCode !== NONE) return all(consumerCode)
    } else if (!group) {
      // Outside group management (assign(), kcat, v0): the group is created to hold offsets.
      if (req.generationId >= 0) return all(E.ILLEGAL_GENERATION.code)
      group = this.getOrCreate(req.groupId)
    } else {
      const code = this.validateCommit(group, req)
      if (code !== NONE) return all(code)
      const member = group.members.get(req.memberId)
      if (member) this.heartbeatReceived(group, member)
    }
    const now = this.now()
    const errors: number[] = []
    const records: CoordinatorRecord[] = []
    const values: (OffsetValue | null)[] = []
    for (const o of req.offsets) {
      if (o.metadata !== null && Buffer.byteLength(o.metadata, 'utf8') > this.config.offsetMetadataMaxBytes) {
        errors.push(E.OFFSET_METADATA_TOO_LARGE.code)
        values.push(null)
        continue
      }
      const commitTimestamp = o.commitTimestamp !== undefined && o.commitTimestamp >= 0 ? o.commitTimestamp : now
      const value: OffsetValue = {
        offset: o.offset,
        leaderEpoch: o.leaderEpoch,
        metadata: o.metadata ?? '',
        commitTimestamp,
        expireTimestamp: req.retentionTimeMs > 0 ? commitTimestamp + req.retentionTimeMs : -1,
      }
      errors.push(NONE)
      values.push(value)
      records.push({ type: 'offset', group: req.groupId, topic: o.topic, partition: o.partition, value })
    }
    if (records.length === 0) return errors
    const term = this.termOf(req.groupId)
    try {
      await this.track(this.append(req.groupId, records))
    } catch (err) {
      const code = storeErrorCode(err)
      this.log?.warn({ err, group: req.groupId }, 'failed to write offset commits')
      return errors.map((e) => (e === NONE ? code : e))
    }
    // Written (committed): if the partition moved meanwhile, its next leader replays the commit.
    if (!term || !this.terms.isCurrent(term)) return errors
    const g = this.groups.get(req.groupId) ?? this.getOrCreate(req.groupId)
    req.offsets.forEach((o, i) => {
      const v = values[i]
      if (!v) return
      let byPartition = g.offsets.get(o.topic)
      if (!byPartition) g.offsets.set(o.topic, (byPartition = new Map()))
      byPartition.set(o.partition, v)
    })
    return errors
  }

  private validateCommit(group: Group, req: CommitRequest): number {
    if (group.state === 'Dead') return E.COORDINATOR_NOT_AVAILABLE.code
    if (group.isStaticMemberFenced(req.memberId, req.groupInstanceId)) return E.FENCED_INSTANCE_ID.code
    if (req.generationId < 0 && group.state === 'Empty') return NONE
    if (group.state === 'CompletingRebalance') return E.REBALANCE_IN_PROGRESS.code
    if (!group.members.has(req.memberId)) return E.UNKNOWN_MEMBER_ID.code
    if (req.generationId !== group.generationId) return E.ILLEGAL_GENERATION.code
    return NONE
  }

  /**
   * Committed offsets of a group: of the given partitions, or every one when topics is null. With
   * requireStable, a partition with a transactional commit still pending is UNSTABLE_OFFSET_COMMIT.
   * For a group not coordinated here (or loading) every asked partition carries that error
   * (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS), as Kafka answers OffsetFetch v0-1; a handler
   * answering a group-level error asks coordinatorError first.
   */
  fetchOffsets(groupId: string, topics: { topic: string; partitions: number[] }[] | null, requireStable = false): FetchedOffset[] {
    const out: FetchedOffset[] = []
    const owner = this.coordinatorError(groupId)
    if (owner !== NONE) {
      if (topics) for (const t of topics) for (const p of t.partitions) out.push({ topic: t.topic, partition: p, offset: -1, leaderEpoch: -1, metadata: '', errorCode: owner })
      return out
    }
    const group = this.groups.get(groupId)
    const entry = (topic: string, partition: number, v: OffsetValue | undefined): FetchedOffset =>
      requireStable && this.hasPendingTxnOffset(groupId, topic, partition)
        ? { topic, partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: E.UNSTABLE_OFFSET_COMMIT.code }
        : v
        ? { topic, partition, offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata, errorCode: NONE }
        : { topic, partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: NONE }
    if (topics === null) {
      if (group) for (const [topic, byPartition] of group.offsets) for (const [p, v] of byPartition) out.push(entry(topic, p, v))
      return out
    }
    for (const t of topics) for (const p of t.partitions) out.push(entry(t.topic, p, group?.offsets.get(t.topic)?.get(p)))
    return out
  }

  // ---- Transactional offsets (TxnOffsetCommit) ---------------------------------------------------

  /**
   * TxnOffsetCommit: the offsets are written as a transactional batch of the producer to the
   * group's partition and stay pending (invisible to OffsetFetch) until the transaction's marker
   * reaches that partition (completeTransaction). One error code per entry of req.offsets.
   */
  async commitTxnOffsets(req: TxnCommitRequest): Promise<number[]> {
    const all = (code: number) => req.offsets.map(() => code)
    if (this.closed) return all(E.NOT_COORDINATOR.code)
    if (!req.groupId) return all(E.INVALID_GROUP_ID.code)
    const owner = this.coordinatorError(req.groupId)
    if (owner !== NONE) return all(owner)
    const consumerCode = req.generationId >= 0 || req.memberId ? this.consumerGroups?.validateCommit(req.groupId, req.memberId, req.generationId) : undefined
    if (consumerCode !== undefined) {
      if (consumerCode !== NONE) return all(consumerCode)
    } else {
      // Kafka's checks for transactional commits: a generation of -1 (older producers) is taken as is.
      const group = this.groups.get(req.groupId)
      if (group) {
        if (group.state === 'Dead') return all(E.COORDINATOR_NOT_AVAILABLE.code)
        if (group.isStaticMemberFenced(req.memberId, req.groupInstanceId)) return all(E.FENCED_INSTANCE_ID.code)
        if (req.memberId && !group.members.has(req.memberId)) return all(E.UNKNOWN_MEMBER_ID.code)
        if (req.generationId >= 0 && req.generationId !== group.generationId) return all(E.ILLEGAL_GENERATION.code)
      } else if (req.generationId >= 0) {
        return all(E.ILLEGAL_GENERATION.code)
      }
    }
    const now = this.now()
    const errors: number[] = []
    const records: CoordinatorRecord[] = []
    const pending: PendingTxnOffset[] = []
    for (const o of req.offsets) {
      if (o.metadata !== null && Buffer.byteLength(o.metadata, 'utf8') > this.config.offsetMetadataMaxBytes) {
        errors.push(E.OFFSET_METADATA_TOO_LARGE.code)
        continue
      }
      const value: OffsetValue = { offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata ?? '', commitTimestamp: now, expireTimestamp: -1 }
      errors.push(NONE)
      pending.push({ topic: o.topic, partition: o.partition, value })
      records.push({ type: 'offset', group: req.groupId, topic: o.topic, partition: o.partition, value })
    }
    if (records.length === 0) return errors
    const term = this.termOf(req.groupId)
    try {
      await this.track(this.append(req.groupId, records, { producerId: req.producerId, producerEpoch: req.producerEpoch }))
    } catch (err) {
      const code = storeErrorCode(err)
      this.log?.warn({ err, group: req.groupId }, 'failed to write transactional offset commits')
      return errors.map((e) => (e === NONE ? code : e))
    }
    if (!term || !this.terms.isCurrent(term)) return errors // the partition's next leader replays them
    addPending(this.pendingTxnOffsets, req.producerId, req.groupId, pending)
    return errors
  }

  /**
   * A transaction marker of producerId reached partition `offsetsPartition` of the offsets
   * topic: its pending offsets of the groups there become committed offsets, or are dropped.
   * While the partition loads, the marker is applied after the load; on a partition not served
   * here it is ignored (its leader replays it).
   */
  completeTransaction(producerId: number, commit: boolean, offsetsPartition: number): void {
    const term = this.terms.get(offsetsPartition)
    if (!term) return
    if (term.state === 'loading') {
      this.loadCompletions.get(term)?.push({ producerId, commit })
      return
    }
    this.completePendingTxnOffsets(producerId, commit, offsetsPartition)
  }

  /** Whether a transactional commit for this partition of the group awaits its transaction's end. */
  hasPendingTxnOffset(groupId: string, topic: string, partition: number): boolean {
    for (const byGroup of this.pendingTxnOffsets.values()) if (byGroup.get(groupId)?.has(`${topic}\0${partition}`)) return true
    return false
  }

  private completePendingTxnOffsets(producerId: number, commit: boolean, offsetsPartition: number): void {
    completePending(this.pendingTxnOffsets, producerId, commit, (g) => this.partitionFor(g) === offsetsPartition, (id) => this.getOrCreate(id))
  }

  /** OffsetDelete: per partition error codes, or a group-level error. */
  async deleteOffsets(groupId: string, partitions: { topic: string; partition: number }[]): Promise<{ errorCode: number; partitions: number[] }> {
    if (this.closed) return { errorCode: E.NOT_COORDINATOR.code, partitions: [] }
    if (!groupId) return { errorCode: E.INVALID_GROUP_ID.code, partitions: [] }
    const owner = this.coordinatorError(groupId)
    if (owner !== NONE) return { errorCode: owner, partitions: [] }
    const group = this.groups.get(groupId)
    if (!group || group.state === 'Dead') return { errorCode: E.GROUP_ID_NOT_FOUND.code, partitions: [] }
    if (group.state !== 'Empty' && group.protocolType !== CONSUMER_PROTOCOL_TYPE) return { errorCode: E.NON_EMPTY_GROUP.code, partitions: [] }
    const subscribed = this.consumerGroups?.subscribedTopics(groupId) ?? (group.state === 'Empty' ? new Set<string>() : group.subscribedTopics())
    const codes: number[] = []
    const records: CoordinatorRecord[] = []
    for (const { topic, partition } of partitions) {
      if (subscribed === null || subscribed.has(topic)) {
        codes.push(E.GROUP_SUBSCRIBED_TO_TOPIC.code)
        continue
      }
      codes.push(NONE)
      if (group.offsets.get(topic)?.has(partition)) records.push({ type: 'offset', group: groupId, topic, partition, value: null })
    }
    if (records.length > 0) {
      try {
        await this.track(this.append(groupId, records))
      } catch (err) {
        return { errorCode: storeErrorCode(err), partitions: [] }
      }
      for (const r of records) if (r.type === 'offset') this.forgetOffset(group, r.topic, r.partition)
    }
    return { errorCode: NONE, partitions: codes }
  }

  private forgetOffset(group: Group, topic: string, partition: number): void {
    const byPartition = group.offsets.get(topic)
    if (!byPartition) return
    byPartition.delete(partition)
    if (byPartition.size === 0) group.offsets.delete(topic)
  }

  /** A deleted topic takes its committed offsets with it, in every group (Kafka's onPartitionsDeleted). */
  async forgetTopic(topic: string): Promise<void> {
    for (const group of [...this.groups.values()]) {
      const byPartition = group.offsets.get(topic)
      if (!byPartition || !this.isServed(group)) continue
      const records: CoordinatorRecord[] = [...byPartition.keys()].map((partition) => ({ type: 'offset', group: group.id, topic, partition, value: null }))
      try {
        await this.track(this.append(group.id, records))
        for (const r of records) if (r.type === 'offset') this.forgetOffset(group, r.topic, r.partition)
      } catch (err) {
        this.log?.warn({ err, group: group.id, topic }, 'failed to remove the offsets of a deleted topic')
      }
    }
  }

  // ---- Describe, list, delete ------------------------------------------------------------------

  describe(groupId: string): GroupDescription {
    const owner = this.coordinatorError(groupId)
    if (owner !== NONE) return { errorCode: owner, groupId, state: 'Dead', protocolType: '', protocolData: '', members: [] }
    const consumer = this.consumerGroups?.describeClassic(groupId)
    if (consumer) return consumer
    const group = this.groups.get(groupId)
    if (!group) return { errorCode: NONE, groupId, state: 'Dead', protocolType: '', protocolData: '', members: [] }
    const stable = group.state === 'Stable'
    return {
      errorCode: NONE,
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolData: stable ? group.protocolName ?? '' : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    }
  }

  list(statesFilter: string[] = [], typesFilter: string[] = []): GroupListing[] {
    const states = new Set(statesFilter.map((s) => s.toLowerCase()))
    const types = new Set(typesFilter.map((s) => s.toLowerCase()))
    const out: GroupListing[] = types.size === 0 || types.has('consumer') ? this.consumerGroups?.list(states) ?? [] : []
    if (types.size > 0 && !types.has('classic')) return out
    for (const g of this.groups.values()) {
      if (g.state === 'Dead' || this.consumerGroups?.isConsumerGroup(g.id)) continue
      if (states.size > 0 && !states.has(g.state.toLowerCase())) continue
      out.push({ groupId: g.id, protocolType: g.protocolType ?? '', state: g.state })
    }
    return out
  }

  /** DeleteGroups: one error code per group id. */
  async deleteGroups(groupIds: string[]): Promise<number[]> {
    const out: number[] = []
    for (const id of groupIds) out.push(await this.deleteGroup(id))
    return out
  }

  private async deleteGroup(groupId: string): Promise<number> {
    if (this.closed) return E.NOT_COORDINATOR.code
    if (!groupId) return E.INVALID_GROUP_ID.code
    const owner = this.coordinatorError(groupId)
    if (owner !== NONE) return owner
    // A consumer group's records go first; its offsets are held here.
    const consumerCode = await this.consumerGroups?.deleteGroup(groupId)
    if (consumerCode !== undefined && consumerCode !== NONE) return consumerCode
    const group = this.groups.get(groupId)
    if (!group || group.state === 'Dead') return consumerCode ?? E.GROUP_ID_NOT_FOUND.code
    if (group.state !== 'Empty' || group.members.size > 0 || group.pendingMembers.size > 0) return E.NON_EMPTY_GROUP.code
    try {
      await this.track(this.removeGroup(group))
    } catch (err) {
      return storeErrorCode(err)
    }
    return NONE
  }

  /** Tombstones for every offset and the group's metadata; the group is then Dead and forgotten. */
  private async removeGroup(group: Group): Promise<void> {
    const records: CoordinatorRecord[] = []
    for (const [topic, byPartition] of group.offsets) for (const p of byPartition.keys()) records.push({ type: 'offset', group: group.id, topic, partition: p, value: null })
    if (group.hasMetadataRecord) records.push({ type: 'group', group: group.id, value: null })
    if (records.length > 0) await this.append(group.id, records)
    group.transition('Dead', this.now())
    for (const id of group.pendingMembers) this.timer.cancel(pendingKey(group.id, id))
    this.timer.cancel(joinKey(group.id))
    this.timer.cancel(syncKey(group.id))
    if (this.groups.get(group.id) === group) this.groups.delete(group.id)
    this.log?.info({ group: group.id }, 'group deleted')
  }

  // ---- Offset expiry -----------------------------------------------------------------------------

  private scheduleExpiry(): void {
    this.timer.schedule('expire-offsets', this.now() + this.config.offsetsRetentionCheckIntervalMs, () => {
      this.track(this.expireOffsets()).catch((err: unknown) => this.log?.warn({ err }, 'offset expiry failed'))
      this.scheduleExpiry()
    })
  }

  /**
   * Removes offsets past their retention: of an Empty group, counted from when it became empty
   * (or, without group management, from each commit); of a live consumer group, only offsets of
   * topics it no longer subscribes to. An Empty group left without offsets is deleted.
   */
  async expireOffsets(): Promise<number> {
    const now = this.now()
    const retention = this.config.offsetsRetentionMs
    let expired = 0
    for (const group of [...this.groups.values()]) {
      if (group.state === 'Dead' || !this.isServed(group)) continue // dead, or its partition moved meanwhile
      const records: CoordinatorRecord[] = []
      // Offsets of a consumer group age from their commit, unless it subscribes to their topic.
      const consumerSubscribed = this.consumerGroups?.subscribedTopics(group.id)
      const empty = group.state === 'Empty' && consumerSubscribed === undefined
      const subscribed = consumerSubscribed ?? (empty ? null : group.subscribedTopics())
      if (empty || subscribed !== null) {
        for (const [topic, byPartition] of group.offsets) {
          if (!empty && subscribed!.has(topic)) continue
          for (const [p, v] of byPartition) {
            const base = empty && group.protocolType ? Math.max(group.stateTimestamp, 0) : v.commitTimestamp
            const dead = v.expireTimestamp > 0 ? now >= v.expireTimestamp : now - base >= retention
            if (dead) records.push({ type: 'offset', group: group.id, topic, partition: p, value: null })
          }
        }
      }
      if (records.length > 0) {
        await this.append(group.id, records)
        for (const r of records) if (r.type === 'offset') this.forgetOffset(group, r.topic, r.partition)
        expired += records.length
        this.log?.info({ group: group.id, offsets: records.length }, 'expired committed offsets')
      }
      if (group.state === 'Empty' && !group.hasOffsets && group.members.size === 0 && group.pendingMembers.size === 0 && this.isServed(group)) await this.removeGroup(group)
    }
    return expired
  }

  // ---- Persistence -------------------------------------------------------------------------------

  private append(groupId: string, records: CoordinatorRecord[], txn?: TxnProducer): Promise<void> {
    const kvs: KeyValue[] = records.map(encodeRecord)
    return this.store.append(this.partitionFor(groupId), kvs, txn)
  }

  private async persistGroup(group: Group): Promise<void> {
    const value: GroupValue = {
      protocolType: group.protocolType ?? '',
      generationId: group.generationId,
      protocolName: group.protocolName,
      leader: group.leaderId,
      stateTimestamp: group.stateTimestamp,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: (m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY).toString('base64'),
        assignment: m.assignment.toString('base64'),
      })),
    }
    await this.append(group.id, [{ type: 'group', group: group.id, value }])
    group.hasMetadataRecord = true
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p)
    const done = () => this.inflight.delete(p)
    p.then(done, done)
    return p
  }

  /** The current term of the group's partition (undefined when not served here). */
  private termOf(groupId: string): Term | undefined {
    return this.terms.get(this.partitionFor(groupId))
  }

  /** Whether a group object is still the one this coordinator serves (not dropped by a resign, deleted or replaced). */
  private isServed(group: Group): boolean {
    return this.groups.get(group.id) === group
  }

  private getOrCreate(groupId: string): Group {
    let g = this.groups.get(groupId)
    if (!g) this.groups.set(groupId, (g = new Group(groupId, this.now())))
    return g
  }

  // ---- For tests and tools -------------------------------------------------------------------------

  groupState(groupId: string): GroupState | undefined {
    return this.groups.get(groupId)?.state
  }

  /** Whether a classic group has members (so the consumer protocol may not take its id over). */
  classicGroupInUse(groupId: string): boolean {
    const g = this.groups.get(groupId)
    return g !== undefined && (g.members.size > 0 || g.pendingMembers.size > 0 || (g.state !== 'Empty' && g.state !== 'Dead'))
  }

  generation(groupId: string): number | undefined {
    return this.groups.get(groupId)?.generationId
  }
}

/**
 * A group as its metadata record left it (Kafka's GroupMetadata.loadGroup): with members it is
 * Stable in the recorded generation, protocol and leader, each member with its subscription to the
 * group's protocol and its assignment (records are written when a generation's assignment is
 * stored, or the group became Empty). Records written before members were kept in full come back
 * Empty, their offsets ageing from `loadedAt`. Sessions are started by the caller.
 */
function restoreGroup(g: Group, v: GroupValue, loadedAt: number): void {
  g.generationId = v.generationId
  g.protocolType = v.protocolType
  g.hasMetadataRecord = true
  const complete = (m: GroupMemberValue): m is Required<GroupMemberValue> =>
    typeof m.sessionTimeoutMs === 'number' && typeof m.rebalanceTimeoutMs === 'number' && typeof m.subscription === 'string' && typeof m.assignment === 'string'
  if (v.members.length === 0 || v.protocolName === null || !v.members.every(complete)) {
    // Empty, or a record of the old shape whose members cannot be restored: the group is Empty,
    // and its offsets age from now on unless it already was empty when written.
    g.stateTimestamp = v.members.length === 0 ? v.stateTimestamp : loadedAt
    return
  }
  for (const m of v.members as Required<GroupMemberValue>[]) {
    g.members.set(m.memberId, {
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      sessionTimeoutMs: m.sessionTimeoutMs,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      protocolType: v.protocolType,
      protocols: [{ name: v.protocolName, metadata: Buffer.from(m.subscription, 'base64') }],
      assignment: Buffer.from(m.assignment, 'base64'),
      awaitingJoin: null,
      joinVersion: 0,
      awaitingSync: null,
      isNew: false,
      lastHeartbeat: loadedAt,
    })
    if (m.groupInstanceId !== null) g.staticMembers.set(m.groupInstanceId, m.memberId)
  }
  g.protocolName = v.protocolName
  g.leaderId = v.leader !== null && g.members.has(v.leader) ? v.leader : g.members.keys().next().value ?? null
  g.state = 'Stable'
  g.stateTimestamp = v.stateTimestamp
}

function sameProtocols(member: Member, req: JoinRequest): boolean {
  if (member.protocols.length !== req.protocols.length) return false
  return member.protocols.every((p, i) => p.name === req.protocols[i]!.name && p.metadata.equals(req.protocols[i]!.metadata))
}

const heartbeatKey = (group: string, member: string) => `hb\0${group}\0${member}`
const pendingKey = (group: string, member: string) => `pending\0${group}\0${member}`
const joinKey = (group: string) => `join\0${group}`
const syncKey = (group: string) => `sync\0${group}`
