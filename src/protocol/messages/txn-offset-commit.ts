// TxnOffsetCommit: offsets committed as part of a transaction.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const TxnOffsetCommitRequest = message({
  name: 'TxnOffsetCommitRequest',
  apiKey: 28,
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: {
    transactionalId: field(t.string),
    groupId: field(t.string),
    producerId: field(t.int64),
    producerEpoch: field(t.int16),
    generationId: field(t.int32, { v: '3+', default: -1 }),
    memberId: field(t.string, { v: '3+' }),
    groupInstanceId: field(t.string, { v: '3+', nullable: '3+' }),
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        committedOffset: field(t.int64),
        committedLeaderEpoch: field(t.int32, { v: '2+', default: -1 }),
        committedMetadata: field(t.string, { nullable: '0+', default: '' }),
      }),
    }),
  },
})

export const TxnOffsetCommitResponse = message({
  name: 'TxnOffsetCommitResponse',
  apiKey: 28,
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: {
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

export type TxnOffsetCommitRequestData = DecodedOf<typeof TxnOffsetCommitRequest>
export type TxnOffsetCommitRequestInput = InputOf<typeof TxnOffsetCommitRequest>
export type TxnOffsetCommitResponseData = DecodedOf<typeof TxnOffsetCommitResponse>
export type TxnOffsetCommitResponseInput = InputOf<typeof TxnOffsetCommitResponse>
