// DescribeGroups: state, protocol and members of classic groups.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const DescribeGroupsRequest = message({
  name: 'DescribeGroupsRequest',
  apiKey: 15,
  validVersions: '0-5',
  flexibleVersions: '5+',
  fields: {
    groups: field(t.array(t.string)),
    includeAuthorizedOperations: field(t.bool, { v: '3+' }),
  },
})

export const DescribeGroupsResponse = message({
  name: 'DescribeGroupsResponse',
  apiKey: 15,
  validVersions: '0-5',
  flexibleVersions: '5+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '1+' }),
    groups: arrayField({
      errorCode: field(t.int16),
      groupId: field(t.string),
      groupState: field(t.string),
      protocolType: field(t.string),
      protocolData: field(t.string),
      members: arrayField({
        memberId: field(t.string),
        groupInstanceId: field(t.string, { v: '4+', nullable: '4+' }),
        clientId: field(t.string),
        clientHost: field(t.string),
        memberMetadata: field(t.bytes),
        memberAssignment: field(t.bytes),
      }),
      authorizedOperations: field(t.int32, { v: '3+', default: -2147483648 }),
    }),
  },
})

export type DescribeGroupsRequestData = DecodedOf<typeof DescribeGroupsRequest>
export type DescribeGroupsRequestInput = InputOf<typeof DescribeGroupsRequest>
export type DescribeGroupsResponseData = DecodedOf<typeof DescribeGroupsResponse>
export type DescribeGroupsResponseInput = InputOf<typeof DescribeGroupsResponse>
