// ListOffsets: the earliest (-2), latest (-1) or max-timestamp (-3) offset of a partition, or
// the first offset whose timestamp is at or after a given time. v0 answers in its old shape.
// read_committed (isolationLevel 1, v2+) answers LATEST with the last stable offset and finds
// no timestamp at or beyond it, as Kafka does.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

const LATEST = -1
const EARLIEST = -2
const MAX_TIMESTAMP = -3
const READ_COMMITTED = 1

export const listOffsetsHandler = defineHandler(Apis.ListOffsets, async (ctx, req) => {
  const { broker, version } = ctx
  const committed = version >= 2 && req.isolationLevel === READ_COMMITTED
  const topics = []
  for (const t of req.topics) {
    const partitions = []
    for (const p of t.partitions) {
      const out = { partitionIndex: p.partitionIndex, errorCode: 0, oldStyleOffsets: [] as number[], timestamp: -1, offset: -1, leaderEpoch: -1 }
      try {
        const replica = broker.leaderReplica(t.name, p.partitionIndex, version >= 4 ? p.currentLeaderEpoch : -1)
        const log = replica.log
        out.leaderEpoch = replica.state.leaderEpoch
        const hw = replica.hw
        // A new leader whose high watermark has not yet reached its epoch's start does not know
        // what is committed yet (Kafka: OFFSET_NOT_AVAILABLE, retriable).
        if (hw < replica.epochStartOffset) throw new KafkaError(ErrorCode.OFFSET_NOT_AVAILABLE, `the high watermark of ${t.name}-${p.partitionIndex} is still catching up after a leader change`)
        const fetchable = committed ? Math.min(log.lastStableOffset, hw) : hw
        if (p.timestamp === LATEST) out.offset = fetchable
        else if (p.timestamp === EARLIEST) out.offset = log.logStartOffset
        else if (p.timestamp === MAX_TIMESTAMP) {
          const e = log.maxTimestampEntry()
          if (e) { out.offset = e.offset; out.timestamp = e.timestamp }
        } else if (p.timestamp >= 0) {
          const e = await log.offsetForTimestamp(p.timestamp)
          if (e && (!committed || e.offset < fetchable)) { out.offset = e.offset; out.timestamp = e.timestamp }
        } else throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown special timestamp ${p.timestamp}`)
        if (version === 0) out.oldStyleOffsets = out.offset >= 0 ? [out.offset] : []
      } catch (err) {
        if (!(err instanceof KafkaError)) throw err
        out.errorCode = err.code
      }
      partitions.push(out)
    }
    topics.push({ name: t.name, partitions })
  }
  return { throttleTimeMs: 0, topics }
})
