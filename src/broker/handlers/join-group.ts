// JoinGroup: a member joins a classic group; the answer comes when the join phase completes.

import { Apis } from '../../protocol/apis.js'
import { defineHandler, type RequestContext } from '../registry.js'

/** The client's address as Kafka reports it in DescribeGroups ("/127.0.0.1"). */
export function clientHost(ctx: RequestContext): string {
  const remote = ctx.connection.remote
  const i = remote.lastIndexOf(':')
  return `/${i > 0 ? remote.slice(0, i) : remote}`
}

export const joinGroupHandler = defineHandler(Apis.JoinGroup, async (ctx, req) => {
  const { version } = ctx
  const r = await ctx.broker.groups.join({
    groupId: req.groupId,
    memberId: req.memberId,
    groupInstanceId: req.groupInstanceId ?? null,
    sessionTimeoutMs: req.sessionTimeoutMs,
    rebalanceTimeoutMs: version >= 1 ? req.rebalanceTimeoutMs : -1,
    protocolType: req.protocolType,
    protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
    clientId: ctx.header.clientId ?? '',
    clientHost: clientHost(ctx),
    apiVersion: version,
    reason: req.reason ?? null,
  })
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    protocolType: r.protocolType,
    protocolName: version >= 7 ? r.protocolName : r.protocolName ?? '',
    leader: r.leader,
    skipAssignment: r.skipAssignment,
    memberId: r.memberId,
    members: r.members,
  }
})
