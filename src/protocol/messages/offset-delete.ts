// OffsetDelete: deletes committed offsets of a group for some partitions.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const OffsetDeleteRequest = message({
  name: 'OffsetDeleteRequest',
  apiKey: 47,
  validVersions: '0',
  flexibleVersions: 'none',
  fields: {
    groupId: field(t.string),
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
      }),
    }),
  },
})

export const OffsetDeleteResponse = message({
  name: 'OffsetDeleteResponse',
  apiKey: 47,
  validVersions: '0',
  flexibleVersions: 'none',
  fields: {
    errorCode: field(t.int16),
    throttleTimeMs: field(t.int32),
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        errorCode: field(t.int16),
      }),
    }),
  },
})

export type OffsetDeleteRequestData = DecodedOf<typeof OffsetDeleteRequest>
export type OffsetDeleteRequestInput = InputOf<typeof OffsetDeleteRequest>
export type OffsetDeleteResponseData = DecodedOf<typeof OffsetDeleteResponse>
export type OffsetDeleteResponseInput = InputOf<typeof OffsetDeleteResponse>
