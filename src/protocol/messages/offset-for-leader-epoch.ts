// OffsetForLeaderEpoch: the end offset of a leader epoch, for log truncation after a leader change.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const OffsetForLeaderEpochRequest = message({
  name: 'OffsetForLeaderEpochRequest',
  apiKey: 23,
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: {
    replicaId: field(t.int32, { v: '3+', default: -2 }),
    topics: arrayField({
      topic: field(t.string),
      partitions: arrayField({
        partition: field(t.int32),
        currentLeaderEpoch: field(t.int32, { v: '2+', default: -1 }),
        leaderEpoch: field(t.int32),
      }),
    }),
  },
})

export const OffsetForLeaderEpochResponse = message({
  name: 'OffsetForLeaderEpochResponse',
  apiKey: 23,
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '2+' }),
    topics: arrayField({
      topic: field(t.string),
      partitions: arrayField({
        errorCode: field(t.int16),
        partition: field(t.int32),
        leaderEpoch: field(t.int32, { v: '1+', default: -1 }),
        endOffset: field(t.int64, { default: -1 }),
      }),
    }),
  },
})

export type OffsetForLeaderEpochRequestData = DecodedOf<typeof OffsetForLeaderEpochRequest>
export type OffsetForLeaderEpochRequestInput = InputOf<typeof OffsetForLeaderEpochRequest>
export type OffsetForLeaderEpochResponseData = DecodedOf<typeof OffsetForLeaderEpochResponse>
export type OffsetForLeaderEpochResponseInput = InputOf<typeof OffsetForLeaderEpochResponse>
