// DeleteRecords: moves the log start offset of partitions forward.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const DeleteRecordsRequest = message({
  name: 'DeleteRecordsRequest',
  apiKey: 21,
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: {
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        offset: field(t.int64),
      }),
    }),
    timeoutMs: field(t.int32),
  },
})

export const DeleteRecordsResponse = message({
  name: 'DeleteRecordsResponse',
  apiKey: 21,
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: {
    throttleTimeMs: field(t.int32),
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        lowWatermark: field(t.int64),
        errorCode: field(t.int16),
      }),
    }),
  },
})

export type DeleteRecordsRequestData = DecodedOf<typeof DeleteRecordsRequest>
export type DeleteRecordsRequestInput = InputOf<typeof DeleteRecordsRequest>
export type DeleteRecordsResponseData = DecodedOf<typeof DeleteRecordsResponse>
export type DeleteRecordsResponseInput = InputOf<typeof DeleteRecordsResponse>
