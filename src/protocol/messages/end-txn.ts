// EndTxn: commits or aborts a transaction.

import { field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const EndTxnRequest = message({
  name: 'EndTxnRequest',
  apiKey: 26,
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: {
    transactionalId: field(t.string),
    producerId: field(t.int64),
    producerEpoch: field(t.int16),
    committed: field(t.bool),
  },
})

export const EndTxnResponse = message({
  name: 'EndTxnResponse',
  apiKey: 26,
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: {
    throttleTimeMs: field(t.int32),
    errorCode: field(t.int16),
    producerId: field(t.int64, { v: '5+', default: -1 }),
    producerEpoch: field(t.int16, { v: '5+', default: -1 }),
  },
})

export type EndTxnRequestData = DecodedOf<typeof EndTxnRequest>
export type EndTxnRequestInput = InputOf<typeof EndTxnRequest>
export type EndTxnResponseData = DecodedOf<typeof EndTxnResponse>
export type EndTxnResponseInput = InputOf<typeof EndTxnResponse>
