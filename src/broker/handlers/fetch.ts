// Fetch: read whole record batches from partitions, long-polling until `minBytes` are available
// or `maxWaitMs` passes. A waiting fetch sits in the delayed queue and is woken by appends to
// any partition it reads, not by polling. Record bytes go out as the buffers storage returned.
// Incremental fetch sessions (KIP-227) let a consumer name only the partitions that changed.
// read_committed (isolationLevel 1) reads up to the last stable offset and lists the aborted
// transactions of the range, so that the client drops their records.
//
// Followers fetch from their leader with a replica id: they read up to the leader's log end
// rather than the high watermark, their fetch offset tells the leader how far they have
// copied (which moves the high watermark), and a lastFetchedEpoch that does not match the
// leader's epoch history is answered with divergingEpoch so the follower truncates first.
// Consumers read from the leader, or (v11+, KIP-392) from a follower the leader pointed them to
// with preferredReadReplica when `replica.selector.class` is rack-aware and their rack has one.
// A follower whose replica a reassignment is adding (not in sync yet) is served within
// leader.replication.throttled.rate: while the leader's quota is in debt it gets no records.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError, type KafkaErrorInfo } from '../../protocol/errors.js'
import type { FetchRequestData } from '../../protocol/messages/fetch.js'
import { UUID_ZERO } from '../../protocol/schema.js'
import type { Broker } from '../broker.js'
import { FINAL_EPOCH, INITIAL_EPOCH, FetchSession, type SessionPartition } from '../fetch-sessions.js'
import { defineHandler } from '../registry.js'
import { intSetting } from '../config.js'
import { checkLeaderEpoch } from '../broker.js'
import type { PartitionReplica } from '../../replication/partition-replica.js'
import { isThrottledReplica } from '../../replication/quota.js'

const READ_COMMITTED = 1
const RACK_AWARE_SELECTOR = 'org.apache.kafka.common.replica.RackAwareReplicaSelector'

/** The last stable offset each session partition was last told (a change is news). */
const sentLso = new WeakMap<SessionPartition, number>()

interface Target {
  topic: string
  topicId: string
  partition: number
  fetchOffset: number
  maxBytes: number
  currentLeaderEpoch: number
  lastFetchedEpoch: number
  /** set when the topic could not be resolved */
  error?: KafkaErrorInfo
  session?: SessionPartition
}

interface PartitionAnswer {
  partitionIndex: number
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  abortedTransactions: { producerId: number; firstOffset: number }[] | null
  records: Buffer[]
  divergingEpoch?: { epoch: number; endOffset: number }
  preferredReadReplica?: number
}

/** Who is fetching: a consumer (replicaId -1) or a follower, and the consumer's rack. */
interface Fetcher {
  replicaId: number
  rackId: string
  version: number
}

interface Plan {
  targets: Target[]
  sessionId: number
  incremental: boolean
  error?: KafkaErrorInfo
}

function resolveTopic(broker: Broker, version: number, t: { topic: string; topicId: string }): { name: string; id: string; error?: KafkaErrorInfo } {
  if (version >= 13) {
    const rec = broker.metadata.topicById(t.topicId)
    return rec ? { name: rec.name, id: rec.id } : { name: '', id: t.topicId, error: ErrorCode.UNKNOWN_TOPIC_ID }
  }
  const rec = broker.metadata.topic(t.topic)
  return { name: t.topic, id: rec?.id ?? UUID_ZERO }
}

function requestTargets(broker: Broker, version: number, req: FetchRequestData): Target[] {
  const out: Target[] = []
  for (const t of req.topics) {
    const r = resolveTopic(broker, version, t)
    for (const p of t.partitions) {
      out.push({
        topic: r.name, topicId: r.id, partition: p.partition, fetchOffset: p.fetchOffset, maxBytes: p.partitionMaxBytes, error: r.error,
        currentLeaderEpoch: version >= 9 ? p.currentLeaderEpoch : -1, lastFetchedEpoch: version >= 12 ? p.lastFetchedEpoch : -1,
      })
    }
  }
  return out
}

/** Applies KIP-227's rules to decide which partitions this fetch reads and what session it uses. */
function replicaIdOf(version: number, req: FetchRequestData): number {
  return version >= 15 ? req.replicaState.replicaId : req.replicaId
}

function plan(broker: Broker, version: number, req: FetchRequestData): Plan {
  const sessions = broker.fetchSessions
  const { sessionId, sessionEpoch } = req
  if (version < 7 || replicaIdOf(version, req) >= 0) return { targets: requestTargets(broker, version, req), sessionId: 0, incremental: false }
  if (sessionEpoch === FINAL_EPOCH || sessionEpoch === INITIAL_EPOCH) {
    if (sessionId !== 0) sessions.remove(sessionId)
    const targets = requestTargets(broker, version, req)
    if (sessionEpoch === FINAL_EPOCH) return { targets, sessionId: 0, incremental: false }
    const session = sessions.create()
    if (session) for (const t of targets) t.session = remember(session, t)
    return { targets, sessionId: session?.id ?? 0, incremental: false }
  }
  const session = sessions.get(sessionId)
  if (!session) return { targets: [], sessionId: 0, incremental: true, error: ErrorCode.FETCH_SESSION_ID_NOT_FOUND }
  if (session.epoch !== sessionEpoch) return { targets: [], sessionId, incremental: true, error: ErrorCode.INVALID_FETCH_SESSION_EPOCH }
  session.epoch = session.epoch === 2 ** 31 - 1 ? 1 : session.epoch + 1
  for (const f of req.forgottenTopicsData) {
    const r = resolveTopic(broker, version, f)
    for (const p of f.partitions) session.partitions.delete(FetchSession.key(r.name, p))
  }
  for (const t of requestTargets(broker, version, req)) remember(session, t)
  const targets: Target[] = []
  for (const sp of session.partitions.values()) {
    targets.push({ topic: sp.topic, topicId: sp.topicId, partition: sp.partition, fetchOffset: sp.fetchOffset, maxBytes: sp.maxBytes, session: sp, currentLeaderEpoch: sp.currentLeaderEpoch ?? -1, lastFetchedEpoch: -1 })
  }
  return { targets, sessionId, incremental: true }
}

function remember(session: FetchSession, t: Target): SessionPartition {
  const key = FetchSession.key(t.topic, t.partition)
  let sp = session.partitions.get(key)
  if (!sp) {
    sp = { topic: t.topic, topicId: t.topicId, partition: t.partition, fetchOffset: t.fetchOffset, maxBytes: t.maxBytes, sentHighWatermark: -1, sentLogStartOffset: -1 }
    session.partitions.set(key, sp)
  } else {
    sp.fetchOffset = t.fetchOffset
    sp.maxBytes = t.maxBytes
  }
  sp.currentLeaderEpoch = t.currentLeaderEpoch
  return sp
}

/** The replica this fetch reads from, or the error the fetcher should see. */
function replicaFor(broker: Broker, t: Target, who: Fetcher): PartitionReplica {
  if (who.replicaId >= 0 || who.version < 11) return broker.leaderReplica(t.topic, t.partition, t.currentLeaderEpoch)
  // KIP-392: consumers may read from any replica here, leader or follower
  const replica = broker.replicas.get(t.topic, t.partition)
  if (!replica) return broker.leaderReplica(t.topic, t.partition, t.currentLeaderEpoch) // throws the right error
  checkLeaderEpoch(replica, t.currentLeaderEpoch)
  return replica
}

/** Kafka's RackAwareReplicaSelector: an in-sync replica in the consumer's rack, when the leader is not in it. */
function preferredReplica(broker: Broker, replica: PartitionReplica, who: Fetcher): number {
  if (who.replicaId >= 0 || who.version < 11 || !who.rackId || !replica.isLeader) return -1
  if (broker.settings['replica.selector.class'] !== RACK_AWARE_SELECTOR || broker.rack === who.rackId) return -1
  const image = broker.link.image
  for (const id of replica.state.isr) {
    const b = image.brokers.get(id)
    if (b && !b.fenced && b.rack === who.rackId) return id
  }
  return -1
}

async function readOne(broker: Broker, t: Target, budget: number, minOneBatch: boolean, isolation: number, who: Fetcher): Promise<PartitionAnswer> {
  const answer: PartitionAnswer = {
    // records is never null: librdkafka rejects a null message set
    partitionIndex: t.partition, errorCode: 0, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, abortedTransactions: null, records: [],
  }
  if (t.error) {
    answer.errorCode = t.error.code
    return answer
  }
  let replica: PartitionReplica
  try {
    replica = replicaFor(broker, t, who)
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err
    answer.errorCode = err.code
    return answer
  }
  const log = replica.log
  const follower = who.replicaId >= 0
  const logEnd = log.writtenEndOffset
  answer.highWatermark = replica.hw
  answer.lastStableOffset = Math.min(log.lastStableOffset, replica.hw)
  answer.logStartOffset = log.logStartOffset
  const preferred = preferredReplica(broker, replica, who)
  if (preferred >= 0 && preferred !== broker.brokerId) {
    answer.preferredReadReplica = preferred
    return answer
  }
  if (t.lastFetchedEpoch >= 0) {
    // The fetcher's last batch has this epoch: if our history ends that epoch earlier, its log
    // diverged. A diverging follower's offset says nothing about what it holds: it does not count.
    const end = log.endOffsetForEpoch(t.lastFetchedEpoch)
    if (end.epoch < 0 || end.endOffset < 0) {
      answer.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE.code
      return answer
    }
    if (end.epoch < t.lastFetchedEpoch || end.endOffset < t.fetchOffset) {
      answer.divergingEpoch = { epoch: end.epoch, endOffset: end.endOffset }
      return answer
    }
  }
  if (t.fetchOffset < log.logStartOffset || t.fetchOffset > logEnd) {
    answer.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE.code
    return answer
  }
  // A follower's fetch offset is its log end: it moves the high watermark before we answer.
  if (follower && !replica.followerFetched(who.replicaId, t.fetchOffset)) {
    answer.errorCode = ErrorCode.NOT_LEADER_OR_FOLLOWER.code // not a replica of this partition
    return answer
  }
  const hw = replica.hw
  const lso = Math.min(log.lastStableOffset, hw)
  const committed = isolation === READ_COMMITTED
  answer.highWatermark = hw
  answer.lastStableOffset = lso
  if (committed) answer.abortedTransactions = []
  // Followers copy everything written; consumers see only what the ISR has.
  const upper = follower ? logEnd : committed ? lso : hw
  const limit = Math.min(t.maxBytes, budget)
  const throttled = follower && isThrottledReplica(replica.state, who.replicaId)
  if (t.fetchOffset >= upper || (limit <= 0 && !minOneBatch) || (throttled && broker.replicas.leaderQuota.exceeded())) {
    // Data withheld by the quota: the fetch must not long-poll past the moment it is paid.
    if (throttled && t.fetchOffset < upper) heldByQuota.add(answer)
    answer.records = []
    return answer
  }
  try {
    const read = await log.read(t.fetchOffset, Math.max(limit, 0), upper)
    answer.records = !minOneBatch && read.bytes > limit ? [] : read.batches
    if (throttled) broker.replicas.leaderQuota.record(bytesOf(answer))
    if (committed && answer.records.length > 0) answer.abortedTransactions = log.abortedTransactions(t.fetchOffset, upper)
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err
    answer.errorCode = err.code
  }
  return answer
}

/** Answers left empty only because the leader's replication quota is in debt. */
const heldByQuota = new WeakSet<PartitionAnswer>()

function bytesOf(a: PartitionAnswer): number {
  let n = 0
  if (a.records) for (const b of a.records) n += b.length
  return n
}

async function collect(broker: Broker, p: Plan, maxBytes: number, isolation: number, who: Fetcher): Promise<{ answers: PartitionAnswer[]; bytes: number; errors: boolean; held: boolean }> {
  let wanted = 0
  for (const t of p.targets) wanted += t.maxBytes
  let answers: PartitionAnswer[]
  if (wanted <= maxBytes) {
    // The partitions' limits fit in the response: read them all at once (the reads overlap in
    // the thread pool), then apply the same rules as a sequential walk below.
    answers = await Promise.all(p.targets.map((t) => readOne(broker, t, t.maxBytes, true, isolation, who)))
  } else {
    answers = []
    let sofar = 0
    for (const t of p.targets) {
      const a = await readOne(broker, t, maxBytes - sofar, sofar === 0, isolation, who)
      answers.push(a)
      sofar += bytesOf(a)
    }
  }
  // Only the first partition with data may exceed its limit (KIP-74), and the total stays within maxBytes.
  let bytes = 0
  let errors = false
  p.targets.forEach((t, i) => {
    const a = answers[i]!
    const n = bytesOf(a)
    if (n > 0 && bytes > 0 && (n > t.maxBytes || bytes + n > maxBytes)) {
      a.records = []
      if (a.abortedTransactions) a.abortedTransactions = []
    } else bytes += n
    if (a.errorCode !== 0) errors = true
  })
  return { answers, bytes, errors, held: answers.some((a) => heldByQuota.has(a)) }
}

function respond(version: number, p: Plan, answers: PartitionAnswer[]) {
  const responses: { topic: string; topicId: string; partitions: PartitionAnswer[] }[] = []
  let current: (typeof responses)[number] | undefined
  p.targets.forEach((t, i) => {
    const a = answers[i]!
    if (p.incremental && t.session) {
      // an incremental answer carries only partitions with news
      const news = a.errorCode !== 0 || bytesOf(a) > 0 || a.preferredReadReplica !== undefined || a.divergingEpoch !== undefined || a.highWatermark !== t.session.sentHighWatermark || a.logStartOffset !== t.session.sentLogStartOffset || a.lastStableOffset !== sentLso.get(t.session)
      if (!news) return
    }
    if (t.session) {
      t.session.sentHighWatermark = a.highWatermark
      t.session.sentLogStartOffset = a.logStartOffset
      sentLso.set(t.session, a.lastStableOffset)
    }
    const sameTopic = current && (version >= 13 ? current.topicId === t.topicId : current.topic === t.topic)
    if (!sameTopic) responses.push((current = { topic: t.topic, topicId: t.topicId, partitions: [] }))
    current!.partitions.push(a)
  })
  return { throttleTimeMs: 0, errorCode: 0, sessionId: p.sessionId, responses }
}

export const fetchHandler = defineHandler(Apis.Fetch, async (ctx, req) => {
  const { broker, version } = ctx
  const p = plan(broker, version, req)
  if (p.error) return { throttleTimeMs: 0, errorCode: p.error.code, sessionId: 0, responses: [] }
  const maxBytes = Math.min(version >= 3 ? req.maxBytes : 2 ** 31 - 1, intSetting(broker.settings, 'fetch.max.bytes'))
  const isolation = version >= 4 ? req.isolationLevel : 0
  const who: Fetcher = { replicaId: replicaIdOf(version, req), rackId: version >= 11 ? req.rackId : '', version }
  const first = await collect(broker, p, maxBytes, isolation, who)
  if (req.maxWaitMs <= 0 || first.bytes >= req.minBytes || first.errors || p.targets.length === 0) {
    return respond(version, p, first.answers)
  }
  // Not enough yet: wait for an append to any of these partitions, or the deadline.
  await new Promise<void>((resolve) => {
    const unsubscribe: (() => void)[] = []
    // A throttled follower's data waits for the leader's quota, not for the whole maxWaitMs
    // (which would cut a reassignment's rate far below the configured one).
    const waitMs = first.held ? Math.min(req.maxWaitMs, Math.max(1, broker.replicas.leaderQuota.msUntilPaid())) : req.maxWaitMs
    const op = {
      deadline: Date.now() + waitMs,
      complete: () => {
        for (const u of unsubscribe) u()
        resolve()
      },
      completed: false,
    }
    let pending = first.bytes
    for (const t of p.targets) {
      const subscribe = who.replicaId >= 0 ? broker.onWritten.bind(broker) : broker.onCommitted.bind(broker)
      unsubscribe.push(subscribe(t.topic, t.partition, (bytes) => {
        // bytes appended since we looked; the exact answer is built after waking
        pending += bytes
        if (pending >= req.minBytes || bytes === 0) broker.delayed.completeEarly(op)
      }))
    }
    broker.delayed.add(op)
  })
  const again = await collect(broker, p, maxBytes, isolation, who)
  return respond(version, p, again.answers)
})
