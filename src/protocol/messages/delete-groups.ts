// DeleteGroups: deletes empty groups and their offsets.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const DeleteGroupsRequest = message({
  name: 'DeleteGroupsRequest',
  apiKey: 42,
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: {
    groupsNames: field(t.array(t.string)),
  },
})

export const DeleteGroupsResponse = message({
  name: 'DeleteGroupsResponse',
  apiKey: 42,
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: {
    throttleTimeMs: field(t.int32),
    results: arrayField({
      groupId: field(t.string),
      errorCode: field(t.int16),
    }),
  },
})

export type DeleteGroupsRequestData = DecodedOf<typeof DeleteGroupsRequest>
export type DeleteGroupsRequestInput = InputOf<typeof DeleteGroupsRequest>
export type DeleteGroupsResponseData = DecodedOf<typeof DeleteGroupsResponse>
export type DeleteGroupsResponseInput = InputOf<typeof DeleteGroupsResponse>
