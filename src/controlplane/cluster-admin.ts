// Operator actions on a running cluster through the Kafka protocol, as an operator tool would do
// them (kafka-reassign-partitions.sh, kafka-leader-election.sh, kafka-log-dirs.sh): partitions
// that are under-replicated, balanced reassignment plans for a scale-out, draining brokers before
// a scale-in, waiting for reassignments, the replication throttle, preferred-leader election,
// log-dir usage and a broker's live volume size; and the topic work behind the MSK topics API
// (kafka-topics.sh / kafka-configs.sh: Metadata, DescribeConfigs, CreateTopics, CreatePartitions,
// IncrementalAlterConfigs, DeleteTopics). Plans are pure functions (tested alone); the rest sends
// requests with our own client (src/cli/kafka-client.ts).

import { Apis } from '../protocol/apis.js'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import { ClientError, KafkaClient, check } from '../cli/kafka-client.js'
import { UUID_ZERO } from '../protocol/schema.js'

const TOPIC_RESOURCE = 2
const BROKER_RESOURCE = 4
const OP_SET = 0
const OP_DELETE = 1
const POLL_MS = 100

export interface PartitionState {
  topic: string
  partition: number
  leader: number
  replicas: number[]
  isr: number[]
  internal: boolean
}

/** A topic as Metadata lists it. */
export interface TopicView {
  name: string
  internal: boolean
  /** By partition id. */
  partitions: Array<{ partition: number; leader: number; replicas: number[]; isr: number[] }>
}

export interface BrokerPlace {
  id: number
  rack: string | null
}

/** One partition's new replica list (the first is the preferred leader). */
export interface Move {
  topic: string
  partition: number
  replicas: number[]
}

export interface ClusterView {
  brokers: BrokerPlace[]
  partitions: PartitionState[]
  controllerId: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Thrown by a wait when the control plane closes: the operation stays where it was, to be resumed. */
export class Aborted extends Error {
  override name = 'Aborted'
  constructor() {
    super('the control plane is closing')
  }
}

/** Whether an error means "try again": the broker restarts, moves leadership, or is not up yet. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ClientError) return true
  if (err instanceof KafkaError) return err.error.retriable || err.code === ErrorCode.NOT_CONTROLLER.code || err.code === ErrorCode.BROKER_NOT_AVAILABLE.code
  return false
}

/**
 * A connection to one cluster that reconnects on failure: every call gets a fresh client when the
 * last one broke (brokers restart under a rolling change).
 */
export class ClusterAdmin {
  #client: KafkaClient | null = null
  readonly #requestTimeoutMs: number
  readonly #aborted: () => boolean

  constructor(private readonly bootstrap: () => string, opts: { requestTimeoutMs?: number; aborted?: () => boolean } = {}) {
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? 10_000
    this.#aborted = opts.aborted ?? (() => false)
  }

  /** Sleeps, then throws Aborted when the control plane is closing. */
  async pause(ms: number): Promise<void> {
    await sleep(ms)
    if (this.#aborted()) throw new Aborted()
  }

  async #withClient<T>(fn: (c: KafkaClient) => Promise<T>): Promise<T> {
    if (!this.#client) this.#client = await KafkaClient.connect(this.bootstrap(), { clientId: 'fjord-controlplane', requestTimeoutMs: this.#requestTimeoutMs })
    try {
      return await fn(this.#client)
    } catch (err) {
      if (err instanceof ClientError) await this.reset()
      throw err
    }
  }

  /** Retries `fn` on transient failures until `deadline` (ms since epoch). */
  async retry<T>(what: string, deadline: number, fn: (c: KafkaClient) => Promise<T>): Promise<T> {
    let delay = 50
    for (;;) {
      if (this.#aborted()) throw new Aborted()
      try {
        return await this.#withClient(fn)
      } catch (err) {
        if (!isTransient(err) || Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`, { cause: err })
        await this.reset()
        await this.pause(delay)
        delay = Math.min(delay * 2, 1000)
      }
    }
  }

  async reset(): Promise<void> {
    const c = this.#client
    this.#client = null
    if (c) await c.close().catch(() => {})
  }

  close(): Promise<void> {
    return this.reset()
  }

  /** Live brokers (Metadata) and every partition of every topic. */
  async view(deadline = Date.now() + 30_000): Promise<ClusterView> {
    return this.retry('Metadata', deadline, async (c) => {
      const md = await c.metadata(null)
      const partitions: PartitionState[] = []
      for (const t of md.topics) {
        check(t.errorCode, null, `topic ${t.name}`)
        for (const p of t.partitions) {
          partitions.push({ topic: t.name ?? '', partition: p.partitionIndex, leader: p.leaderId, replicas: [...p.replicaNodes], isr: [...p.isrNodes], internal: t.isInternal })
        }
      }
      partitions.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
      return { brokers: md.brokers.map((b) => ({ id: b.nodeId, rack: b.rack })).sort((a, b) => a.id - b.id), partitions, controllerId: md.controllerId }
    })
  }

  /** Waits until Metadata lists exactly these broker ids (all of them registered and unfenced). */
  async waitBrokers(ids: readonly number[], deadline: number): Promise<void> {
    const want = [...ids].sort((a, b) => a - b).join(',')
    let seen = ''
    for (;;) {
      try {
        const v = await this.view(deadline)
        seen = v.brokers.map((b) => b.id).join(',')
        if (seen === want) return
      } catch (err) {
        if (Date.now() > deadline) throw err
      }
      if (Date.now() > deadline) throw new Error(`the cluster's metadata lists brokers [${seen}], expected [${want}]`)
      await this.pause(POLL_MS)
    }
  }

  /** Waits until every partition has a leader and its ISR holds all its replicas. */
  async waitInSync(deadline: number): Promise<void> {
    let last: PartitionState[] = []
    for (;;) {
      try {
        last = underReplicated((await this.view(deadline)).partitions)
        if (last.length === 0) return
      } catch (err) {
        if (Date.now() > deadline) throw err
      }
      if (Date.now() > deadline) {
        throw new Error(`${last.length} partitions still under-replicated, e.g. ${last.slice(0, 3).map((p) => `${p.topic}-${p.partition} replicas [${p.replicas}] isr [${p.isr}] leader ${p.leader}`).join('; ')}`)
      }
      await this.pause(POLL_MS * 2)
    }
  }

  /** Starts the moves (AlterPartitionReassignments); partitions whose replicas already match are skipped. */
  async reassign(moves: readonly Move[], deadline: number): Promise<void> {
    if (moves.length === 0) return
    const byTopic = new Map<string, Move[]>()
    for (const m of moves) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m])
    await this.retry('AlterPartitionReassignments', deadline, async (c) => {
      const { body } = await c.any.send(Apis.AlterPartitionReassignments, () => ({
        timeoutMs: 30_000,
        topics: [...byTopic].map(([name, ms]) => ({ name, partitions: ms.map((m) => ({ partitionIndex: m.partition, replicas: m.replicas })) })),
      }))
      check(body.errorCode, body.errorMessage, 'AlterPartitionReassignments')
      for (const t of body.responses) for (const p of t.partitions) check(p.errorCode, p.errorMessage, `reassigning ${t.name}-${p.partitionIndex}`)
    })
  }

  /** Partitions with a reassignment in progress. */
  async listReassignments(deadline: number): Promise<Move[]> {
    return this.retry('ListPartitionReassignments', deadline, async (c) => {
      const { body } = await c.any.send(Apis.ListPartitionReassignments, () => ({ timeoutMs: 30_000, topics: null }))
      check(body.errorCode, body.errorMessage, 'ListPartitionReassignments')
      return body.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, replicas: [...p.replicas] })))
    })
  }

  /** Waits until no reassignment is in progress and every moved partition has exactly its target replicas. */
  async waitReassignments(moves: readonly Move[], deadline: number): Promise<void> {
    const want = new Map(moves.map((m) => [`${m.topic}:${m.partition}`, m.replicas.join(',')]))
    for (;;) {
      const pending = await this.listReassignments(deadline)
      if (pending.length === 0) {
        const v = await this.view(deadline)
        const wrong = v.partitions.filter((p) => want.has(`${p.topic}:${p.partition}`) && want.get(`${p.topic}:${p.partition}`) !== p.replicas.join(','))
        if (wrong.length === 0) return
        if (Date.now() > deadline) throw new Error(`reassignment ended but ${wrong.length} partitions do not have their target replicas, e.g. ${wrong[0]!.topic}-${wrong[0]!.partition} [${wrong[0]!.replicas}]`)
      } else if (Date.now() > deadline) {
        throw new Error(`${pending.length} reassignments still in progress, e.g. ${pending[0]!.topic}-${pending[0]!.partition}`)
      }
      await this.pause(POLL_MS * 2)
    }
  }

  /** Preferred-leader election for every partition (ElectLeaders type 0); partitions already led by their preferred replica are fine. */
  async electPreferredLeaders(deadline: number): Promise<void> {
    await this.retry('ElectLeaders', deadline, async (c) => {
      const { body, version } = await c.any.send(Apis.ElectLeaders, () => ({ electionType: 0, topicPartitions: null, timeoutMs: 30_000 }))
      if (version >= 1) check(body.errorCode, null, 'ElectLeaders')
      for (const t of body.replicaElectionResults) {
        for (const p of t.partitionResult) {
          // ELECTION_NOT_NEEDED: already led by its preferred replica; PREFERRED_LEADER_NOT_AVAILABLE: not in sync yet (the controller's rebalance catches up later)
          if (p.errorCode === 0 || p.errorCode === ErrorCode.ELECTION_NOT_NEEDED.code || p.errorCode === ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE.code) continue
          check(p.errorCode, p.errorMessage, `electing the preferred leader of ${t.topic}-${p.partitionId}`)
        }
      }
    })
  }

  /**
   * A broker's log dirs (DescribeLogDirs sent to it): bytes used by its partitions, and the
   * volume's total when the broker reports one (v4, -1 otherwise).
   */
  async logDirUsage(brokerId: number, deadline: number): Promise<{ usedBytes: number; totalBytes: number; partitions: number }> {
    return this.retry(`DescribeLogDirs at broker ${brokerId}`, deadline, async (c) => {
      const conn = await c.node(brokerId)
      const { body, version } = await conn.send(Apis.DescribeLogDirs, () => ({ topics: null }))
      if (version >= 3) check(body.errorCode, null, `DescribeLogDirs at broker ${brokerId}`)
      let usedBytes = 0
      let totalBytes = -1
      let partitions = 0
      for (const d of body.results) {
        check(d.errorCode, null, `log dir ${d.logDir} of broker ${brokerId}`)
        for (const t of d.topics) for (const p of t.partitions) {
          usedBytes += Number(p.partitionSize)
          partitions++
        }
        if (Number(d.totalBytes) >= 0) totalBytes = Math.max(totalBytes, 0) + Number(d.totalBytes)
      }
      return { usedBytes, totalBytes, partitions }
    })
  }

  /** Sets (value) or removes (null) broker settings live on one broker (IncrementalAlterConfigs, BROKER `<id>`). */
  async alterBrokerConfig(brokerId: number, settings: Record<string, string | null>, deadline: number): Promise<void> {
    await this.retry(`IncrementalAlterConfigs at broker ${brokerId}`, deadline, async (c) => {
      const conn = await c.node(brokerId)
      const { body } = await conn.send(Apis.IncrementalAlterConfigs, () => ({
        resources: [{
          resourceType: BROKER_RESOURCE,
          resourceName: String(brokerId),
          configs: Object.entries(settings).map(([name, value]) => ({ name, configOperation: value === null ? OP_DELETE : OP_SET, value })),
        }],
        validateOnly: false,
      }))
      for (const r of body.responses) check(r.errorCode, r.errorMessage, `setting ${Object.keys(settings).join(', ')} on broker ${brokerId}`)
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Topics (the MSK topics API). Reads retry transient failures until `deadline`; writes are sent
  // once (a CreateTopics retried after a timeout could answer TOPIC_ALREADY_EXISTS for its own
  // topic), so their failures reach the caller as the broker said them.

  /**
   * Topics as Metadata lists them (names null: every topic), sorted by name; a name Kafka does
   * not know (UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION) is left out.
   */
  async topics(names: readonly string[] | null, deadline: number): Promise<TopicView[]> {
    return this.retry('Metadata', deadline, async (c) => {
      const md = await c.metadata(names)
      const out: TopicView[] = []
      for (const t of md.topics) {
        if (t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code || t.errorCode === ErrorCode.INVALID_TOPIC_EXCEPTION.code) continue
        // LEADER_NOT_AVAILABLE: the topic exists, its leaders are being elected.
        if (t.errorCode !== ErrorCode.LEADER_NOT_AVAILABLE.code) check(t.errorCode, null, `topic ${t.name}`)
        out.push({
          name: t.name ?? '',
          internal: t.isInternal,
          partitions: t.partitions
            .map((p) => ({ partition: p.partitionIndex, leader: p.leaderId, replicas: [...p.replicaNodes], isr: [...p.isrNodes] }))
            .sort((a, b) => a.partition - b.partition),
        })
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    })
  }

  /** A topic's configs (DescribeConfigs on the TOPIC): every entry with a value, defaults included. */
  async topicConfigs(name: string, deadline: number): Promise<Record<string, string>> {
    return this.retry(`DescribeConfigs of topic ${name}`, deadline, async (c) => {
      const { body } = await c.any.send(Apis.DescribeConfigs, () => ({
        resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configurationKeys: null }],
        includeSynonyms: false,
        includeDocumentation: false,
      }))
      const r = body.results[0]
      if (!r) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'DescribeConfigs returned no result')
      check(r.errorCode, r.errorMessage, `configs of topic ${name}`)
      const out: Record<string, string> = {}
      for (const e of [...r.configs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        if (e.value !== null && !e.isSensitive) out[e.name] = e.value
      }
      return out
    })
  }

  /** Partitions of `topic` with a reassignment in progress. */
  async topicReassignments(topic: string, deadline: number): Promise<number> {
    return this.retry('ListPartitionReassignments', deadline, async (c) => {
      const { body } = await c.any.send(Apis.ListPartitionReassignments, () => ({ timeoutMs: 10_000, topics: null }))
      check(body.errorCode, body.errorMessage, 'ListPartitionReassignments')
      return body.topics.filter((t) => t.name === topic).reduce((n, t) => n + t.partitions.length, 0)
    })
  }

  /** CreateTopics for one topic; throws the broker's KafkaError (TOPIC_ALREADY_EXISTS, INVALID_REPLICATION_FACTOR, …). */
  async createTopic(name: string, partitions: number, replicationFactor: number, configs: Record<string, string>, deadline: number): Promise<void> {
    await this.#once('CreateTopics', deadline, async (c) => {
      const { body } = await c.any.send(Apis.CreateTopics, () => ({
        topics: [{ name, numPartitions: partitions, replicationFactor, assignments: [], configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })) }],
        timeoutMs: Math.max(1000, deadline - Date.now()),
        validateOnly: false,
      }))
      const t = body.topics[0]
      if (!t) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'CreateTopics returned no result')
      check(t.errorCode, t.errorMessage, `creating topic ${name}`)
    })
  }

  /** Grows a topic to `count` partitions (CreatePartitions). */
  async createPartitions(name: string, count: number, deadline: number): Promise<void> {
    await this.#once('CreatePartitions', deadline, async (c) => {
      const { body } = await c.any.send(Apis.CreatePartitions, () => ({
        topics: [{ name, count, assignments: null }],
        timeoutMs: Math.max(1000, deadline - Date.now()),
        validateOnly: false,
      }))
      const r = body.results[0]
      if (!r) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'CreatePartitions returned no result')
      check(r.errorCode, r.errorMessage, `adding partitions to topic ${name}`)
    })
  }

  /** Sets (value) or removes (null: back to the default) a topic's configs (IncrementalAlterConfigs on the TOPIC). */
  async alterTopicConfigs(name: string, settings: Record<string, string | null>, deadline: number): Promise<void> {
    await this.retry(`IncrementalAlterConfigs of topic ${name}`, deadline, async (c) => {
      const { body } = await c.any.send(Apis.IncrementalAlterConfigs, () => ({
        resources: [{
          resourceType: TOPIC_RESOURCE,
          resourceName: name,
          configs: Object.entries(settings).map(([k, value]) => ({ name: k, configOperation: value === null ? OP_DELETE : OP_SET, value })),
        }],
        validateOnly: false,
      }))
      const r = body.responses[0]
      if (!r) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'IncrementalAlterConfigs returned no result')
      check(r.errorCode, r.errorMessage, `setting ${Object.keys(settings).join(', ')} on topic ${name}`)
    })
  }

  /** DeleteTopics for one topic, by name. */
  async deleteTopic(name: string, deadline: number): Promise<void> {
    await this.#once('DeleteTopics', deadline, async (c) => {
      const timeoutMs = Math.max(1000, deadline - Date.now())
      const { body } = await c.any.send(Apis.DeleteTopics, (v) =>
        v >= 6 ? { topics: [{ name, topicId: UUID_ZERO }], timeoutMs } : { topicNames: [name], timeoutMs })
      const r = body.responses[0]
      if (!r) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'DeleteTopics returned no result')
      check(r.errorCode, r.errorMessage, `deleting topic ${name}`)
    })
  }

  /** One attempt; only a failure to connect at all (nothing was sent) is tried again until `deadline`. */
  async #once<T>(what: string, deadline: number, fn: (c: KafkaClient) => Promise<T>): Promise<T> {
    let sent = false
    let delay = 50
    for (;;) {
      try {
        return await this.#withClient((c) => {
          sent = true
          return fn(c)
        })
      } catch (err) {
        if (sent || !(err instanceof ClientError) || Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`, { cause: err })
        await this.pause(delay)
        delay = Math.min(delay * 2, 1000)
      }
    }
  }
}

/** Partitions whose ISR lacks a replica, or that have no leader. */
export function underReplicated(partitions: readonly PartitionState[]): PartitionState[] {
  return partitions.filter((p) => p.leader < 0 || p.replicas.some((r) => !p.isr.includes(r)))
}

// -----------------------------------------------------------------------------------------------
// Plans

function countBy(partitions: readonly { replicas: number[] }[], brokers: readonly number[], leadersOnly: boolean): Map<number, number> {
  const n = new Map(brokers.map((b) => [b, 0]))
  for (const p of partitions) {
    for (const r of leadersOnly ? p.replicas.slice(0, 1) : p.replicas) if (n.has(r)) n.set(r, n.get(r)! + 1)
  }
  return n
}

/** Whether `to` can take the replica of `p` that `from` holds: not already a replica, and its rack not used by the others (unless `from` shares it). */
function fits(p: { replicas: number[] }, from: number, to: number, rack: Map<number, string | null>): boolean {
  if (p.replicas.includes(to)) return false
  const r = rack.get(to) ?? null
  if (r === null || r === (rack.get(from) ?? null)) return true
  return !p.replicas.some((x) => x !== from && rack.get(x) === r)
}

/**
 * The moves that spread replicas (and preferred leaders) evenly over `brokers`: replicas go from
 * the most loaded brokers to the least loaded ones, same rack first, never putting two replicas of
 * a partition in one rack that were not there before; then the preferred leader of partitions is
 * swapped within their replica list until each broker leads about as many as the others.
 * Brokers absent from `brokers` keep what they hold (use drainPlan to empty them).
 */
export function balancePlan(partitions: readonly PartitionState[], brokers: readonly BrokerPlace[]): Move[] {
  const ids = brokers.map((b) => b.id)
  const rack = new Map(brokers.map((b) => [b.id, b.rack]))
  const work = partitions.map((p) => ({ topic: p.topic, partition: p.partition, replicas: [...p.replicas], orig: p.replicas.join(',') }))
  const total = work.reduce((s, p) => s + p.replicas.filter((r) => rack.has(r)).length, 0)
  const ceil = Math.ceil(total / ids.length)
  const floor = Math.floor(total / ids.length)
  for (let guard = 0; guard < total * 4; guard++) {
    const load = countBy(work, ids, false)
    const sorted = [...ids].sort((a, b) => load.get(b)! - load.get(a)! || b - a)
    const most = sorted[0]!
    const least = sorted[sorted.length - 1]!
    if (load.get(most)! <= ceil && load.get(least)! >= floor) break
    if (load.get(most)! - load.get(least)! <= 1) break
    // Receivers in order of need: same rack as the giver first.
    let moved = false
    const givers = sorted.filter((b) => load.get(b)! > floor)
    const takers = [...sorted].reverse().filter((b) => load.get(b)! < ceil)
    outer: for (const from of givers) {
      const byRack = [...takers].sort((a, b) => Number(rack.get(b) === rack.get(from)) - Number(rack.get(a) === rack.get(from)) || load.get(a)! - load.get(b)!)
      for (const to of byRack) {
        if (to === from || load.get(from)! - load.get(to)! <= 1) continue
        // Prefer moving follower replicas of partitions not moved yet (less data copied twice).
        const candidates = work.filter((p) => p.replicas.includes(from) && fits(p, from, to, rack))
        candidates.sort((a, b) => Number(a.replicas[0] === from) - Number(b.replicas[0] === from))
        const p = candidates[0]
        if (!p) continue
        p.replicas[p.replicas.indexOf(from)] = to
        moved = true
        break outer
      }
    }
    if (!moved) break
  }
  balanceLeaders(work, ids)
  return work.filter((p) => p.replicas.join(',') !== p.orig).map(({ topic, partition, replicas }) => ({ topic, partition, replicas }))
}

/** Reorders replica lists so that each broker is the preferred leader of about the same number of partitions. */
function balanceLeaders(work: { replicas: number[] }[], ids: readonly number[]): void {
  const ceil = Math.ceil(work.length / ids.length)
  for (let guard = 0; guard < work.length * 2; guard++) {
    const lead = countBy(work, ids, true)
    const over = ids.filter((b) => lead.get(b)! > ceil).sort((a, b) => lead.get(b)! - lead.get(a)!)
    if (over.length === 0) return
    let swapped = false
    for (const from of over) {
      for (const p of work) {
        if (p.replicas[0] !== from) continue
        const i = p.replicas.findIndex((r, k) => k > 0 && lead.has(r) && lead.get(r)! < ceil)
        if (i < 0) continue
        const to = p.replicas[i]!
        p.replicas[i] = from
        p.replicas[0] = to
        swapped = true
        break
      }
      if (swapped) break
    }
    if (!swapped) return
  }
}

/**
 * The moves that take every replica off `leaving`, onto the remaining brokers: same rack first,
 * then the least loaded whose rack the partition does not use yet. Throws when a partition has
 * more replicas than brokers remain.
 */
export function drainPlan(partitions: readonly PartitionState[], brokers: readonly BrokerPlace[], leaving: readonly number[]): Move[] {
  const stay = brokers.filter((b) => !leaving.includes(b.id)).map((b) => b.id)
  const rack = new Map(brokers.map((b) => [b.id, b.rack]))
  const load = countBy(partitions, stay, false)
  const moves: Move[] = []
  for (const p of partitions) {
    if (!p.replicas.some((r) => leaving.includes(r))) continue
    if (p.replicas.length > stay.length) {
      throw new Error(`${p.topic}-${p.partition} has ${p.replicas.length} replicas but only ${stay.length} brokers would remain`)
    }
    const replicas = [...p.replicas]
    for (let i = 0; i < replicas.length; i++) {
      const from = replicas[i]!
      if (!leaving.includes(from)) continue
      const options = stay.filter((b) => !replicas.includes(b))
      const score = (b: number) => {
        const r = rack.get(b) ?? null
        const sameRack = r !== null && r === rack.get(from)
        const rackFree = !replicas.some((x, k) => k !== i && rack.get(x) === r)
        return (sameRack ? 0 : rackFree ? 1 : 2) * 1e9 + load.get(b)! * 1e3 + b
      }
      options.sort((a, b) => score(a) - score(b))
      const to = options[0]!
      replicas[i] = to
      load.set(to, load.get(to)! + 1)
    }
    moves.push({ topic: p.topic, partition: p.partition, replicas })
  }
  return moves
}

/**
 * Brokers to remove for a scale-in to `target` brokers: the same number from each zone (zones
 * with more brokers first), highest ids first.
 */
export function brokersToRemove(brokers: readonly { id: number; zone: string }[], target: number): number[] {
  const byZone = new Map<string, number[]>()
  for (const b of brokers) byZone.set(b.zone, [...(byZone.get(b.zone) ?? []), b.id])
  for (const ids of byZone.values()) ids.sort((a, b) => b - a)
  const out: number[] = []
  let remaining = brokers.length
  while (remaining > target) {
    const zone = [...byZone.entries()].sort((a, b) => b[1].length - a[1].length || Math.max(...b[1]) - Math.max(...a[1]))[0]!
    out.push(zone[1].shift()!)
    remaining--
  }
  return out.sort((a, b) => a - b)
}
