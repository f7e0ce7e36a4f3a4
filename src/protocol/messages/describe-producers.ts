// DescribeProducers: the active producers of partitions and their open transactions.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const DescribeProducersRequest = message({
  name: 'DescribeProducersRequest',
  apiKey: 61,
  validVersions: '0',
  flexibleVersions: '0+',
  fields: {
    topics: arrayField({
      name: field(t.string),
      partitionIndexes: field(t.array(t.int32)),
    }),
  },
})

export const DescribeProducersResponse = message({
  name: 'DescribeProducersResponse',
  apiKey: 61,
  validVersions: '0',
  flexibleVersions: '0+',
  fields: {
    throttleTimeMs: field(t.int32),
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        errorCode: field(t.int16),
        errorMessage: field(t.string, { nullable: '0+' }),
        activeProducers: arrayField({
          producerId: field(t.int64),
          producerEpoch: field(t.int32),
          lastSequence: field(t.int32, { default: -1 }),
          lastTimestamp: field(t.int64, { default: -1 }),
          coordinatorEpoch: field(t.int32),
          currentTxnStartOffset: field(t.int64, { default: -1 }),
        }),
      }),
    }),
  },
})

export type DescribeProducersRequestData = DecodedOf<typeof DescribeProducersRequest>
export type DescribeProducersRequestInput = InputOf<typeof DescribeProducersRequest>
export type DescribeProducersResponseData = DecodedOf<typeof DescribeProducersResponse>
export type DescribeProducersResponseInput = InputOf<typeof DescribeProducersResponse>
