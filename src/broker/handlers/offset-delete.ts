// OffsetDelete: deletes a group's committed offsets of some partitions, unless the group is
// live and subscribed to the topic.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

export const offsetDeleteHandler = defineHandler(Apis.OffsetDelete, async (ctx, req) => {
  const { broker } = ctx
  const wanted: { topic: string; partition: number }[] = []
  const exists: boolean[] = []
  for (const t of req.topics) {
    for (const p of t.partitions) {
      const known = broker.partition(t.name, p.partitionIndex) !== undefined
      exists.push(known)
      if (known) wanted.push({ topic: t.name, partition: p.partitionIndex })
    }
  }
  const r = await broker.groups.deleteOffsets(req.groupId, wanted)
  if (r.errorCode !== 0) return { errorCode: r.errorCode, throttleTimeMs: 0, topics: [] }
  let i = 0
  let k = 0
  return {
    errorCode: 0,
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        errorCode: exists[i++] ? r.partitions[k++]! : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code,
      })),
    })),
  }
})
