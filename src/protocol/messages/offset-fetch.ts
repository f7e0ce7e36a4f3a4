// OffsetFetch: reads committed offsets of one group (v0-7) or several (v8+).

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const OffsetFetchRequest = message({
  name: 'OffsetFetchRequest',
  apiKey: 9,
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: {
    groupId: field(t.string, { v: '0-7' }),
    topics: arrayField({
      name: field(t.string, { v: '0-7' }),
      partitionIndexes: field(t.array(t.int32), { v: '0-7' }),
    }, { v: '0-7', nullable: '2-7', default: [] }),
    groups: arrayField({
      groupId: field(t.string, { v: '8+' }),
      memberId: field(t.string, { v: '9+', nullable: '9+' }),
      memberEpoch: field(t.int32, { v: '9+', default: -1 }),
      topics: arrayField({
        name: field(t.string, { v: '8+' }),
        partitionIndexes: field(t.array(t.int32), { v: '8+' }),
      }, { v: '8+', nullable: '8+', default: [] }),
    }, { v: '8+' }),
    requireStable: field(t.bool, { v: '7+' }),
  },
})

export const OffsetFetchResponse = message({
  name: 'OffsetFetchResponse',
  apiKey: 9,
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '3+' }),
    topics: arrayField({
      name: field(t.string, { v: '0-7' }),
      partitions: arrayField({
        partitionIndex: field(t.int32, { v: '0-7' }),
        committedOffset: field(t.int64, { v: '0-7' }),
        committedLeaderEpoch: field(t.int32, { v: '5-7', default: -1 }),
        metadata: field(t.string, { v: '0-7', nullable: '0-7', default: '' }),
        errorCode: field(t.int16, { v: '0-7' }),
      }, { v: '0-7' }),
    }, { v: '0-7' }),
    errorCode: field(t.int16, { v: '2-7' }),
    groups: arrayField({
      groupId: field(t.string, { v: '8+' }),
      topics: arrayField({
        name: field(t.string, { v: '8+' }),
        partitions: arrayField({
          partitionIndex: field(t.int32, { v: '8+' }),
          committedOffset: field(t.int64, { v: '8+' }),
          committedLeaderEpoch: field(t.int32, { v: '8+', default: -1 }),
          metadata: field(t.string, { v: '8+', nullable: '8+', default: '' }),
          errorCode: field(t.int16, { v: '8+' }),
        }, { v: '8+' }),
      }, { v: '8+' }),
      errorCode: field(t.int16, { v: '8+' }),
    }, { v: '8+' }),
  },
})

export type OffsetFetchRequestData = DecodedOf<typeof OffsetFetchRequest>
export type OffsetFetchRequestInput = InputOf<typeof OffsetFetchRequest>
export type OffsetFetchResponseData = DecodedOf<typeof OffsetFetchResponse>
export type OffsetFetchResponseInput = InputOf<typeof OffsetFetchResponse>
