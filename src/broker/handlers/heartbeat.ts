// Heartbeat: a member of a classic group keeps its session alive and learns of rebalances.

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'

export const heartbeatHandler = defineHandler(Apis.Heartbeat, (ctx, req) => {
  const errorCode = ctx.broker.groups.heartbeat(req.groupId, req.generationId, req.memberId, req.groupInstanceId ?? null)
  return { throttleTimeMs: 0, errorCode }
})
