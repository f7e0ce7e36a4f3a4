// ListGroups: the groups a coordinator knows, filtered by state and type.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const ListGroupsRequest = message({
  name: 'ListGroupsRequest',
  apiKey: 16,
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: {
    statesFilter: field(t.array(t.string), { v: '4+' }),
    typesFilter: field(t.array(t.string), { v: '5+' }),
  },
})

export const ListGroupsResponse = message({
  name: 'ListGroupsResponse',
  apiKey: 16,
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '1+' }),
    errorCode: field(t.int16),
    groups: arrayField({
      groupId: field(t.string),
      protocolType: field(t.string),
      groupState: field(t.string, { v: '4+' }),
      groupType: field(t.string, { v: '5+' }),
    }),
  },
})

export type ListGroupsRequestData = DecodedOf<typeof ListGroupsRequest>
export type ListGroupsRequestInput = InputOf<typeof ListGroupsRequest>
export type ListGroupsResponseData = DecodedOf<typeof ListGroupsResponse>
export type ListGroupsResponseInput = InputOf<typeof ListGroupsResponse>
