// Fetch: read whole record batches from partitions, long-polling until `minBytes` are available
// or `maxWaitMs` passes. A waiting fetch sits in the delayed queue and is woken by appends to
// any partition it reads, not by polling. Record bytes go out as the buffers storage returned.
// Incremental fetch sessions (KIP-227) let a consumer name only the partitions that changed.
// read_committed (isolationLevel 1) reads up to the last stable offset and lists the aborted
// transactions of the range, so that the client drops their records.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError, type KafkaErrorInfo } from '../../protocol/errors.js'
import type { FetchRequestData } from '../../protocol/messages/fetch.js'
import { UUID_ZERO } from '../../protocol/schema.js'
import type { Broker } from '../broker.js'
import { FINAL_EPOCH, INITIAL_EPOCH, FetchSession, type SessionPartition } from '../fetch-sessions.js'
import { defineHandler } from '../registry.js'
import { intSetting } from '../config.js'

const READ_COMMITTED = 1

/** The last stable offset each session partition was last told (a change is news). */
const sentLso = new WeakMap<SessionPartition, number>()

interface Target {
  topic: string
  topicId: string
  partition: number
  fetchOffset: number
  maxBytes: number
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
      out.push({ topic: r.name, topicId: r.id, partition: p.partition, fetchOffset: p.fetchOffset, maxBytes: p.partitionMaxBytes, error: r.error })
    }
  }
  return out
}

/** Applies KIP-227's rules to decide which partitions this fetch reads and what session it uses. */
function plan(broker: Broker, version: number, req: FetchRequestData): Plan {
  const sessions = broker.fetchSessions
  const { sessionId, sessionEpoch } = req
  if (version < 7 || req.replicaId >= 0) return { targets: requestTargets(broker, version, req), sessionId: 0, incremental: false }
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
    targets.push({ topic: sp.topic, topicId: sp.topicId, partition: sp.partition, fetchOffset: sp.fetchOffset, maxBytes: sp.maxBytes, session: sp })
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
  return sp
}

async function readOne(broker: Broker, t: Target, budget: number, minOneBatch: boolean, isolation: number): Promise<PartitionAnswer> {
  const answer: PartitionAnswer = {
    // records is never null: librdkafka rejects a null message set
    partitionIndex: t.partition, errorCode: 0, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, abortedTransactions: null, records: [],
  }
  if (t.error) {
    answer.errorCode = t.error.code
    return answer
  }
  const log = broker.partition(t.topic, t.partition)
  if (!log) {
    answer.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
    return answer
  }
  const hw = broker.highWatermark(log)
  const lso = Math.min(log.lastStableOffset, hw)
  const committed = isolation === READ_COMMITTED
  answer.highWatermark = hw
  answer.lastStableOffset = lso
  answer.logStartOffset = log.logStartOffset
  if (t.fetchOffset < log.logStartOffset || t.fetchOffset > hw) {
    answer.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE.code
    return answer
  }
  if (committed) answer.abortedTransactions = []
  const upper = committed ? lso : hw
  const limit = Math.min(t.maxBytes, budget)
  if (t.fetchOffset >= upper || (limit <= 0 && !minOneBatch)) {
    answer.records = []
    return answer
  }
  try {
    const read = await log.read(t.fetchOffset, Math.max(limit, 0), upper)
    answer.records = !minOneBatch && read.bytes > limit ? [] : read.batches
    if (committed && answer.records.length > 0) answer.abortedTransactions = log.abortedTransactions(t.fetchOffset, upper)
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err
    answer.errorCode = err.code
  }
  return answer
}

function bytesOf(a: PartitionAnswer): number {
  let n = 0
  if (a.records) for (const b of a.records) n += b.length
  return n
}

async function collect(broker: Broker, p: Plan, maxBytes: number, isolation: number): Promise<{ answers: PartitionAnswer[]; bytes: number; errors: boolean }> {
  let wanted = 0
  for (const t of p.targets) wanted += t.maxBytes
  let answers: PartitionAnswer[]
  if (wanted <= maxBytes) {
    // The partitions' limits fit in the response: read them all at once (the reads overlap in
    // the thread pool), then apply the same rules as a sequential walk below.
    answers = await Promise.all(p.targets.map((t) => readOne(broker, t, t.maxBytes, true, isolation)))
  } else {
    answers = []
    let sofar = 0
    for (const t of p.targets) {
      const a = await readOne(broker, t, maxBytes - sofar, sofar === 0, isolation)
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
  return { answers, bytes, errors }
}

function respond(version: number, p: Plan, answers: PartitionAnswer[]) {
  const responses: { topic: string; topicId: string; partitions: PartitionAnswer[] }[] = []
  let current: (typeof responses)[number] | undefined
  p.targets.forEach((t, i) => {
    const a = answers[i]!
    if (p.incremental && t.session) {
      // an incremental answer carries only partitions with news
      const news = a.errorCode !== 0 || bytesOf(a) > 0 || a.highWatermark !== t.session.sentHighWatermark || a.logStartOffset !== t.session.sentLogStartOffset || a.lastStableOffset !== sentLso.get(t.session)
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
  const first = await collect(broker, p, maxBytes, isolation)
  if (req.maxWaitMs <= 0 || first.bytes >= req.minBytes || first.errors || p.targets.length === 0) {
    return respond(version, p, first.answers)
  }
  // Not enough yet: wait for an append to any of these partitions, or the deadline.
  await new Promise<void>((resolve) => {
    const unsubscribe: (() => void)[] = []
    const op = {
      deadline: Date.now() + req.maxWaitMs,
      complete: () => {
        for (const u of unsubscribe) u()
        resolve()
      },
      completed: false,
    }
    let pending = first.bytes
    for (const t of p.targets) {
      unsubscribe.push(broker.onAppend(t.topic, t.partition, (bytes) => {
        // bytes appended since we looked; the exact answer is built after waking
        pending += bytes
        if (pending >= req.minBytes || !broker.partition(t.topic, t.partition)) broker.delayed.completeEarly(op)
      }))
    }
    broker.delayed.add(op)
  })
  const again = await collect(broker, p, maxBytes, isolation)
  return respond(version, p, again.answers)
})
