// ListGroups: every group, filtered by state (v4+) and type (v5+: classic or consumer).

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'

export const listGroupsHandler = defineHandler(Apis.ListGroups, (ctx, req) => {
  const { version } = ctx
  const groups = ctx.broker.groups.list(version >= 4 ? req.statesFilter : [], version >= 5 ? req.typesFilter : [])
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    groups: groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: g.type ?? 'classic' })),
  }
})
