// Produce: a producer appends record batches to partitions.

import { arrayField, field, message, structField, t, type DecodedOf, type InputOf } from '../schema.js'

export const ProduceRequest = message({
  name: 'ProduceRequest',
  apiKey: 0,
  validVersions: '0-11',
  flexibleVersions: '9+',
  fields: {
    transactionalId: field(t.string, { v: '3+', nullable: '3+' }),
    acks: field(t.int16),
    timeoutMs: field(t.int32),
    topicData: arrayField({
      name: field(t.string),
      partitionData: arrayField({
        index: field(t.int32),
        records: field(t.records, { nullable: '0+' }),
      }),
    }),
  },
})

export const ProduceResponse = message({
  name: 'ProduceResponse',
  apiKey: 0,
  validVersions: '0-11',
  flexibleVersions: '9+',
  fields: {
    responses: arrayField({
      name: field(t.string),
      partitionResponses: arrayField({
        index: field(t.int32),
        errorCode: field(t.int16),
        baseOffset: field(t.int64),
        logAppendTimeMs: field(t.int64, { v: '2+', default: -1 }),
        logStartOffset: field(t.int64, { v: '5+', default: -1 }),
        recordErrors: arrayField({
          batchIndex: field(t.int32, { v: '8+' }),
          batchIndexErrorMessage: field(t.string, { v: '8+', nullable: '8+' }),
        }, { v: '8+' }),
        errorMessage: field(t.string, { v: '8+', nullable: '8+' }),
        currentLeader: structField({
          leaderId: field(t.int32, { v: '10+', default: -1 }),
          leaderEpoch: field(t.int32, { v: '10+', default: -1 }),
        }, { v: '10+', tagged: '10+', tag: 0 }),
      }),
    }),
    throttleTimeMs: field(t.int32, { v: '1+' }),
    nodeEndpoints: arrayField({
      nodeId: field(t.int32, { v: '10+' }),
      host: field(t.string, { v: '10+' }),
      port: field(t.int32, { v: '10+' }),
      rack: field(t.string, { v: '10+', nullable: '10+' }),
    }, { v: '10+', tagged: '10+', tag: 0 }),
  },
})

export type ProduceRequestData = DecodedOf<typeof ProduceRequest>
export type ProduceRequestInput = InputOf<typeof ProduceRequest>
export type ProduceResponseData = DecodedOf<typeof ProduceResponse>
export type ProduceResponseInput = InputOf<typeof ProduceResponse>
