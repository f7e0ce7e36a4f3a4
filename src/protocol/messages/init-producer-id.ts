// InitProducerId: hands out a producer id and epoch for idempotent and transactional producers.

import { field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const InitProducerIdRequest = message({
  name: 'InitProducerIdRequest',
  apiKey: 22,
  validVersions: '0-5',
  flexibleVersions: '2+',
  fields: {
    transactionalId: field(t.string, { nullable: '0+', default: '' }),
    transactionTimeoutMs: field(t.int32),
    producerId: field(t.int64, { v: '3+', default: -1 }),
    producerEpoch: field(t.int16, { v: '3+', default: -1 }),
  },
})

export const InitProducerIdResponse = message({
  name: 'InitProducerIdResponse',
  apiKey: 22,
  validVersions: '0-5',
  flexibleVersions: '2+',
  fields: {
    throttleTimeMs: field(t.int32),
    errorCode: field(t.int16),
    producerId: field(t.int64, { default: -1 }),
    producerEpoch: field(t.int16),
  },
})

export type InitProducerIdRequestData = DecodedOf<typeof InitProducerIdRequest>
export type InitProducerIdRequestInput = InputOf<typeof InitProducerIdRequest>
export type InitProducerIdResponseData = DecodedOf<typeof InitProducerIdResponse>
export type InitProducerIdResponseInput = InputOf<typeof InitProducerIdResponse>
