// AddOffsetsToTxn: a transaction will also commit offsets of a group.

import { field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const AddOffsetsToTxnRequest = message({
  name: 'AddOffsetsToTxnRequest',
  apiKey: 25,
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: {
    transactionalId: field(t.string),
    producerId: field(t.int64),
    producerEpoch: field(t.int16),
    groupId: field(t.string),
  },
})

export const AddOffsetsToTxnResponse = message({
  name: 'AddOffsetsToTxnResponse',
  apiKey: 25,
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: {
    throttleTimeMs: field(t.int32),
    errorCode: field(t.int16),
  },
})

export type AddOffsetsToTxnRequestData = DecodedOf<typeof AddOffsetsToTxnRequest>
export type AddOffsetsToTxnRequestInput = InputOf<typeof AddOffsetsToTxnRequest>
export type AddOffsetsToTxnResponseData = DecodedOf<typeof AddOffsetsToTxnResponse>
export type AddOffsetsToTxnResponseInput = InputOf<typeof AddOffsetsToTxnResponse>
