// ListOffsets: finds the offset for a timestamp, or the earliest/latest offset, per partition.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const ListOffsetsRequest = message({
  name: 'ListOffsetsRequest',
  apiKey: 2,
  validVersions: '0-10',
  flexibleVersions: '6+',
  fields: {
    replicaId: field(t.int32),
    isolationLevel: field(t.int8, { v: '2+' }),
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        currentLeaderEpoch: field(t.int32, { v: '4+', default: -1 }),
        timestamp: field(t.int64),
        maxNumOffsets: field(t.int32, { v: '0', default: 1 }),
      }),
    }),
    timeoutMs: field(t.int32, { v: '10+' }),
  },
})

export const ListOffsetsResponse = message({
  name: 'ListOffsetsResponse',
  apiKey: 2,
  validVersions: '0-10',
  flexibleVersions: '6+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '2+' }),
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        errorCode: field(t.int16),
        oldStyleOffsets: field(t.array(t.int64), { v: '0' }),
        timestamp: field(t.int64, { v: '1+', default: -1 }),
        offset: field(t.int64, { v: '1+', default: -1 }),
        leaderEpoch: field(t.int32, { v: '4+', default: -1 }),
      }),
    }),
  },
})

export type ListOffsetsRequestData = DecodedOf<typeof ListOffsetsRequest>
export type ListOffsetsRequestInput = InputOf<typeof ListOffsetsRequest>
export type ListOffsetsResponseData = DecodedOf<typeof ListOffsetsResponse>
export type ListOffsetsResponseInput = InputOf<typeof ListOffsetsResponse>
