// Server-side assignors of the KIP-848 consumer group protocol, after Kafka's UniformAssignor
// and RangeAssignor (group-coordinator module). They are pure: members with the topic ids they
// subscribe to and their current target assignment in, a new target assignment out.
//
// - uniform (the default): balanced and sticky. With identical subscriptions every member gets
//   floor(P/M) or one more partition, keeping as many of its current partitions as that allows;
//   with different subscriptions partitions go to the least loaded subscriber, then partitions
//   move from the most to the least loaded eligible member until no move helps.
// - range: per topic, the subscribers in member id order get consecutive ranges, so topics with
//   the same partition count are co-partitioned.
// Racks are not taken into account.

/** Topic id → partitions. */
export type Assignment = Map<string, Set<number>>

export interface AssignmentMemberSpec {
  memberId: string
  /** Ids of the topics the member subscribes to (existing topics only). */
  topics: ReadonlySet<string>
  /** Its current target assignment, for stickiness. */
  current: Assignment
}

export interface AssignmentSpec {
  members: AssignmentMemberSpec[]
  /** Topic id → partition count, for every subscribed topic. */
  partitionCounts: ReadonlyMap<string, number>
}

export interface ServerAssignor {
  readonly name: string
  assign(spec: AssignmentSpec): Map<string, Assignment>
}

const byMemberId = (a: AssignmentMemberSpec, b: AssignmentMemberSpec) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0)

/** Mutable assignment state shared by both strategies of the uniform assignor. */
class Builder {
  readonly out = new Map<string, Assignment>()
  readonly counts = new Map<string, number>()
  /** "topicId:partition" → member id */
  readonly owner = new Map<string, string>()

  constructor(members: AssignmentMemberSpec[]) {
    for (const m of members) {
      this.out.set(m.memberId, new Map())
      this.counts.set(m.memberId, 0)
    }
  }

  add(memberId: string, topicId: string, partition: number): void {
    const a = this.out.get(memberId)!
    let s = a.get(topicId)
    if (!s) a.set(topicId, (s = new Set()))
    s.add(partition)
    this.counts.set(memberId, this.counts.get(memberId)! + 1)
    this.owner.set(`${topicId}:${partition}`, memberId)
  }

  remove(memberId: string, topicId: string, partition: number): void {
    const a = this.out.get(memberId)!
    const s = a.get(topicId)!
    s.delete(partition)
    if (s.size === 0) a.delete(topicId)
    this.counts.set(memberId, this.counts.get(memberId)! - 1)
    this.owner.delete(`${topicId}:${partition}`)
  }

  owned(topicId: string, partition: number): boolean {
    return this.owner.has(`${topicId}:${partition}`)
  }

  count(memberId: string): number {
    return this.counts.get(memberId)!
  }
}

/** The member's current partitions that are still valid for it, in a stable order. */
function retainable(m: AssignmentMemberSpec, counts: ReadonlyMap<string, number>): [string, number][] {
  const out: [string, number][] = []
  for (const topicId of [...m.current.keys()].sort()) {
    if (!m.topics.has(topicId)) continue
    const n = counts.get(topicId) ?? 0
    for (const p of [...m.current.get(topicId)!].sort((a, b) => a - b)) if (p < n) out.push([topicId, p])
  }
  return out
}

function allPartitions(topics: Iterable<string>, counts: ReadonlyMap<string, number>): [string, number][] {
  const out: [string, number][] = []
  for (const topicId of [...topics].sort()) {
    const n = counts.get(topicId) ?? 0
    for (let p = 0; p < n; p++) out.push([topicId, p])
  }
  return out
}

function sameTopics(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false
  for (const t of a) if (!b.has(t)) return false
  return true
}

export const uniformAssignor: ServerAssignor = {
  name: 'uniform',
  assign(spec) {
    const members = [...spec.members].sort(byMemberId)
    const b = new Builder(members)
    if (members.length === 0) return b.out
    const first = members[0]!
    if (members.every((m) => sameTopics(m.topics, first.topics))) assignHomogeneous(b, members, spec.partitionCounts)
    else assignHeterogeneous(b, members, spec.partitionCounts)
    return b.out
  },
}

function assignHomogeneous(b: Builder, members: AssignmentMemberSpec[], counts: ReadonlyMap<string, number>): void {
  const all = allPartitions(members[0]!.topics, counts)
  const base = Math.floor(all.length / members.length)
  let extra = all.length % members.length
  const leftovers = new Map<string, [string, number][]>()
  // 1. Each member keeps up to its minimum quota of its current partitions...
  for (const m of members) {
    const keep = retainable(m, counts).filter(([t, p]) => !b.owned(t, p))
    for (const [t, p] of keep.slice(0, base)) b.add(m.memberId, t, p)
    leftovers.set(m.memberId, keep.slice(base))
  }
  // 2. ...and one more while members with one more than the minimum are still allowed.
  for (const m of members) {
    if (extra === 0) break
    const next = leftovers.get(m.memberId)!.find(([t, p]) => !b.owned(t, p))
    if (next) {
      b.add(m.memberId, next[0], next[1])
      extra--
    }
  }
  // 3. The partitions left go to members below their quota.
  const free = all.filter(([t, p]) => !b.owned(t, p))
  let i = 0
  for (const m of members) while (b.count(m.memberId) < base && i < free.length) b.add(m.memberId, ...free[i++]!)
  for (const m of members) {
    if (extra === 0 || i >= free.length) break
    if (b.count(m.memberId) === base) {
      b.add(m.memberId, ...free[i++]!)
      extra--
    }
  }
}

function assignHeterogeneous(b: Builder, members: AssignmentMemberSpec[], counts: ReadonlyMap<string, number>): void {
  const subscribers = new Map<string, AssignmentMemberSpec[]>()
  for (const m of members) for (const t of m.topics) {
    let list = subscribers.get(t)
    if (!list) subscribers.set(t, (list = []))
    list.push(m)
  }
  // 1. Sticky: every member keeps its current partitions that are still valid.
  for (const m of members) for (const [t, p] of retainable(m, counts)) if (!b.owned(t, p)) b.add(m.memberId, t, p)
  // 2. Free partitions, topics with the fewest subscribers first, go to the least loaded subscriber.
  const leastLoaded = (list: AssignmentMemberSpec[]): AssignmentMemberSpec => list.reduce((best, m) => (b.count(m.memberId) < b.count(best.memberId) ? m : best))
  const topics = [...subscribers.keys()].sort((x, y) => subscribers.get(x)!.length - subscribers.get(y)!.length || (x < y ? -1 : x > y ? 1 : 0))
  for (const t of topics) {
    const n = counts.get(t) ?? 0
    for (let p = 0; p < n; p++) if (!b.owned(t, p)) b.add(leastLoaded(subscribers.get(t)!).memberId, t, p)
  }
  // 3. Balance: move a partition to an eligible member with at least two fewer partitions until
  // no such move exists (each move lowers the sum of squared counts, so this ends).
  for (let moved = true; moved; ) {
    moved = false
    for (const t of topics) {
      const n = counts.get(t) ?? 0
      for (let p = 0; p < n; p++) {
        const from = b.owner.get(`${t}:${p}`)!
        const to = leastLoaded(subscribers.get(t)!)
        if (b.count(to.memberId) + 1 < b.count(from)) {
          b.remove(from, t, p)
          b.add(to.memberId, t, p)
          moved = true
        }
      }
    }
  }
}

export const rangeAssignor: ServerAssignor = {
  name: 'range',
  assign(spec) {
    const members = [...spec.members].sort(byMemberId)
    const b = new Builder(members)
    const topics = new Set<string>()
    for (const m of members) for (const t of m.topics) topics.add(t)
    for (const t of [...topics].sort()) {
      const subs = members.filter((m) => m.topics.has(t))
      const n = spec.partitionCounts.get(t) ?? 0
      const quota = Math.floor(n / subs.length)
      const extra = n % subs.length
      let start = 0
      subs.forEach((m, i) => {
        const len = quota + (i < extra ? 1 : 0)
        for (let p = start; p < start + len; p++) b.add(m.memberId, t, p)
        start += len
      })
    }
    return b.out
  },
}

export const SERVER_ASSIGNORS: readonly ServerAssignor[] = [uniformAssignor, rangeAssignor]
