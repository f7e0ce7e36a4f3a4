// OffsetCommit: members commit with their generation; commits outside group management (v0,
// generation -1 from assign() users, kcat) are accepted for groups without active members.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

export const offsetCommitHandler = defineHandler(Apis.OffsetCommit, async (ctx, req) => {
  const { broker, version } = ctx
  const offsets = []
  const unknown: boolean[] = []
  for (const t of req.topics) {
    for (const p of t.partitions) {
      unknown.push(!broker.partition(t.name, p.partitionIndex))
      offsets.push({
        topic: t.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: version >= 6 ? p.committedLeaderEpoch : -1,
        metadata: p.committedMetadata,
        commitTimestamp: version === 1 ? p.commitTimestamp : undefined,
      })
    }
  }
  const known = offsets.filter((_, i) => !unknown[i])
  const codes = await broker.groups.commitOffsets({
    groupId: req.groupId,
    generationId: version >= 1 ? req.generationIdOrMemberEpoch : -1,
    memberId: version >= 1 ? req.memberId : '',
    groupInstanceId: req.groupInstanceId ?? null,
    retentionTimeMs: version >= 2 && version <= 4 ? req.retentionTimeMs : -1,
    offsets: known,
  })
  let i = 0
  let k = 0
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        errorCode: unknown[i++] ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code : codes[k++]!,
      })),
    })),
  }
})
