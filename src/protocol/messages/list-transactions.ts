// ListTransactions: transactional ids known to a coordinator, filtered by state, producer and age.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const ListTransactionsRequest = message({
  name: 'ListTransactionsRequest',
  apiKey: 66,
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: {
    stateFilters: field(t.array(t.string)),
    producerIdFilters: field(t.array(t.int64)),
    durationFilter: field(t.int64, { v: '1+', default: -1 }),
  },
})

export const ListTransactionsResponse = message({
  name: 'ListTransactionsResponse',
  apiKey: 66,
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: {
    throttleTimeMs: field(t.int32),
    errorCode: field(t.int16),
    unknownStateFilters: field(t.array(t.string)),
    transactionStates: arrayField({
      transactionalId: field(t.string),
      producerId: field(t.int64),
      transactionState: field(t.string),
    }),
  },
})

export type ListTransactionsRequestData = DecodedOf<typeof ListTransactionsRequest>
export type ListTransactionsRequestInput = InputOf<typeof ListTransactionsRequest>
export type ListTransactionsResponseData = DecodedOf<typeof ListTransactionsResponse>
export type ListTransactionsResponseInput = InputOf<typeof ListTransactionsResponse>
