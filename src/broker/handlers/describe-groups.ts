// DescribeGroups: state, protocol and members of classic groups; an unknown group is Dead.

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'

export const describeGroupsHandler = defineHandler(Apis.DescribeGroups, (ctx, req) => {
  return {
    throttleTimeMs: 0,
    groups: req.groups.map((id) => {
      const d = ctx.broker.groups.describe(id)
      return {
        errorCode: d.errorCode,
        groupId: d.groupId,
        groupState: d.state,
        protocolType: d.protocolType,
        protocolData: d.protocolData,
        members: d.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.metadata,
          memberAssignment: m.assignment,
        })),
        authorizedOperations: -2147483648,
      }
    }),
  }
})
