// OffsetCommit: a group commits consumed offsets.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const OffsetCommitRequest = message({
  name: 'OffsetCommitRequest',
  apiKey: 8,
  validVersions: '0-9',
  flexibleVersions: '8+',
  fields: {
    groupId: field(t.string),
    generationIdOrMemberEpoch: field(t.int32, { v: '1+', default: -1 }),
    memberId: field(t.string, { v: '1+' }),
    groupInstanceId: field(t.string, { v: '7+', nullable: '7+' }),
    retentionTimeMs: field(t.int64, { v: '2-4', default: -1 }),
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        committedOffset: field(t.int64),
        committedLeaderEpoch: field(t.int32, { v: '6+', default: -1 }),
        commitTimestamp: field(t.int64, { v: '1', default: -1 }),
        committedMetadata: field(t.string, { nullable: '0+', default: '' }),
      }),
    }),
  },
})

export const OffsetCommitResponse = message({
  name: 'OffsetCommitResponse',
  apiKey: 8,
  validVersions: '0-9',
  flexibleVersions: '8+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '3+' }),
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        errorCode: field(t.int16),
      }),
    }),
  },
})

export type OffsetCommitRequestData = DecodedOf<typeof OffsetCommitRequest>
export type OffsetCommitRequestInput = InputOf<typeof OffsetCommitRequest>
export type OffsetCommitResponseData = DecodedOf<typeof OffsetCommitResponse>
export type OffsetCommitResponseInput = InputOf<typeof OffsetCommitResponse>
