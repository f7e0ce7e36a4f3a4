// SyncGroup: the leader hands out assignments; every member receives its own.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const SyncGroupRequest = message({
  name: 'SyncGroupRequest',
  apiKey: 14,
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: {
    groupId: field(t.string),
    generationId: field(t.int32),
    memberId: field(t.string),
    groupInstanceId: field(t.string, { v: '3+', nullable: '3+' }),
    protocolType: field(t.string, { v: '5+', nullable: '5+' }),
    protocolName: field(t.string, { v: '5+', nullable: '5+' }),
    assignments: arrayField({
      memberId: field(t.string),
      assignment: field(t.bytes),
    }),
  },
})

export const SyncGroupResponse = message({
  name: 'SyncGroupResponse',
  apiKey: 14,
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '1+' }),
    errorCode: field(t.int16),
    protocolType: field(t.string, { v: '5+', nullable: '5+' }),
    protocolName: field(t.string, { v: '5+', nullable: '5+' }),
    assignment: field(t.bytes),
  },
})

export type SyncGroupRequestData = DecodedOf<typeof SyncGroupRequest>
export type SyncGroupRequestInput = InputOf<typeof SyncGroupRequest>
export type SyncGroupResponseData = DecodedOf<typeof SyncGroupResponse>
export type SyncGroupResponseInput = InputOf<typeof SyncGroupResponse>
