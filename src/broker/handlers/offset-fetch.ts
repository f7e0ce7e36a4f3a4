// OffsetFetch: committed offsets of one group (v0-7) or several (v8+); topics=null (v2+) asks
// for every partition the group committed. requireStable (v7+): a partition with a transactional
// commit still pending answers UNSTABLE_OFFSET_COMMIT, and the client retries. A group this broker
// does not coordinate (NOT_COORDINATOR), or whose partition is loading
// (COORDINATOR_LOAD_IN_PROGRESS), is a group-level error from v2 on, with no topics (as Kafka);
// v0-1 have no such field and carry the error in every partition asked for.

import { Apis } from '../../protocol/apis.js'
import type { FetchedOffset } from '../../coordinator/index.js'
import { defineHandler } from '../registry.js'

function byTopic(offsets: FetchedOffset[]) {
  const topics = new Map<string, { name: string; partitions: { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; metadata: string | null; errorCode: number }[] }>()
  for (const o of offsets) {
    let t = topics.get(o.topic)
    if (!t) topics.set(o.topic, (t = { name: o.topic, partitions: [] }))
    t.partitions.push({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: o.errorCode })
  }
  return [...topics.values()]
}

export const offsetFetchHandler = defineHandler(Apis.OffsetFetch, (ctx, req) => {
  const { broker, version } = ctx
  const groups = broker.groups
  if (version < 8) {
    if (version >= 2) {
      const errorCode = groups.coordinatorError(req.groupId)
      if (errorCode !== 0) return { throttleTimeMs: 0, errorCode, topics: [] }
    }
    // v0-1 cannot ask for all topics: an empty list there means none.
    const wanted = req.topics === null ? null : req.topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes }))
    return { throttleTimeMs: 0, errorCode: 0, topics: byTopic(groups.fetchOffsets(req.groupId, wanted, version >= 7 && req.requireStable)) }
  }
  return {
    throttleTimeMs: 0,
    groups: req.groups.map((g) => {
      const errorCode = groups.coordinatorError(g.groupId)
      if (errorCode !== 0) return { groupId: g.groupId, errorCode, topics: [] }
      return {
        groupId: g.groupId,
        errorCode: 0,
        topics: byTopic(groups.fetchOffsets(g.groupId, g.topics === null ? null : g.topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes })), req.requireStable)),
      }
    }),
  }
})
