// SyncGroup: the leader hands out the assignment; every member waits for its own.

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'

export const syncGroupHandler = defineHandler(Apis.SyncGroup, async (ctx, req) => {
  const r = await ctx.broker.groups.sync({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: req.groupInstanceId ?? null,
    protocolType: req.protocolType ?? null,
    protocolName: req.protocolName ?? null,
    assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
  })
  return { throttleTimeMs: 0, errorCode: r.errorCode, protocolType: r.protocolType, protocolName: r.protocolName, assignment: r.assignment }
})
