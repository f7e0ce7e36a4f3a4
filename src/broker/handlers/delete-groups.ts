// DeleteGroups: deletes empty groups with their committed offsets.

import { Apis } from '../../protocol/apis.js'
import { defineHandler } from '../registry.js'

export const deleteGroupsHandler = defineHandler(Apis.DeleteGroups, async (ctx, req) => {
  const codes = await ctx.broker.groups.deleteGroups(req.groupsNames)
  return { throttleTimeMs: 0, results: req.groupsNames.map((groupId, i) => ({ groupId, errorCode: codes[i]! })) }
})
