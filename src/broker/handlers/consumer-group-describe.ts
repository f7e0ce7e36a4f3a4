// ConsumerGroupDescribe (KIP-848): epochs, assignor, members with their current and target
// assignments. Classic or unknown group ids answer GROUP_ID_NOT_FOUND.

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'

export const consumerGroupDescribeHandler = defineHandler(Apis.ConsumerGroupDescribe, (ctx, req) => {
  const groups = ctx.broker.groups.consumerGroups
  const described = groups
    ? groups.describeGroups(req.groupIds)
    : req.groupIds.map((groupId) => ({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND.code, errorMessage: null, groupId, groupState: 'Dead', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [] }))
  return {
    throttleTimeMs: 0,
    groups: described.map((g) => ({ ...g, authorizedOperations: -2147483648 })),
  }
})
