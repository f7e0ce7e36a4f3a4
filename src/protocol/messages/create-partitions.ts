// CreatePartitions: raises the partition count of existing topics.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const CreatePartitionsRequest = message({
  name: 'CreatePartitionsRequest',
  apiKey: 37,
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: {
    topics: arrayField({
      name: field(t.string),
      count: field(t.int32),
      assignments: arrayField({
        brokerIds: field(t.array(t.int32)),
      }, { nullable: '0+', default: [] }),
    }),
    timeoutMs: field(t.int32),
    validateOnly: field(t.bool),
  },
})

export const CreatePartitionsResponse = message({
  name: 'CreatePartitionsResponse',
  apiKey: 37,
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: {
    throttleTimeMs: field(t.int32),
    results: arrayField({
      name: field(t.string),
      errorCode: field(t.int16),
      errorMessage: field(t.string, { nullable: '0+' }),
    }),
  },
})

export type CreatePartitionsRequestData = DecodedOf<typeof CreatePartitionsRequest>
export type CreatePartitionsRequestInput = InputOf<typeof CreatePartitionsRequest>
export type CreatePartitionsResponseData = DecodedOf<typeof CreatePartitionsResponse>
export type CreatePartitionsResponseInput = InputOf<typeof CreatePartitionsResponse>
