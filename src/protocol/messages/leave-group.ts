// LeaveGroup: members leave a classic group.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const LeaveGroupRequest = message({
  name: 'LeaveGroupRequest',
  apiKey: 13,
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: {
    groupId: field(t.string),
    memberId: field(t.string, { v: '0-2' }),
    members: arrayField({
      memberId: field(t.string, { v: '3+' }),
      groupInstanceId: field(t.string, { v: '3+', nullable: '3+' }),
      reason: field(t.string, { v: '5+', nullable: '5+' }),
    }, { v: '3+' }),
  },
})

export const LeaveGroupResponse = message({
  name: 'LeaveGroupResponse',
  apiKey: 13,
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '1+' }),
    errorCode: field(t.int16),
    members: arrayField({
      memberId: field(t.string, { v: '3+' }),
      groupInstanceId: field(t.string, { v: '3+', nullable: '3+', default: '' }),
      errorCode: field(t.int16, { v: '3+' }),
    }, { v: '3+' }),
  },
})

export type LeaveGroupRequestData = DecodedOf<typeof LeaveGroupRequest>
export type LeaveGroupRequestInput = InputOf<typeof LeaveGroupRequest>
export type LeaveGroupResponseData = DecodedOf<typeof LeaveGroupResponse>
export type LeaveGroupResponseInput = InputOf<typeof LeaveGroupResponse>
