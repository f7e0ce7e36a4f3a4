// The state of one KIP-848 consumer group, after Kafka's ConsumerGroup, ConsumerGroupMember and
// CurrentAssignmentBuilder. The coordinator (consumer-group-coordinator.ts) drives it; this file
// does no I/O.
//
// Epochs: the group epoch is bumped when membership or subscriptions change; the target
// assignment is computed for the group epoch (then assignmentEpoch = groupEpoch); each member
// converges towards its target one step at a time:
//
//   STABLE ──newer target──▶ UNREVOKED_PARTITIONS ──owned no longer lists them──▶ (next step)
//     ▲                        (keeps its epoch; its assignment already lacks the partitions)
//     │
//     └── target epoch, all partitions given ◀── UNRELEASED_PARTITIONS (waits for others' revocations)
//
// A partition is given to a member only when no other member holds it (its partition epoch is
// -1): the previous owner must revoke it first.

import type { Assignment } from './consumer-group-assignor.js'

export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable'
export type MemberState = 'stable' | 'unrevoked_partitions' | 'unreleased_partitions'

/** memberEpoch of a member that left (-1) and of a static member that left temporarily (-2). */
export const LEAVE_GROUP_MEMBER_EPOCH = -1
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2

export interface TopicPartitions {
  topicId: string
  partitions: number[]
}

export interface ConsumerGroupMember {
  readonly memberId: string
  readonly instanceId: string | null
  readonly rackId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly rebalanceTimeoutMs: number
  readonly subscribedTopicNames: readonly string[]
  readonly subscribedTopicRegex: string | null
  readonly serverAssignor: string | null
  readonly memberEpoch: number
  readonly previousMemberEpoch: number
  readonly state: MemberState
  /** What the member may own now (sent to it). */
  readonly assigned: Assignment
  /** What it still owns but must give up; its assignment already lacks these. */
  readonly pendingRevocation: Assignment
}

export function newMember(memberId: string): ConsumerGroupMember {
  return {
    memberId,
    instanceId: null,
    rackId: null,
    clientId: '',
    clientHost: '',
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: [],
    subscribedTopicRegex: null,
    serverAssignor: null,
    memberEpoch: 0,
    previousMemberEpoch: 0,
    state: 'stable',
    assigned: new Map(),
    pendingRevocation: new Map(),
  }
}

export function assignmentToList(a: Assignment): TopicPartitions[] {
  return [...a.keys()].sort().map((topicId) => ({ topicId, partitions: [...a.get(topicId)!].sort((x, y) => x - y) }))
}

export function assignmentFromList(list: readonly TopicPartitions[]): Assignment {
  const out: Assignment = new Map()
  for (const tp of list) if (tp.partitions.length > 0) out.set(tp.topicId, new Set(tp.partitions))
  return out
}

export function sameAssignment(a: Assignment, b: Assignment): boolean {
  if (a.size !== b.size) return false
  for (const [t, s] of a) {
    const o = b.get(t)
    if (!o || o.size !== s.size) return false
    for (const p of s) if (!o.has(p)) return false
  }
  return true
}

/** Whether every owned partition is in the assignment (null owned: unknown, so no). */
export function isSubset(owned: readonly TopicPartitions[] | null, assignment: Assignment): boolean {
  if (owned === null) return false
  for (const tp of owned) {
    const s = assignment.get(tp.topicId)
    for (const p of tp.partitions) if (!s?.has(p)) return false
  }
  return true
}

/**
 * One reconciliation step of a member towards its target assignment (Kafka's
 * CurrentAssignmentBuilder). `partitionEpoch` gives the epoch of the member holding a partition,
 * -1 when none does; `owned` is what the member reported in this heartbeat (null: not reported).
 */
export function reconcile(
  member: ConsumerGroupMember,
  targetEpoch: number,
  target: Assignment,
  partitionEpoch: (topicId: string, partition: number) => number,
  owned: readonly TopicPartitions[] | null,
): ConsumerGroupMember {
  switch (member.state) {
    case 'stable':
      if (member.memberEpoch === targetEpoch) return member
      return nextAssignment(member, member.memberEpoch, targetEpoch, target, partitionEpoch)
    case 'unrevoked_partitions':
      // Revoked partitions count as released once the member no longer reports them.
      if (ownsAny(owned, member.pendingRevocation)) return member
      return nextAssignment(member, member.memberEpoch, targetEpoch, target, partitionEpoch)
    case 'unreleased_partitions':
      return nextAssignment(member, member.memberEpoch, targetEpoch, target, partitionEpoch)
  }
}

function ownsAny(owned: readonly TopicPartitions[] | null, partitions: Assignment): boolean {
  if (owned === null) return true
  for (const tp of owned) {
    const s = partitions.get(tp.topicId)
    if (s && tp.partitions.some((p) => s.has(p))) return true
  }
  return false
}

function nextAssignment(
  member: ConsumerGroupMember,
  memberEpoch: number,
  targetEpoch: number,
  target: Assignment,
  partitionEpoch: (topicId: string, partition: number) => number,
): ConsumerGroupMember {
  let unreleased = false
  const assigned: Assignment = new Map()
  const revoking: Assignment = new Map()
  const toAssign: Assignment = new Map()
  const topics = new Set([...target.keys(), ...member.assigned.keys()])
  for (const t of topics) {
    const want = target.get(t) ?? new Set<number>()
    const have = member.assigned.get(t) ?? new Set<number>()
    const keep = new Set([...have].filter((p) => want.has(p)))
    const revoke = new Set([...have].filter((p) => !want.has(p)))
    const add = new Set<number>()
    for (const p of want) {
      if (keep.has(p)) continue
      if (partitionEpoch(t, p) !== -1) unreleased = true
      else add.add(p)
    }
    if (keep.size > 0) assigned.set(t, keep)
    if (revoke.size > 0) revoking.set(t, revoke)
    if (add.size > 0) toAssign.set(t, add)
  }
  if (revoking.size > 0) {
    // Revoke first: the member keeps its epoch until it confirms the revocation.
    return { ...member, state: 'unrevoked_partitions', ...epochs(member, memberEpoch), assigned, pendingRevocation: revoking }
  }
  for (const [t, add] of toAssign) assigned.set(t, new Set([...(assigned.get(t) ?? []), ...add]))
  return { ...member, state: unreleased ? 'unreleased_partitions' : 'stable', ...epochs(member, targetEpoch), assigned, pendingRevocation: new Map() }
}

function epochs(member: ConsumerGroupMember, epoch: number): { memberEpoch: number; previousMemberEpoch: number } {
  return epoch === member.memberEpoch
    ? { memberEpoch: member.memberEpoch, previousMemberEpoch: member.previousMemberEpoch }
    : { memberEpoch: epoch, previousMemberEpoch: member.memberEpoch }
}

export class ConsumerGroup {
  groupEpoch = 0
  /** The epoch the target assignment was computed for. */
  assignmentEpoch = 0
  readonly members = new Map<string, ConsumerGroupMember>()
  /** instance id → member id */
  readonly staticMembers = new Map<string, string>()
  /** member id → target assignment */
  targetAssignment = new Map<string, Assignment>()
  /** topic id → partition → epoch of the member holding it (assigned or pending revocation) */
  private readonly partitionEpochs = new Map<string, Map<number, number>>()
  /** The subscribed topics as last seen (names, ids, partition counts); a change bumps the epoch. */
  subscriptionSignature = ''
  /** The group epoch moved on without a record of it (after a restart). */
  epochUnpersisted = false

  constructor(readonly groupId: string) {}

  get state(): ConsumerGroupState {
    if (this.members.size === 0) return 'Empty'
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning'
    for (const m of this.members.values()) if (m.memberEpoch !== this.assignmentEpoch || m.state !== 'stable') return 'Reconciling'
    return 'Stable'
  }

  currentPartitionEpoch(topicId: string, partition: number): number {
    return this.partitionEpochs.get(topicId)?.get(partition) ?? -1
  }

  /** Adds or replaces a member, moving the partition epochs it holds. */
  putMember(m: ConsumerGroupMember): void {
    const old = this.members.get(m.memberId)
    if (old) this.releasePartitions(old)
    this.members.set(m.memberId, m)
    if (m.instanceId !== null) this.staticMembers.set(m.instanceId, m.memberId)
    for (const a of [m.assigned, m.pendingRevocation]) {
      for (const [t, ps] of a) {
        let byP = this.partitionEpochs.get(t)
        if (!byP) this.partitionEpochs.set(t, (byP = new Map()))
        for (const p of ps) byP.set(p, m.memberEpoch)
      }
    }
  }

  removeMember(memberId: string): ConsumerGroupMember | undefined {
    const m = this.members.get(memberId)
    if (!m) return undefined
    this.releasePartitions(m)
    this.members.delete(memberId)
    this.targetAssignment.delete(memberId)
    if (m.instanceId !== null && this.staticMembers.get(m.instanceId) === memberId) this.staticMembers.delete(m.instanceId)
    return m
  }

  private releasePartitions(m: ConsumerGroupMember): void {
    for (const a of [m.assigned, m.pendingRevocation]) {
      for (const [t, ps] of a) {
        const byP = this.partitionEpochs.get(t)
        if (!byP) continue
        for (const p of ps) byP.delete(p)
        if (byP.size === 0) this.partitionEpochs.delete(t)
      }
    }
  }

  staticMember(instanceId: string): ConsumerGroupMember | undefined {
    const id = this.staticMembers.get(instanceId)
    return id === undefined ? undefined : this.members.get(id)
  }

  /** The assignor most members name, or the default (Kafka's computePreferredServerAssignor). */
  preferredAssignor(defaultName: string, order: readonly string[]): string {
    const votes = new Map<string, number>()
    for (const m of this.members.values()) if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1)
    let best: string | null = null
    for (const name of order) {
      const n = votes.get(name) ?? 0
      if (n > 0 && (best === null || n > votes.get(best)!)) best = name
    }
    return best ?? defaultName
  }
}
