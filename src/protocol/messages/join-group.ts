// JoinGroup: a member joins a classic consumer group and takes part in a rebalance.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const JoinGroupRequest = message({
  name: 'JoinGroupRequest',
  apiKey: 11,
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: {
    groupId: field(t.string),
    sessionTimeoutMs: field(t.int32),
    rebalanceTimeoutMs: field(t.int32, { v: '1+', default: -1 }),
    memberId: field(t.string),
    groupInstanceId: field(t.string, { v: '5+', nullable: '5+' }),
    protocolType: field(t.string),
    protocols: arrayField({
      name: field(t.string),
      metadata: field(t.bytes),
    }),
    reason: field(t.string, { v: '8+', nullable: '8+' }),
  },
})

export const JoinGroupResponse = message({
  name: 'JoinGroupResponse',
  apiKey: 11,
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '2+' }),
    errorCode: field(t.int16),
    generationId: field(t.int32, { default: -1 }),
    protocolType: field(t.string, { v: '7+', nullable: '7+' }),
    protocolName: field(t.string, { nullable: '7+', default: '' }),
    leader: field(t.string),
    skipAssignment: field(t.bool, { v: '9+' }),
    memberId: field(t.string),
    members: arrayField({
      memberId: field(t.string),
      groupInstanceId: field(t.string, { v: '5+', nullable: '5+' }),
      metadata: field(t.bytes),
    }),
  },
})

export type JoinGroupRequestData = DecodedOf<typeof JoinGroupRequest>
export type JoinGroupRequestInput = InputOf<typeof JoinGroupRequest>
export type JoinGroupResponseData = DecodedOf<typeof JoinGroupResponse>
export type JoinGroupResponseInput = InputOf<typeof JoinGroupResponse>
