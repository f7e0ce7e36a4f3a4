// LeaveGroup: one member (v0-2) or a batch of members, possibly by group.instance.id (v3+), leave.

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'

export const leaveGroupHandler = defineHandler(Apis.LeaveGroup, (ctx, req) => {
  const { version } = ctx
  const members = version >= 3
    ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null }))
    : [{ memberId: req.memberId, groupInstanceId: null }]
  const r = ctx.broker.groups.leave(req.groupId, members)
  if (version < 3) return { throttleTimeMs: 0, errorCode: r.errorCode !== 0 ? r.errorCode : r.members[0]?.errorCode ?? 0 }
  return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members }
})
