// ConsumerGroupHeartbeat: the KIP-848 consumer group protocol, joining and heartbeating in one.

import { arrayField, field, message, structField, t, type DecodedOf, type InputOf } from '../schema.js'

export const ConsumerGroupHeartbeatRequest = message({
  name: 'ConsumerGroupHeartbeatRequest',
  apiKey: 68,
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: {
    groupId: field(t.string),
    memberId: field(t.string),
    memberEpoch: field(t.int32),
    instanceId: field(t.string, { nullable: '0+' }),
    rackId: field(t.string, { nullable: '0+' }),
    rebalanceTimeoutMs: field(t.int32, { default: -1 }),
    subscribedTopicNames: field(t.array(t.string), { nullable: '0+' }),
    subscribedTopicRegex: field(t.string, { v: '1+', nullable: '1+' }),
    serverAssignor: field(t.string, { nullable: '0+' }),
    topicPartitions: arrayField({
      topicId: field(t.uuid),
      partitions: field(t.array(t.int32)),
    }, { nullable: '0+' }),
  },
})

const topicPartitionsFields = {
  topicId: field(t.uuid),
  partitions: field(t.array(t.int32)),
}

export const ConsumerGroupHeartbeatResponse = message({
  name: 'ConsumerGroupHeartbeatResponse',
  apiKey: 68,
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: {
    throttleTimeMs: field(t.int32),
    errorCode: field(t.int16),
    errorMessage: field(t.string, { nullable: '0+' }),
    memberId: field(t.string, { nullable: '0+' }),
    memberEpoch: field(t.int32),
    heartbeatIntervalMs: field(t.int32),
    assignment: structField({
      topicPartitions: arrayField(topicPartitionsFields),
    }, { nullable: '0+' }),
  },
})

export type ConsumerGroupHeartbeatRequestData = DecodedOf<typeof ConsumerGroupHeartbeatRequest>
export type ConsumerGroupHeartbeatRequestInput = InputOf<typeof ConsumerGroupHeartbeatRequest>
export type ConsumerGroupHeartbeatResponseData = DecodedOf<typeof ConsumerGroupHeartbeatResponse>
export type ConsumerGroupHeartbeatResponseInput = InputOf<typeof ConsumerGroupHeartbeatResponse>
