// WriteTxnMarkers: the transaction coordinator writes commit/abort markers to partition leaders.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const WriteTxnMarkersRequest = message({
  name: 'WriteTxnMarkersRequest',
  apiKey: 27,
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: {
    markers: arrayField({
      producerId: field(t.int64),
      producerEpoch: field(t.int16),
      transactionResult: field(t.bool),
      topics: arrayField({
        name: field(t.string),
        partitionIndexes: field(t.array(t.int32)),
      }),
      coordinatorEpoch: field(t.int32),
    }),
  },
})

export const WriteTxnMarkersResponse = message({
  name: 'WriteTxnMarkersResponse',
  apiKey: 27,
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: {
    markers: arrayField({
      producerId: field(t.int64),
      topics: arrayField({
        name: field(t.string),
        partitions: arrayField({
          partitionIndex: field(t.int32),
          errorCode: field(t.int16),
        }),
      }),
    }),
  },
})

export type WriteTxnMarkersRequestData = DecodedOf<typeof WriteTxnMarkersRequest>
export type WriteTxnMarkersRequestInput = InputOf<typeof WriteTxnMarkersRequest>
export type WriteTxnMarkersResponseData = DecodedOf<typeof WriteTxnMarkersResponse>
export type WriteTxnMarkersResponseInput = InputOf<typeof WriteTxnMarkersResponse>
