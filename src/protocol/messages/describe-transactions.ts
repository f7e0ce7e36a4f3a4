// DescribeTransactions: the state of transactional ids at their coordinator.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const DescribeTransactionsRequest = message({
  name: 'DescribeTransactionsRequest',
  apiKey: 65,
  validVersions: '0',
  flexibleVersions: '0+',
  fields: {
    transactionalIds: field(t.array(t.string)),
  },
})

export const DescribeTransactionsResponse = message({
  name: 'DescribeTransactionsResponse',
  apiKey: 65,
  validVersions: '0',
  flexibleVersions: '0+',
  fields: {
    throttleTimeMs: field(t.int32),
    transactionStates: arrayField({
      errorCode: field(t.int16),
      transactionalId: field(t.string),
      transactionState: field(t.string),
      transactionTimeoutMs: field(t.int32),
      transactionStartTimeMs: field(t.int64),
      producerId: field(t.int64),
      producerEpoch: field(t.int16),
      topics: arrayField({
        topic: field(t.string),
        partitions: field(t.array(t.int32)),
      }),
    }),
  },
})

export type DescribeTransactionsRequestData = DecodedOf<typeof DescribeTransactionsRequest>
export type DescribeTransactionsRequestInput = InputOf<typeof DescribeTransactionsRequest>
export type DescribeTransactionsResponseData = DecodedOf<typeof DescribeTransactionsResponse>
export type DescribeTransactionsResponseInput = InputOf<typeof DescribeTransactionsResponse>
