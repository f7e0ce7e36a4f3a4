// ConsumerGroupHeartbeat (KIP-848): a member of a consumer-protocol group joins (epoch 0),
// heartbeats, reports the partitions it owns and receives its assignment, or leaves (-1, -2).

import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { defineHandler } from '../registry.js'
import { clientHost } from './join-group.js'

export const consumerGroupHeartbeatHandler = defineHandler(Apis.ConsumerGroupHeartbeat, async (ctx, req) => {
  const groups = ctx.broker.groups.consumerGroups
  const r = groups
    ? await groups.heartbeat({
        groupId: req.groupId,
        memberId: req.memberId,
        memberEpoch: req.memberEpoch,
        instanceId: req.instanceId,
        rackId: req.rackId,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
        subscribedTopicNames: req.subscribedTopicNames,
        subscribedTopicRegex: ctx.version >= 1 ? req.subscribedTopicRegex : null,
        serverAssignor: req.serverAssignor,
        topicPartitions: req.topicPartitions,
        clientId: ctx.header.clientId ?? '',
        clientHost: clientHost(ctx),
        apiVersion: ctx.version,
      })
    : { errorCode: ErrorCode.UNSUPPORTED_VERSION.code, errorMessage: null, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null }
  return { throttleTimeMs: 0, ...r }
})
