// ListGroups: every group of the partitions this broker coordinates, filtered by state (v4+)
// and type (v5+: classic or consumer); COORDINATOR_LOAD_IN_PROGRESS while one of them loads
// (with the groups known so far, as Kafka answers).

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'

export const listGroupsHandler = defineHandler(Apis.ListGroups, (ctx, req) => {
  const { version } = ctx
  const coordinator = ctx.broker.groups
  const groups = coordinator.list(version >= 4 ? req.statesFilter : [], version >= 5 ? req.typesFilter : [])
  return {
    throttleTimeMs: 0,
    errorCode: coordinator.listErrorCode(),
    groups: groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: g.type ?? 'classic' })),
  }
})
